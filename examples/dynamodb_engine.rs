//! The local DynamoDB engine: dynoxide (crates.io `dynoxide-rs`, SQLite-backed) serving the
//! DynamoDB JSON API, for the local run, the benchmark, the engine image and the tests that need
//! the engine in a process of its own (the fault-and-load test pauses and kills it).
//!
//! ```text
//! cargo run --example dynamodb_engine -- --port 8000 [--host 127.0.0.1] [--db-path FILE]
//! cargo run --example dynamodb_engine -- healthcheck --port 8000
//! ```
//!
//! It is dynoxide's own server (`dynoxide::server`) behind the two commands of dynoxide's CLI
//! that this project uses, with the same flags, so `deploy/engine.Dockerfile` can take either
//! binary. It is an example of this package rather than a `cargo install` of dynoxide because
//! the tests already build dynoxide as a dev-dependency: one build serves both.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::PathBuf,
    process::ExitCode,
    time::Duration,
};

use clap::{Parser, Subcommand};

/// dynoxide, serving the DynamoDB API on one address.
#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on.
    #[arg(short, long, default_value_t = 8000)]
    port: u16,
    /// SQLite file that keeps the tables across restarts (in memory without it).
    #[arg(long)]
    db_path: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Exits 0 when an engine answers on the port (the image has no shell or curl).
    Healthcheck {
        /// Port to probe on 127.0.0.1.
        #[arg(long, default_value_t = 8000)]
        port: u16,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Healthcheck { port }) => healthcheck(port),
        None => serve(&cli.host, cli.port, cli.db_path),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dynamodb_engine: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(host: &str, port: u16, db_path: Option<PathBuf>) -> Result<(), String> {
    let db = match &db_path {
        Some(path) => {
            let path = path.to_str().ok_or("--db-path must be valid UTF-8")?;
            dynoxide::Database::new(path)
        }
        None => dynoxide::Database::memory(),
    }
    .map_err(|e| format!("cannot open the database: {e}"))?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?
        .block_on(dynoxide::server::start(host, port, db))
}

/// A bare `GET /` (dynoxide's health answer) with a 3 s bound.
fn healthcheck(port: u16) -> Result<(), String> {
    let timeout = Duration::from_secs(3);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .map_err(|e| format!("{addr}: {e}"))?;
    let mut head = [0u8; 12];
    stream
        .read_exact(&mut head)
        .map_err(|e| format!("{addr}: {e}"))?;
    if head.starts_with(b"HTTP/1.") && &head[9..12] == b"200" {
        Ok(())
    } else {
        Err(format!(
            "{addr} answered '{}'",
            String::from_utf8_lossy(&head)
        ))
    }
}
