//! Cross-cutting request handling: request ids, security headers, deadline, metrics, access log
//! spans and panics.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::{
    body::{Body, Bytes, HttpBody as _},
    extract::{MatchedPath, Request, State},
    http::{HeaderName, HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::sync::{Notify, Semaphore};
use tracing::Span;

use super::problem::ApiError;

/// The request-id header, taken from the caller or generated.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest caller-supplied request id kept; longer ones are replaced.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Whether a caller's request id is safe to echo and log: 1 to [`MAX_REQUEST_ID_LEN`] characters
/// of `[A-Za-z0-9._:-]`. Anything else (spaces, quotes, kilobytes) could forge or bloat log lines.
pub fn is_acceptable_request_id(value: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&value.len())
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Middleware: drops a caller's `X-Request-Id` that is not acceptable (or is repeated), so that
/// `SetRequestIdLayer`, which runs next, generates a fresh one.
pub async fn sanitize_request_id(mut request: Request, next: Next) -> Response {
    let mut given = request.headers().get_all(REQUEST_ID).iter();
    let keep = match (given.next(), given.next()) {
        (None, _) => true,
        (Some(value), None) => is_acceptable_request_id(value.as_bytes()),
        (Some(_), Some(_)) => false,
    };
    if !keep {
        request.headers_mut().remove(REQUEST_ID);
    }
    next.run(request).await
}

/// The CSP of the documentation page: everything from the service's own origin, nothing from
/// anywhere else. Swagger UI sets inline styles and uses `data:` SVG icons, hence those two.
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                        object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'";

/// Middleware: `nosniff` on every response, a same-origin CSP on `/docs`, and `no-store` on
/// every write response (errors included), so that no cache ever replays a write's answer.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let is_write = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let path = request.uri().path();
    let is_docs = path == "/docs" || path.starts_with("/docs/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if is_docs {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DOCS_CSP),
        );
    }
    if is_write {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Longest a request may take once its body is in; beyond it the client gets a 503 rather than a
/// hang. Longer than the DynamoDB client's own operation timeout, so that one normally answers
/// first.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(6);

/// Longest a client may take to send a request body, from the start of the request; beyond it
/// the answer is a 408. Separate from [`REQUEST_DEADLINE`]: a slow upload is the client's delay,
/// not the service's, and must neither use up the work's time nor be reported as a 503.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Middleware: answers 408 when the body takes longer than [`BODY_READ_TIMEOUT`] to arrive, and
/// 503 when the work runs past [`REQUEST_DEADLINE`], counted from when the body was read (or from
/// the start, for requests whose body is never read).
pub async fn deadline(request: Request, next: Next) -> Response {
    // Most requests (GET, HEAD, DELETE) have no body: the work's deadline runs from now, and
    // none of the tracking below is needed on that hot path.
    if request.body().is_end_stream() {
        return tokio::time::timeout(REQUEST_DEADLINE, next.run(request))
            .await
            .unwrap_or_else(|_| past_deadline());
    }
    let started = tokio::time::Instant::now();
    let upload = Arc::new(Upload::default());
    let request = request.map(|body| {
        Body::new(TrackedBody {
            body,
            upload: upload.clone(),
        })
    });
    let work = next.run(request);
    tokio::pin!(work);
    loop {
        let (at, expired) = upload.deadline(started);
        tokio::select! {
            response = &mut work => return response,
            () = upload.changed.notified() => {}
            () = tokio::time::sleep_until(at) => {
                if upload.deadline(started).0 > at {
                    continue;
                }
                return match expired {
                    Expired::Work => past_deadline(),
                    Expired::Upload => {
                        tracing::info!("request body not received in time");
                        ApiError::RequestTimeout(BODY_READ_TIMEOUT.as_secs()).into_response()
                    }
                };
            }
        }
    }
}

/// The 503 for a request whose work ran past [`REQUEST_DEADLINE`].
fn past_deadline() -> Response {
    tracing::warn!("request ran past its deadline");
    ApiError::Unavailable.into_response()
}

/// How far the request body has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// Nothing asked for it (yet).
    NotRead,
    /// Being read.
    Reading,
    /// Read to the end (or failed) at this instant.
    Read(tokio::time::Instant),
}

