//! Cross-cutting request handling: request ids, security headers, deadline, metrics, access log
//! spans and panics.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderName, HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::sync::Semaphore;
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

/// Longest a request may take; beyond it the client gets a 503 rather than a hang. Longer than the
/// DynamoDB client's own operation timeout, so that one normally answers first.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(6);

/// Middleware: answers 503 when a request runs past [`REQUEST_DEADLINE`].
pub async fn deadline(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_DEADLINE, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!("request ran past its deadline");
            ApiError::Unavailable.into_response()
        }
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
        return ApiError::Unavailable.into_response();
    };
    next.run(request).await
}

/// Middleware: counts and times every request by method, route template and status.
pub async fn record_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = route_of(&request);
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
fn route_of(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned())
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
        route = %route_of(request),
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
