//! Cross-cutting request handling, in two middlewares around the routes: [`envelope`] (request
//! id, log span and access log, security headers, metrics) outside compression and CORS, and
//! [`admit`] (deadlines, problem `instance`) inside them; plus the panic handler. Load shedding is
//! tower's, on the routes (`http::app_with`).

mod admission;
mod deadline;
mod envelope;
mod request_id;
mod request_metrics;

use axum::response::{IntoResponse, Response};

pub(super) use admission::admit;
pub use deadline::{BODY_READ_TIMEOUT, REQUEST_DEADLINE};
pub(super) use envelope::envelope;
pub(super) use request_metrics::RequestMetrics;

use super::problem::ApiError;

/// Turns a panic into a generic 500 problem; the panic is logged, never sent.
pub(super) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::Internal(None).into_response()
}
