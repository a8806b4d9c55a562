//! Reusable sets of documented responses, so each route's OpenAPI annotation lists only what is
//! particular to it. These types describe responses; they are never constructed.
//!
//! Each `#[response(...)]` stands on one line: a variant reads as one row of a table of responses.
#![allow(dead_code)]

use utoipa::IntoResponses;

use super::{dto::BookResponse, problem::Problem};

/// The answer of a write that changed an existing book.
#[derive(IntoResponses)]
pub(super) enum BookChanged {
    /// The book after the change
    #[response(status = 200, content_type = "application/json", headers(("ETag" = String, description = "Strong, opaque entity tag; changes on every write and never repeats for this book")))]
    Changed(BookResponse),
}

/// The 404 of a route on one book.
#[derive(IntoResponses)]
pub(super) enum BookNotFound {
    /// No such book
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// The 412 of a write with `If-Match` or `If-None-Match`.
#[derive(IntoResponses)]
pub(super) enum PreconditionFailed {
    /// Precondition failed
    #[response(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Problem),
}

/// Errors of a request without a body: bad path, query or precondition header, invalid names.
#[derive(IntoResponses)]
pub(super) enum InputErrors {
    /// Bad path encoding, query parameter, cursor or precondition header.
    #[response(status = 400, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Bad Request", "status": 400, "detail": "limit must be an integer from 1 to 100, got '500'", "instance": "/authors/John%20Grisham/books"}))]
    BadRequest(Problem),
    /// A name in the path fails validation; `errors` names it.
    #[response(status = 422, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Unprocessable Entity", "status": 422, "detail": "the request has invalid fields", "instance": "/books/%20Ann/T", "errors": [{"field": "author", "message": "must not start or end with whitespace"}]}))]
    Invalid(Problem),
}

/// Errors of a request with a JSON body.
#[derive(IntoResponses)]
pub(super) enum BodyErrors {
    /// Malformed JSON, bad path encoding or precondition header.
    #[response(status = 400, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Bad Request", "status": 400, "detail": "malformed JSON: EOF while parsing an object at line 1 column 13", "instance": "/books"}))]
    BadRequest(Problem),
    /// The body did not arrive within 10 seconds (a slow upload).
    #[response(status = 408, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Request Timeout", "status": 408, "detail": "the request body did not arrive within 10 seconds", "instance": "/books"}))]
    Timeout(Problem),
    /// The body is over 64 KiB.
    #[response(status = 413, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Payload Too Large", "status": 413, "detail": "the request body is larger than 65536 bytes", "instance": "/books"}))]
    TooLarge(Problem),
    /// The body is not `application/json` (or has no Content-Type).
    #[response(status = 415, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Unsupported Media Type", "status": 415, "detail": "the body must be application/json, not 'text/plain'", "instance": "/books"}))]
    NotJson(Problem),
    /// Well-formed input that fails validation; `errors` names every invalid field.
    #[response(status = 422, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Unprocessable Entity", "status": 422, "detail": "the request has invalid fields", "instance": "/books", "errors": [{"field": "formats.Hardcover", "message": "format id must not be empty"}]}))]
    Invalid(Problem),
}

/// The errors of a write's credentials and quota.
#[derive(IntoResponses)]
pub(super) enum AuthErrors {
    /// Missing, invalid, expired or foreign bearer token (`error="invalid_token"` for a refused access token).
    #[response(status = 401, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "the bearer token is not valid: expired", "instance": "/books"}), headers(("WWW-Authenticate" = String, description = "`Bearer`, or `Bearer error=\"invalid_token\", error_description=\"...\"` (RFC 6750)")))]
    Unauthorized(Problem),
    /// A valid access token without the write scope.
    #[response(status = 403, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Forbidden", "status": 403, "detail": "the access token lacks the scope 'bookstore/write'", "instance": "/books"}), headers(("WWW-Authenticate" = String, description = "`Bearer error=\"insufficient_scope\", scope=\"bookstore/write\"` (RFC 6750)")))]
    Forbidden(Problem),
    /// The caller's write quota is spent; retry after `Retry-After` seconds.
    #[response(status = 429, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Too Many Requests", "status": 429, "detail": "too many writes: retry in 1 seconds", "instance": "/books"}), headers(("Retry-After" = u32, description = "Seconds to wait before retrying"), ("RateLimit-Policy" = String, description = "The quota and its window, e.g. `\"writes\";q=100;w=2` (draft-ietf-httpapi-ratelimit-headers)"), ("RateLimit" = String, description = "What is left and when the quota is whole again, e.g. `\"writes\";r=0;t=1`")))]
    TooManyRequests(Problem),
}

/// The error of any route that reaches DynamoDB.
#[derive(IntoResponses)]
pub(super) enum BackendErrors {
    /// DynamoDB is unavailable, throttled or timed out, the service is at capacity, or (on a write
    /// with an access token) the issuer's keys cannot be fetched; retry after `Retry-After` seconds.
    #[response(status = 503, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Service Unavailable", "status": 503, "detail": "the service is temporarily unavailable, retry shortly", "instance": "/books/John%20Grisham/The%20Rainmaker"}), headers(("Retry-After" = u32, description = "Seconds to wait before retrying")))]
    Unavailable(Problem),
}
