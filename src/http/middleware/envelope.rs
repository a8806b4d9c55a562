//! The outermost middleware: everything every request gets on its way in and out.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::Response,
};
use tracing::Instrument as _;

use crate::{auth_policy::Principal, http::problem::FailureCause};

use super::{
    request_id::{self, REQUEST_ID},
    request_metrics::{RequestMetrics, method_label},
};
use crate::telemetry::otel;

/// The `route` of a request no route matched.
const UNMATCHED: &str = "unmatched";

/// The CSP of the documentation page: everything from the service's own origin, nothing from
/// anywhere else. Swagger UI sets inline styles and uses `data:` SVG icons, hence those two.
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                        object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'";

/// Logs why a request failed with a 5xx, once, in the request's span: the repository's error and
/// its sources, when the response carries one (`FailureCause`). A failure without one (a
/// deadline, a panic, shedding) was logged where it happened, with what it knew.
fn log_failure(span: &tracing::Span, response: &Response) {
    let status = response.status();
    if !status.is_server_error() {
        return;
    }
    let cause = response
        .extensions()
        .get::<FailureCause>()
        .map(tracing::field::display);
    // Without a cause, the failure (a deadline, a panic, shedding) was logged where it happened.
    if cause.is_none() {
        return;
    }
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(parent: span, error = cause, "request failed with an internal error");
    } else {
        tracing::warn!(parent: span, error = cause, "request failed: DynamoDB unavailable");
    }
}

/// Middleware: gives the request its id and runs it in a `request` span (request id, method,
/// route), so every log line it causes carries them. When traces are on, that span is also the
/// request's OpenTelemetry server span ([`otel::server_span`]). On the way out it sets `X-Request-Id` and
/// the security headers, counts and times the request, and writes its access-log line.
///
/// One middleware rather than six layers, so that what every request gets is read in one place.
/// It was expected to save CPU (each layer boxed a future and cloned its inner service per
/// request), but BENCHMARKS.md measured 0.99x of the six layers' CPU per GET and 0.97x per author
/// page, inside that run's noise: it is kept for the reading, not for speed. Those six layers were
/// tower-http's `SetRequestId`, `PropagateRequestId` and `TraceLayer` beside three hand-written
/// ones, because what the crates cannot express stays hand-written either way: the request-id rule
/// (request_id.rs), the route-labelled metrics and `no-store` on writes (both need the request's
/// method and route when the response is out, which `TraceLayer`'s `on_response` and
/// `SetResponseHeader` are not given).
///
/// Security headers: `nosniff` on every response, a same-origin CSP on `/docs`, and `no-store`
/// on every write response (errors included), so that no cache ever replays a write's answer.
pub(crate) async fn envelope(
    State(metrics): State<RequestMetrics>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request_id::assign(request.headers_mut());
    let method = method_label(request.method());
    // The route template, never the raw path: raw paths would give metrics unbounded cardinality
    // and put user data in logs.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    let is_write = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let path = request.uri().path();
    let is_docs = path == "/docs" || path.starts_with("/docs/");
    let request_id = id.to_str().unwrap_or_default();
    let span = if otel::enabled() {
        let template = (route != UNMATCHED).then_some(route);
        otel::server_span(request.headers(), request_id, method, template)
    } else {
        tracing::info_span!("request", request_id, method, route)
    };

    let mut response = next.run(request).instrument(span.clone()).await;

    let headers = response.headers_mut();
    if !headers.contains_key(REQUEST_ID) {
        headers.insert(REQUEST_ID, id);
    }
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
    if otel::enabled() {
        otel::record_response(&span, response.status());
    }
    let took = started.elapsed();
    metrics.record(method, route, response.status(), took);
    log_failure(&span, &response);
    // Set by the write guard: who wrote, never their token.
    let principal = response
        .extensions()
        .get::<Principal>()
        .map(tracing::field::display);
    tracing::info!(
        parent: &span,
        status = response.status().as_u16(),
        principal,
        latency_ms = took.as_secs_f64() * 1000.0,
        "request finished"
    );
    response
}
