//! The one place where errors become HTTP responses: RFC 9457 `application/problem+json`.

use crate::telemetry::ErrorChain;
use axum::{
    Json,
    body::Body,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use std::sync::Arc;

use serde::Serialize;
use utoipa::ToSchema;

use super::{dto::BookResponse, headers::etag, quota::QuotaExceeded};
use crate::{
    auth_policy::AuthError,
    domain::{Book, FieldError},
    repository::StoreError,
    telemetry::otel,
};

/// Seconds a client should wait before retrying after a 503.
const RETRY_AFTER_SECONDS: &str = "1";

/// Every way a request can fail, as the client sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed JSON, a bad query parameter, cursor, header or path encoding.
    #[error("{0}")]
    BadRequest(String),
    /// A write whose credentials were refused: 401, 403 without the write scope, or 503 when
    /// the issuer's keys are needed and cannot be fetched.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A write past its principal's quota.
    #[error("too many writes: retry in {} seconds", .0.retry_after)]
    TooManyRequests(QuotaExceeded),
    /// No such book, or no such route.
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// `POST /books` for a book that exists, or writers kept racing.
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` / `If-None-Match` did not hold; the book as stored, none if there is none.
    #[error("the book does not match the request's precondition")]
    PreconditionFailed(Option<Box<Book>>),
    /// The client took too long to send the body (seconds allowed).
    #[error("the request body did not arrive within {0} seconds")]
    RequestTimeout(u64),
    /// The body is over the size limit.
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The body is not `application/json`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Well-formed input that fails validation.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// DynamoDB is unavailable, throttled or timed out, or the request ran past its deadline;
    /// the repository's error, when there is one, for the log.
    #[error("the service is temporarily unavailable, retry shortly")]
    Unavailable(Option<FailureCause>),
    /// The in-flight cap is reached: shed at once rather than queued.
    #[error("the service is at capacity, retry shortly")]
    Overloaded,
    /// A bug; the repository's error, when there is one, for the log. Never sent.
    #[error("an internal error occurred")]
    Internal(Option<FailureCause>),
}

/// The repository error behind a 5xx, carried on the response (never in its body) to the
/// envelope middleware, which logs it once with the request's id, route and trace.
#[derive(Debug, Clone)]
pub struct FailureCause(Arc<StoreError>);

impl std::fmt::Display for FailureCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        ErrorChain(&*self.0).fmt(f)
    }
}

impl ApiError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Auth(
                AuthError::Missing | AuthError::UnknownToken | AuthError::InvalidToken(_),
            ) => StatusCode::UNAUTHORIZED,
            Self::Auth(AuthError::InsufficientScope(_)) => StatusCode::FORBIDDEN,
            Self::Auth(AuthError::KeysUnavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) | Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A single-field validation error.
    pub fn invalid(field: impl Into<String>, message: impl ToString) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound("no such book".into()),
            StoreError::AlreadyExists => Self::Conflict("the book already exists".into()),
            StoreError::PreconditionFailed(current) => Self::PreconditionFailed(current),
            StoreError::TooManyFormats(n) => Self::invalid(
                "formats",
                format!(
                    "a book has at most {} formats; this change would leave {n}",
                    crate::domain::MAX_FORMATS
                ),
            ),
            StoreError::Contention => {
                Self::Conflict("the book kept changing during the write; retry".into())
            }
            StoreError::BatchItemRejected { index, reason } => {
                Self::invalid(format!("books[{index}]"), reason)
            }
            err @ StoreError::TransactionTooLarge { .. } => Self::invalid(
                "books",
                format!("{err}: send these books in smaller batches"),
            ),
            StoreError::IdempotencyKeyReused => Self::invalid(
                "Idempotency-Key",
                "this key was used in the last 24 hours for a request with a different body",
            ),
            StoreError::IdempotencyKeyInFlight => Self::Conflict(
                "a request with this Idempotency-Key is still in progress; retry shortly".into(),
            ),
            StoreError::InvalidCursor(why) => Self::BadRequest(why.into()),
            // Unavailable and NoTable are always transient: the guard takes them.
            err if err.is_transient() => Self::Unavailable(Some(FailureCause(Arc::new(err)))),
            err @ (StoreError::Unavailable(_)
            | StoreError::NoTable(_)
            | StoreError::Internal(_)
            | StoreError::Sdk { .. }) => Self::Internal(Some(FailureCause(Arc::new(err)))),
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "about:blank", "title": "Not Found", "status": 404,
    "detail": "no book titled 'X' by 'Y'", "instance": "/books/Y/X"
}))]
pub struct Problem {
    /// Always `about:blank`: the status code says what kind of problem it is.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The status code's reason phrase.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for a human.
    pub detail: String,
    /// The request path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// On 422 only: every invalid field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ProblemField>>,
    /// On a 412 from a write only: the book as stored, which the precondition was checked
    /// against (`null` when there is no book), so the client can resolve the conflict without
    /// another GET. Its `ETag` is the response's `ETag` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BookResponse>, nullable)]
    pub current: Option<Option<BookResponse>>,
    /// When tracing is on: the request's W3C trace id (32 lowercase hex digits), to find its
    /// trace and its log lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{32}$",
        example = "4bf92f3577b34da6a3ce929d0e0e4736")]
    pub trace_id: Option<String>,
}

/// One invalid field in a 422 problem.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemField {
    /// The field: `author`, `title`, `category`, `formats.<name>`, `books[3].title`, or an unknown field's name.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl Problem {
    fn render(&self) -> Response {
        let mut response = (self_status(self.status), Json(self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

fn self_status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let problem = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            instance: None,
            errors: match &self {
                Self::Validation(errors) => Some(
                    errors
                        .iter()
                        .map(|e| ProblemField {
                            field: e.field.clone(),
                            message: e.message.clone(),
                        })
                        .collect(),
                ),
                _ => None,
            },
            current: match &self {
                Self::PreconditionFailed(current) => {
                    Some(current.as_deref().cloned().map(BookResponse::from))
                }
                _ => None,
            },
            trace_id: otel::current_trace_id().map(|id| id.to_string()),
        };
        let mut response = problem.render();
        if let Self::Unavailable(Some(cause)) | Self::Internal(Some(cause)) = &self {
            response.extensions_mut().insert(cause.clone());
        }
        let headers = response.headers_mut();
        match self {
            Self::Auth(AuthError::KeysUnavailable(wait)) => {
                let seconds = super::headers::whole_seconds(wait, 1);
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            Self::Auth(refused) => {
                headers.insert(header::WWW_AUTHENTICATE, www_authenticate(&refused));
            }
            Self::TooManyRequests(exceeded) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(exceeded.retry_after));
                exceeded.state.insert_into(headers);
            }
            Self::Unavailable(_) | Self::Overloaded => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECONDS),
                );
            }
            Self::PreconditionFailed(Some(book)) => {
                headers.insert(header::ETAG, etag(&book.revision()));
            }
            Self::RequestTimeout(_) => {
                // The rest of the body may still be on its way; the connection cannot be reused.
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        // Picked up by `with_instance`, which knows the request path.
        response.extensions_mut().insert(problem);
        response
    }
}

/// The RFC 6750 challenge of a refused write. The reasons are fixed text and the scope a
/// setting checked at start-up, so nothing here comes from the request.
fn www_authenticate(refused: &AuthError) -> HeaderValue {
    let challenge = match refused {
        AuthError::InvalidToken(reason) => {
            format!("Bearer error=\"invalid_token\", error_description=\"{reason}\"")
        }
        AuthError::InsufficientScope(scope) => {
            format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\"")
        }
        AuthError::Missing | AuthError::UnknownToken | AuthError::KeysUnavailable(_) => {
            "Bearer".to_owned()
        }
    };
    HeaderValue::try_from(challenge).unwrap_or(HeaderValue::from_static("Bearer"))
}

/// Fills a problem response's `instance` with the request path; other responses pass unchanged.
pub(super) fn with_instance(response: Response, path: &str) -> Response {
    if response.extensions().get::<Problem>().is_none() {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    // Taken out, not cloned: nothing outside reads it, and it may carry a whole book (412).
    let problem = parts
        .extensions
        .remove::<Problem>()
        .expect("checked just above");
    let body = serde_json::to_vec(&Problem {
        instance: Some(path.to_owned()),
        ..problem
    })
    .expect("a problem always serializes");
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}
