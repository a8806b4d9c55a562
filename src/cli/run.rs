//! Runs the subcommand `args` parsed: what each one does.

use std::{net::SocketAddr, path::Path, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    application::{Application, StartupError},
    cli::args::{Cli, Command, HealthcheckArgs, SeedArgs, ServeArgs, TableArgs},
    http,
    repository::{self, BookRepository, StoreError, migrate, seed},
    server, telemetry,
};

/// Why a command failed; printed as one line by `main`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// DynamoDB refused or could not be reached.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The seed file is unreadable or invalid.
    #[error("seed file {path}: {reason}")]
    SeedFile {
        /// The file, or "the tutorial's books".
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The service could not start.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// Serving failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// `recount` could not correct every count.
    #[error(
        "{0} counts changed while recount ran (writes in progress); run it again when writes are quiet"
    )]
    Raced(usize),
    /// The health check failed.
    #[error("unhealthy: {0}")]
    Unhealthy(String),
    /// The OpenTelemetry settings are invalid.
    #[error(transparent)]
    Tracing(#[from] telemetry::otel::TracingError),
}

/// Runs one command to completion.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(args) => migrate(args).await,
        Command::Recount(args) => recount(args).await,
        Command::Seed(args) => seed(args).await,
        Command::Openapi => {
            println!("{}", http::docs::openapi_json());
            Ok(())
        }
        Command::Healthcheck(args) => healthcheck(args).await,
    }
}

async fn repository(table: &TableArgs) -> Result<BookRepository, CliError> {
    let sdk = repository::load_sdk_config().await;
    Ok(BookRepository::new(
        repository::build_client(&sdk),
        table.table.as_str(),
    ))
}

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    let traces = telemetry::init_logging_and_tracing()?;
    let sdk = repository::load_sdk_config().await;
    let app = Application::build(&args, repository::build_client(&sdk)).await?;
    let served = app.run_until_stopped(server::shutdown_signal()).await;
    // Flushed on an error exit too: the spans of what led to it are the ones worth having.
    if let Some(traces) = traces {
        traces.shutdown().await;
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}

async fn migrate(args: TableArgs) -> Result<(), CliError> {
    telemetry::init_logging();
    let repo = repository(&args).await?;
    let report = migrate::run(repo.client(), repo.table()).await?;
    tracing::info!(applied = ?report.applied, already_applied = ?report.skipped, table = repo.table(), "migrations done");
    Ok(())
}

/// Prints each correction on its own line, then a summary. No logging is set up: a failure is
/// the one line `main` prints.
async fn recount(args: TableArgs) -> Result<(), CliError> {
    let repo = repository(&args).await?;
    let report = repository::recount(repo.client(), repo.table()).await?;
    for fix in &report.fixes {
        let from = fix.from.map_or("none".to_owned(), |n| n.to_string());
        let to = match fix.to {
            0 => "0 (removed)".to_owned(),
            n => n.to_string(),
        };
        println!("{} {:?}: {from} -> {to}", fix.kind.as_str(), fix.name);
    }
    let uncounted = match report.uncounted {
        0 => String::new(),
        n => format!(
            " ({n} with an author or category that fails the name rules, not counted under it)"
        ),
    };
    println!(
        "recount: {} books in {}{uncounted}; {} counts corrected",
        report.books,
        repo.table(),
        report.fixes.len()
    );
    if report.raced.is_empty() {
        Ok(())
    } else {
        Err(CliError::Raced(report.raced.len()))
    }
}

async fn seed(args: SeedArgs) -> Result<(), CliError> {
    telemetry::init_logging();
    let (source, text) = match &args.file {
        None => (
            "the tutorial's books".to_owned(),
            seed::TUTORIAL_BOOKS.to_owned(),
        ),
        Some(path) => (path.display().to_string(), read(path)?),
    };
    let books = seed::parse_books(&text).map_err(|e| CliError::SeedFile {
        path: source.clone(),
        reason: e.to_string(),
    })?;
    let repo = repository(&args.table).await?;
    let report = repo.seed(&books).await?;
    tracing::info!(
        created = report.created,
        kept = report.kept,
        source,
        table = repo.table(),
        "seeded (books that already existed were kept as they are)"
    );
    Ok(())
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::SeedFile {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// GETs `/health/live` on the local port with a bare HTTP/1.0 request: the container has no
/// shell or curl, and this needs no HTTP client dependency.
async fn healthcheck(args: HealthcheckArgs) -> Result<(), CliError> {
    let target = SocketAddr::from(([127, 0, 0, 1], args.addr.port()));
    let check = async {
        let mut stream = TcpStream::connect(target).await?;
        stream
            .write_all(b"GET /health/live HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await?;
        Ok::<_, std::io::Error>(head)
    };
    let head = tokio::time::timeout(Duration::from_secs(3), check)
        .await
        .map_err(|_| CliError::Unhealthy(format!("{target} did not answer within 3 s")))?
        .map_err(|e| CliError::Unhealthy(format!("{target}: {e}")))?;
    if head.starts_with(b"HTTP/1.") && &head[9..12] == b"200" {
        Ok(())
    } else {
        Err(CliError::Unhealthy(format!(
            "{target} answered '{}'",
            String::from_utf8_lossy(&head)
        )))
    }
}
