//! The inner middleware: how long a request may run, and the `instance` of the problem it may end
//! in. Whether it is taken on at all (the in-flight cap) is tower's load shedding, on the routes
//! (`http::app_with`).

use axum::{extract::Request, middleware::Next, response::Response};

use super::deadline::within_deadlines;
use crate::http::problem::with_instance;

/// Middleware: runs the request within its deadlines ([`within_deadlines`]), and fills the
/// `instance` of any problem response (a shed request's 503 included) with the request path.
pub(crate) async fn admit(request: Request, next: Next) -> Response {
    // A clone shares the parsed path's bytes; only a problem answer copies it out.
    let uri = request.uri().clone();
    let response = within_deadlines(request, next).await;
    with_instance(response, uri.path())
}
