//! The inner middleware: whether a request is taken on, how long it may run, and the `instance`
//! of the problem it may end in.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::sync::Semaphore;

use super::deadline::within_deadlines;
use crate::http::problem::{ApiError, with_instance};

/// The cap on requests handled at once.
#[derive(Debug, Clone)]
pub(crate) struct InFlight(Arc<Semaphore>);

impl InFlight {
    /// A cap of `max` requests.
    pub(crate) fn new(max: usize) -> Self {
        Self(Arc::new(Semaphore::new(max)))
    }
}

/// Middleware: sheds load past the in-flight cap, runs the request within its deadlines
/// ([`within_deadlines`]), and fills the `instance` of any problem response with the request path.
///
/// Past the cap the answer is an immediate 503 with `Retry-After`. Queueing instead would only
/// grow memory and latency until every request times out; an immediate 503 lets the client or
/// load balancer retry elsewhere. Health probes bypass the cap: a busy task is alive and serving,
/// and failing its probes would have ECS or the ALB take it away when most needed.
pub(crate) async fn admit(State(cap): State<InFlight>, request: Request, next: Next) -> Response {
    // A clone shares the parsed path's bytes; only a problem answer copies it out.
    let uri = request.uri().clone();
    let permit = if uri.path().starts_with("/health/") {
        None
    } else if let Ok(permit) = cap.0.try_acquire() {
        Some(permit)
    } else {
        tracing::debug!("in-flight cap reached; request shed");
        return with_instance(ApiError::Overloaded.into_response(), uri.path());
    };
    let response = within_deadlines(request, next).await;
    drop(permit);
    with_instance(response, uri.path())
}
