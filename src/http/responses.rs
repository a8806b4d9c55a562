//! Reusable sets of documented error responses, so each route's OpenAPI annotation lists only
//! what is particular to it. These types describe responses; they are never constructed.
#![allow(dead_code)]

use utoipa::IntoResponses;

use super::problem::Problem;

/// Errors of a request without a body: bad path, query or precondition header, invalid names.
#[derive(IntoResponses)]
pub enum InputErrors {
    /// Bad path encoding, query parameter, cursor or precondition header.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// A name in the path fails validation; `errors` names it.
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
}

/// Errors of a request with a JSON body.
#[derive(IntoResponses)]
pub enum BodyErrors {
    /// Malformed JSON, bad path encoding or precondition header.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// The body is over 64 KiB.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// The body is not `application/json` (or has no Content-Type).
    #[response(status = 415, content_type = "application/problem+json")]
    NotJson(Problem),
    /// Well-formed input that fails validation; `errors` names every invalid field.
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
}

/// The error of a write without a valid token.
#[derive(IntoResponses)]
pub enum AuthErrors {
    /// Missing or invalid bearer token.
    #[response(status = 401, content_type = "application/problem+json",
        headers(("WWW-Authenticate" = String, description = "`Bearer`")))]
    Unauthorized(Problem),
}

/// The error of any route that reaches DynamoDB.
#[derive(IntoResponses)]
pub enum BackendErrors {
    /// DynamoDB is unavailable, throttled or timed out; retry after `Retry-After` seconds.
    #[response(status = 503, content_type = "application/problem+json",
        headers(("Retry-After" = u32, description = "Seconds to wait before retrying")))]
    Unavailable(Problem),
}
