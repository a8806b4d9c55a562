//! Running the HTTP server: bind, serve, and drain on SIGTERM or Ctrl-C.

use std::{future::Future, sync::Arc, time::Duration};

use axum::Router;
use tokio::{net::TcpListener, sync::Notify};

/// How long in-flight requests may take to finish after a shutdown signal. ECS waits 30 s
/// (`stopTimeout`) before SIGKILL; this stays well inside it.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting connections and
/// lets in-flight requests finish for at most [`DRAIN_TIMEOUT`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let draining = Arc::new(Notify::new());
    let notify = draining.clone();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutdown signal received, draining in-flight requests");
        notify.notify_one();
    });
    tokio::select! {
        result = server => result,
        () = async {
            draining.notified().await;
            tokio::time::sleep(DRAIN_TIMEOUT).await;
        } => {
            tracing::warn!(timeout_s = DRAIN_TIMEOUT.as_secs(), "drain timed out; exiting with requests in flight");
            Ok(())
        }
    }
}

/// Resolves on SIGTERM (how ECS stops a task) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
