//! The outermost middleware: everything every request gets on its way in and out.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderValue, Method, header},
    middleware::Next,
    response::Response,
};
use tracing::Instrument as _;

use crate::auth_policy::Principal;

use super::{
    request_id::{self, REQUEST_ID},
    request_metrics::{RequestMetrics, method_label},
};

/// The CSP of the documentation page: everything from the service's own origin, nothing from
/// anywhere else. Swagger UI sets inline styles and uses `data:` SVG icons, hence those two.
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                        object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'";

/// Middleware: gives the request its id and runs it in a `request` span (request id, method,
/// route), so every log line it causes carries them. On the way out it sets `X-Request-Id` and
/// the security headers, counts and times the request, and writes its access-log line.
///
/// One middleware rather than six layers: each layer boxed a future and cloned its inner service
/// per request, and that was a measurable share of a GET's CPU (BENCHMARKS.md).
///
/// Security headers: `nosniff` on every response, a same-origin CSP on `/docs`, and `no-store`
/// on every write response (errors included), so that no cache ever replays a write's answer.
pub async fn envelope(
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
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let is_write = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let path = request.uri().path();
    let is_docs = path == "/docs" || path.starts_with("/docs/");
    let span = tracing::info_span!(
        "request",
        request_id = id.to_str().unwrap_or_default(),
        method,
        route,
    );

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
    let took = started.elapsed();
    metrics.record(method, route, response.status(), took);
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