/// Which deadline fired.
#[derive(Debug, Clone, Copy)]
enum Expired {
    Work,
    Upload,
}

/// The body's progress, shared by the body and the [`deadline`] middleware.
#[derive(Debug)]
struct Upload {
    progress: std::sync::Mutex<Progress>,
    changed: Notify,
}

impl Default for Upload {
    fn default() -> Self {
        Self {
            progress: std::sync::Mutex::new(Progress::NotRead),
            changed: Notify::new(),
        }
    }
}

impl Upload {
    fn progress(&self) -> Progress {
        *self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, next: Progress) {
        let mut progress = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        // Only forward: a body read to the end stays read.
        let moved_on = matches!(
            (*progress, next),
            (Progress::NotRead, Progress::Reading | Progress::Read(_))
                | (Progress::Reading, Progress::Read(_))
        );
        if moved_on {
            *progress = next;
            self.changed.notify_one();
        }
    }

    fn deadline(&self, started: tokio::time::Instant) -> (tokio::time::Instant, Expired) {
        match self.progress() {
            Progress::NotRead => (started + REQUEST_DEADLINE, Expired::Work),
            Progress::Reading => (started + BODY_READ_TIMEOUT, Expired::Upload),
            Progress::Read(at) => (at + REQUEST_DEADLINE, Expired::Work),
        }
    }
}

/// A request body that reports its progress to the [`deadline`] middleware.
struct TrackedBody {
    body: Body,
    upload: Arc<Upload>,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.body).poll_frame(cx);
        let done = match &poll {
            Poll::Ready(None | Some(Err(_))) => true,
            Poll::Ready(Some(Ok(_))) => this.body.is_end_stream(),
            Poll::Pending => false,
        };
        this.upload.set(if done {
            Progress::Read(tokio::time::Instant::now())
        } else {
            Progress::Reading
        });
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The cap on requests handled at once.
#[derive(Debug, Clone)]
pub struct InFlight(Arc<Semaphore>);

impl InFlight {
    /// A cap of `max` requests.
    pub fn new(max: usize) -> Self {
        Self(Arc::new(Semaphore::new(max)))
    }
}

/// Middleware: past the in-flight cap, answers 503 with `Retry-After` at once. Queueing instead
/// would only grow memory and latency until every request times out; an immediate 503 lets the
/// client or load balancer retry elsewhere. Health probes bypass the cap: a busy task is alive
/// and serving, and failing its probes would have ECS or the ALB take it away when most needed.
pub async fn shed_load(State(cap): State<InFlight>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/health/") {
        return next.run(request).await;
    }
    let Ok(_permit) = cap.0.try_acquire() else {
        tracing::debug!("in-flight cap reached; request shed");
        return ApiError::Overloaded.into_response();
    };
    next.run(request).await
}

/// Middleware: counts and times every request by method, route template and status.
pub async fn record_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = route_of(&request).to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [
        ("method", method.to_owned()),
        ("route", route),
        ("status", status),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The method as a metrics label: HTTP allows any token as a method, and each new label value
/// would be a new time series kept forever, so the non-standard ones share `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The route template (`/books/{author}/{title}`), never the raw path: raw paths would give
/// metrics unbounded cardinality and put user data in logs.
fn route_of(request: &Request) -> &str {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
}

/// The span every log line of a request is written in.
pub fn request_span(request: &Request) -> Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        request_id,
        // Bounded like the metrics label: a made-up method can be as long as the request line.
        method = method_label(request.method()),
        route = route_of(request),
    )
}

/// Writes the access-log line when a response is ready.
pub fn log_response(response: &Response, latency: Duration, _span: &Span) {
    tracing::info!(
        status = response.status().as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        "request finished"
    );
}

/// Turns a panic into a generic 500 problem; the panic is logged, never sent.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::Internal.into_response()
}
