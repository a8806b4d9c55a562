//! Running the HTTP server: bind, serve with connection timeouts, and drain on SIGTERM or Ctrl-C.
//!
//! `axum::serve` has no header-read or idle timeout, so a client that sends half its headers
//! holds a connection (and its memory) forever. This serves with hyper-util directly and puts a
//! small timer in front of each connection's reads:
//!
//! - until a request's headers are complete, the client has [`ConnectionLimits::header_read_timeout`]
//!   from its first byte (or from accepting the connection, for the first request);
//! - between requests on a keep-alive connection, it may stay silent for
//!   [`ConnectionLimits::idle_timeout`];
//! - while a request is being handled and its response sent, neither applies (the request
//!   deadline and body-read timeout in `http::middleware` do).
//!
//! hyper's own `header_read_timeout` is not used: in hyper 1.x its timer also starts while a
//! keep-alive connection waits for the next request, so the idle timeout could never be longer
//! than the header-read one, and it must be: the ALB keeps idle connections to targets for 60 s
//! and expects the target to keep them longer, or it sends requests into closing connections (502s).

use std::{
    convert::Infallible,
    future::Future,
    io,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll, Waker, ready},
    time::Duration,
};

use axum::{Router, body::Body, extract::Request};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::{conn::auto, graceful::GracefulShutdown},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    time::{Instant, Sleep},
};

/// How long in-flight requests may take to finish after a shutdown signal. ECS waits 30 s
/// (`stopTimeout`) before SIGKILL; this stays well inside it.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Default of [`ConnectionLimits::header_read_timeout`] (`BOOKSTORE_HEADER_READ_TIMEOUT_SECS`).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of [`ConnectionLimits::idle_timeout`] (`BOOKSTORE_IDLE_TIMEOUT_SECS`): longer than the
/// ALB's 60 s, so the load balancer closes idle connections first.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(75);

/// Per-connection timeouts against slow or idle clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Longest a client may take to send a request's headers.
    pub header_read_timeout: Duration,
    /// Longest a keep-alive connection may stay silent between requests.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting connections and
/// lets in-flight requests finish for at most [`DRAIN_TIMEOUT`].
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: ConnectionLimits,
) -> io::Result<()> {
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let activity = Arc::new(Activity::new(limits));
        let io = TokioIo::new(TimedStream::new(stream, activity.clone()));
        let app = app.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let guard = activity.request_started();
            let mut app = app.clone();
            async move {
                let response = tower::Service::call(&mut app, request.map(Body::new)).await?;
                Ok::<_, Infallible>(response.map(|body| {
                    Body::new(Guarded {
                        body,
                        _guard: guard,
                    })
                }))
            }
        });
        let connection = builder
            .serve_connection_with_upgrades(io, service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                // Timeouts and clients hanging up land here; they are routine.
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutdown signal received, draining in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!(timeout_s = DRAIN_TIMEOUT.as_secs(), "drain timed out; exiting with requests in flight");
        }
    }
    Ok(())
}

/// After a failed accept: per-connection errors are the client's problem; anything else (out of
/// file descriptors) would fail again at once, so wait a moment instead of spinning.
async fn accept_failed(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// What one connection is doing, shared by its reads and its requests.
#[derive(Debug)]
struct Activity {
    limits: ConnectionLimits,
    state: Mutex<Phase>,
}

#[derive(Debug)]
struct Phase {
    /// Requests handled or being answered right now (several with HTTP/2).
    in_flight: usize,
    /// When the current request's head started to arrive, if one is arriving.
    head_since: Option<Instant>,
    /// When the connection last became idle.
    idle_since: Instant,
    /// The connection's task, parked on a read while no deadline applied. Woken when the last
    /// request finishes, so that its read is polled again and the idle timer gets armed: hyper
    /// does not always poll the read side again after writing a response.
    parked: Option<Waker>,
}

impl Activity {
    fn new(limits: ConnectionLimits) -> Self {
        let now = Instant::now();
        // A new connection owes its first request's headers within the header-read timeout.
        Self {
            limits,
            state: Mutex::new(Phase {
                in_flight: 0,
                head_since: Some(now),
                idle_since: now,
                parked: None,
            }),
        }
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes arrived; between requests they are the start of the next request's head.
    /// (Bytes that arrive while a request is in flight, such as a pipelined next request, are not
    /// seen as a head: that request then has the idle timeout, still a bound.)
    fn bytes_read(&self) {
        let mut phase = self.phase();
        if phase.in_flight == 0 && phase.head_since.is_none() {
            phase.head_since = Some(Instant::now());
        }
    }

    fn request_started(self: &Arc<Self>) -> RequestGuard {
        let mut phase = self.phase();
        phase.in_flight += 1;
        phase.head_since = None;
        RequestGuard(self.clone())
    }

    /// When the connection must be closed if nothing more happens, and why; `None` (and the
    /// waker kept) while a request is in flight.
    fn deadline(&self, waker: &Waker) -> Option<(Instant, &'static str)> {
        let mut phase = self.phase();
        if phase.in_flight > 0 {
            phase.parked = Some(waker.clone());
            None
        } else if let Some(since) = phase.head_since {
            Some((
                since + self.limits.header_read_timeout,
                "request headers not received in time",
            ))
        } else {
            Some((
                phase.idle_since + self.limits.idle_timeout,
                "idle keep-alive connection",
            ))
        }
    }
}

/// Held from the moment hyper hands over a request until its response body is sent or dropped.
#[derive(Debug)]
struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let mut phase = self.0.phase();
        phase.in_flight -= 1;
        phase.idle_since = Instant::now();
        if phase.in_flight == 0
            && let Some(waker) = phase.parked.take()
        {
            waker.wake();
        }
    }
}

/// A response body that keeps its request counted as in flight until it is done.
struct Guarded {
    body: Body,
    _guard: RequestGuard,
}

impl http_body::Body for Guarded {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A TCP stream whose reads fail with `TimedOut` once the connection's deadline has passed.
struct TimedStream {
    stream: TcpStream,
    activity: Arc<Activity>,
    timer: Pin<Box<Sleep>>,
    armed_for: Option<Instant>,
}

impl TimedStream {
    fn new(stream: TcpStream, activity: Arc<Activity>) -> Self {
        Self {
            stream,
            activity,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            armed_for: None,
        }
    }
}

impl AsyncRead for TimedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let Some((deadline, why)) = this.activity.deadline(cx.waker()) else {
            this.armed_for = None;
            return Pin::new(&mut this.stream).poll_read(cx, buf);
        };
        // Checked before reading, so a client trickling one byte at a time cannot outlast it.
        if Instant::now() >= deadline {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, why)));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.activity.bytes_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if this.armed_for != Some(deadline) {
                    this.timer.as_mut().reset(deadline);
                    this.armed_for = Some(deadline);
                }
                ready!(this.timer.as_mut().poll(cx));
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, why)))
            }
        }
    }
}

impl AsyncWrite for TimedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
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
