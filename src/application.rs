//! The service assembled from its settings: what `bookstore serve` runs, and what the tests start.
//!
//! `main` and the test harness both go through [`Application::build`], so a test exercises the
//! same auth policy, CORS, limits, middleware and sockets as production; the only thing a caller
//! chooses is the DynamoDB client (production reads the standard AWS configuration, a test points
//! at its engine).

use std::{future::Future, io, net::SocketAddr};

use axum::Router;
use tokio::net::TcpListener;

use crate::{
    auth_policy::AuthPolicy,
    cli::args::{ConfigError, ServeArgs},
    http::{self, AppState},
    repository::BookRepository,
    server::{self, ConnectionLimits},
    telemetry,
};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The settings do not go together.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why the operating system refused.
        #[source]
        source: io::Error,
    },
}

/// The service, built and bound, ready to run.
pub struct Application {
    listener: TcpListener,
    router: Router,
    /// `/metrics` on an address of its own, when one is set.
    metrics: Option<(TcpListener, Router)>,
    limits: ConnectionLimits,
    state: AppState,
}

impl Application {
    /// Checks the settings, assembles the routes over `client`, and binds the sockets, so a bad
    /// setting or a taken address stops start-up instead of failing later.
    pub async fn build(
        settings: &ServeArgs,
        client: aws_sdk_dynamodb::Client,
    ) -> Result<Self, StartupError> {
        let auth = settings.auth_policy()?;
        if matches!(auth, AuthPolicy::Open) {
            tracing::warn!(
                "BOOKSTORE_AUTH=none: anyone can write. Use this for local development only"
            );
        }
        let repo = BookRepository::new(client, settings.table.table.as_str());
        let state = AppState::new(repo, auth, telemetry::metrics_handle());
        let router = http::app_with(
            state.clone(),
            &settings.cors_origins(),
            &settings.http_options(),
        );
        let listener = bind(settings.addr).await?;
        let metrics = match settings.metrics_addr {
            Some(addr) => Some((bind(addr).await?, http::metrics_app(state.clone()))),
            None => None,
        };
        Ok(Self {
            listener,
            router,
            metrics,
            limits: settings.connection_limits(),
            state,
        })
    }

    /// Where the API listens (the port the operating system chose, for `:0`).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The routes and middleware, as a tower service that can be called without a socket.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// The Books table the service serves, for callers that arrange or inspect its state.
    pub fn repository(&self) -> &BookRepository {
        &self.state.repo
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests (see [`server`]).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        tracing::info!(addr = %self.local_addr()?, table = self.state.repo.table(), "listening");
        if let Some((listener, router)) = self.metrics {
            tracing::info!(addr = %listener.local_addr()?, "serving /metrics");
            // Internal scrapes only; it stops with the process.
            tokio::spawn(server::serve_with(
                listener,
                router,
                std::future::pending(),
                self.limits,
            ));
        }
        server::serve_with(self.listener, self.router, shutdown, self.limits).await
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartupError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartupError::Bind { addr, source })
}
