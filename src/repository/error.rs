//! What can go wrong in the repository, and how SDK errors are sorted into it.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::domain::Book;

/// A repository failure, in terms the HTTP layer can map without knowing DynamoDB.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The book does not exist.
    #[error("no such book")]
    NotFound,
    /// The book exists and the operation needed it not to.
    #[error("the book already exists")]
    AlreadyExists,
    /// The client's If-Match / If-None-Match did not hold; the book as stored (none if absent),
    /// from the failed write's own answer, never from another read.
    #[error("the precondition did not hold")]
    PreconditionFailed(Option<Box<Book>>),
    /// The write would leave the book with too many formats.
    #[error("the book would have {0} formats")]
    TooManyFormats(usize),
    /// Writers kept racing this one; the client may retry.
    #[error("the book kept changing during the write")]
    Contention,
    /// The Idempotency-Key was used, within its lifetime, for a different request.
    #[error("the idempotency key was used for a different request")]
    IdempotencyKeyReused,
    /// Another request with the same Idempotency-Key is still in progress.
    #[error("a request with this idempotency key is in progress")]
    IdempotencyKeyInFlight,
    /// The cursor is malformed or belongs to another query.
    #[error("invalid cursor: {0}")]
    InvalidCursor(&'static str),
    /// DynamoDB is unreachable, throttling, timing out or its table is missing.
    #[error("DynamoDB is unavailable ({0})")]
    Unavailable(String),
    /// Anything else: a bug or a malformed stored item. Logged in full where it happens.
    #[error("internal repository error: {0}")]
    Internal(String),
}

/// Error codes that mean "try again later" rather than "this request is wrong".
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
    // The table or index is missing or not ACTIVE yet: not ready, as /health/ready says too.
    "ResourceNotFoundException",
    "ResourceInUseException",
    "UnrecognizedClientException",
    "ExpiredTokenException",
];

impl StoreError {
    /// Sorts an SDK error, logging it with its metadata (code, message, request id).
    ///
    /// Only called for errors the operation did not expect (a conditional failure is handled by
    /// the caller before it gets here).
    pub(crate) fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let code = err.code().unwrap_or("none").to_owned();
        let message = err.message().unwrap_or("").to_owned();
        let request_id = err
            .as_service_error()
            .and_then(|e| e.meta().extra("aws_request_id").map(str::to_owned))
            .unwrap_or_default();
        let transient = match &err {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(_) => TRANSIENT_CODES.contains(&code.as_str()),
            _ => false,
        };
        let detail = DisplayErrorContext(&err).to_string();
        if transient {
            tracing::warn!(operation, code, message, request_id, error = %detail, "DynamoDB unavailable");
            Self::Unavailable(format!("{operation}: {code}"))
        } else {
            tracing::error!(operation, code, message, request_id, error = %detail, "DynamoDB call failed");
            Self::Internal(format!("{operation}: {code}: {message}"))
        }
    }

    /// A stored item that does not deserialize.
    pub(crate) fn malformed_item(err: serde_dynamo::Error) -> Self {
        tracing::error!(error = %err, "malformed item in the table");
        Self::Internal(format!("malformed item: {err}"))
    }
}
