//! Cross-cutting request handling: deadline, metrics, access log spans and panics.

use std::time::{Duration, Instant};

use axum::{
    extract::{MatchedPath, Request},
    http::HeaderName,
    middleware::Next,
    response::{IntoResponse, Response},
};
use tracing::Span;

use super::problem::ApiError;

/// The request-id header, taken from the caller or generated.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

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

/// Middleware: counts and times every request by method, route template and status.
pub async fn record_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = route_of(&request);
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
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
        method = %request.method(),
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
