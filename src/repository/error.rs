//! What can go wrong in the repository, and how SDK errors are sorted into it.

use aws_sdk_dynamodb::{
    error::{BuildError, ProvideErrorMetadata, SdkError},
    operation::{
        delete_item::DeleteItemError, put_item::PutItemError,
        transact_write_items::TransactWriteItemsError, update_item::UpdateItemError,
    },
    types::error::ConditionalCheckFailedException,
};

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
    /// DynamoDB refused one book of a batch for a reason of its own (its size, say): which book,
    /// by its position in the batch, and why, in words fit for the client.
    #[error("DynamoDB refused book {index} of the batch: {reason}")]
    BatchItemRejected {
        /// Position of the book in the batch.
        index: usize,
        /// Why, without DynamoDB's own message.
        reason: &'static str,
    },
    /// The batch needs more items in its transaction than DynamoDB takes: its books, one per
    /// count it changes, and its Idempotency-Key record.
    #[error(
        "the batch needs {} items in one DynamoDB transaction ({books} books, {counts} category and author counts{}), and DynamoDB takes at most {}",
        books + counts + usize::from(*record),
        if *record { ", 1 Idempotency-Key record" } else { "" },
        super::catalogue::MAX_TRANSACTION_ITEMS
    )]
    TransactionTooLarge {
        /// Books in the batch.
        books: usize,
        /// Count items the batch changes.
        counts: usize,
        /// Whether an Idempotency-Key record is one more item.
        record: bool,
    },
    /// The Idempotency-Key was used, within its lifetime, for a different request.
    #[error("the idempotency key was used for a different request")]
    IdempotencyKeyReused,
    /// Another request with the same Idempotency-Key is still in progress.
    #[error("a request with this idempotency key is in progress")]
    IdempotencyKeyInFlight,
    /// The cursor is malformed or belongs to another query.
    #[error("invalid cursor: {0}")]
    InvalidCursor(&'static str),
    /// A table the command needs does not exist.
    #[error("table {0} does not exist (run `bookstore migrate` first)")]
    NoTable(String),
    /// DynamoDB is unreachable, throttling, timing out or its table is missing.
    #[error("DynamoDB is unavailable ({0})")]
    Unavailable(String),
    /// A DynamoDB call failed with an error the operation did not expect: transient (throttled,
    /// timed out, unreachable: a 503) or not (a bug: a 500). The SDK's error is kept as the
    /// source, so whoever logs it once (the HTTP envelope, or `main` for a command) has it all.
    #[error("DynamoDB {operation} failed ({code}: {message}; request id {request_id})")]
    Sdk {
        /// The DynamoDB operation.
        operation: &'static str,
        /// DynamoDB's error code, or `none` for a timeout or a connection failure.
        code: String,
        /// DynamoDB's message.
        message: String,
        /// DynamoDB's request id, for AWS support.
        request_id: String,
        /// Whether trying again later may succeed.
        transient: bool,
        /// The SDK's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
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

/// The error of a single-item write that can carry a ConditionExpression.
pub(crate) trait ConditionalWriteError {
    /// The failure, when it is the condition that did not hold.
    fn condition_failed(&self) -> Option<&ConditionalCheckFailedException>;
}

// The SDK gives each operation its own error enum with the same variant, and no trait over it.
macro_rules! conditional_write_errors {
    ($($error:ty),+) => {$(
        impl ConditionalWriteError for $error {
            fn condition_failed(&self) -> Option<&ConditionalCheckFailedException> {
                match self {
                    Self::ConditionalCheckFailedException(failure) => Some(failure),
                    _ => None,
                }
            }
        }
    )+};
}

conditional_write_errors!(PutItemError, UpdateItemError, DeleteItemError);

/// The failed condition of a single-item write (with the old item, when the write asked for it
/// on failure); `None` when the write failed for another reason. A failed condition inside a
/// transaction is a cancellation reason instead: see [`Cancellation`].
pub(crate) fn condition_failed<E: ConditionalWriteError, R>(
    err: &SdkError<E, R>,
) -> Option<&ConditionalCheckFailedException> {
    err.as_service_error().and_then(E::condition_failed)
}

/// What one `TransactionCanceledException` means, from its `CancellationReasons` (one per item,
/// in the order of the transaction's items).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Cancellation {
    /// A condition on a book failed: another writer got in between what was read and the write.
    ConditionFailed,
    /// A concurrent transaction held one of the items.
    TransactionConflict,
    /// The Idempotency-Key record's item refused: another request with the key got there first.
    RecordTaken,
    /// DynamoDB throttled an item: a 503 the client retries later.
    Throttled,
    /// One item cannot be written as it is, whoever retries: the client's to fix.
    Rejected {
        /// The item's position in the transaction.
        index: usize,
        /// Why, in words fit for the client.
        reason: &'static str,
    },
    /// A code this service does not know: a bug to look at.
    Unknown,
}

impl Cancellation {
    /// Sorts a failed TransactWriteItems; `None` when it was not a cancellation. `record` is the
    /// position of an Idempotency-Key record among the items, if the transaction has one: its
    /// refusal is told apart first, since the caller then answers from the record.
    pub(crate) fn of<R>(
        err: &SdkError<TransactWriteItemsError, R>,
        record: Option<usize>,
    ) -> Option<Self> {
        let Some(TransactWriteItemsError::TransactionCanceledException(c)) = err.as_service_error()
        else {
            return None;
        };
        let reasons = c.cancellation_reasons();
        let record_refused = record
            .and_then(|i| reasons.get(i))
            .and_then(|r| r.code())
            .is_some_and(|code| matches!(code, "ConditionalCheckFailed" | "TransactionConflict"));
        if record_refused {
            return Some(Self::RecordTaken);
        }
        Some(Self::from_codes(reasons.iter().map(|r| r.code())))
    }

    /// Sorts the reasons' codes. Throttling wins over everything (nothing else can be decided
    /// while DynamoDB is shedding load), then a rejected item, then conflicts.
    pub(crate) fn from_codes<'a>(codes: impl IntoIterator<Item = Option<&'a str>>) -> Self {
        let mut verdict = None;
        let (mut condition_failed, mut conflict) = (false, false);
        for (index, code) in codes.into_iter().enumerate() {
            match code {
                None | Some("None") => {}
                Some(
                    "ThrottlingError" | "ProvisionedThroughputExceeded" | "RequestLimitExceeded",
                ) => {
                    return Self::Throttled;
                }
                Some("ConditionalCheckFailed") => condition_failed = true,
                Some("TransactionConflict") => conflict = true,
                Some("ValidationError") => {
                    verdict.get_or_insert(Self::Rejected {
                        index,
                        reason: "the book cannot be stored as it is (DynamoDB refused it: too large or invalid)",
                    });
                }
                Some("ItemCollectionSizeLimitExceeded") => {
                    verdict.get_or_insert(Self::Rejected {
                        index,
                        reason: "the author's books are over DynamoDB's item collection size limit",
                    });
                }
                Some(_) => {
                    verdict.get_or_insert(Self::Unknown);
                }
            }
        }
        match verdict {
            Some(v) => v,
            None if condition_failed => Self::ConditionFailed,
            None if conflict => Self::TransactionConflict,
            None => Self::Unknown,
        }
    }

    /// The error that ends the write whoever wrote it; `None` for the conflicts (the caller
    /// decides: retry, or tell the client) and for an unknown code (the caller reports the SDK
    /// error itself).
    pub(crate) fn terminal(self) -> Option<StoreError> {
        match self {
            Self::RecordTaken => Some(StoreError::IdempotencyKeyInFlight),
            Self::Throttled => {
                tracing::warn!("TransactWriteItems cancelled: throttled");
                Some(StoreError::Unavailable(
                    "TransactWriteItems: throttled".into(),
                ))
            }
            Self::Rejected { index, reason } => {
                tracing::warn!(index, reason, "TransactWriteItems refused one item");
                Some(StoreError::BatchItemRejected { index, reason })
            }
            Self::ConditionFailed | Self::TransactionConflict | Self::Unknown => None,
        }
    }
}

impl StoreError {
    /// Sorts an SDK error into transient or not, keeping it (and its metadata: code, message,
    /// request id) as the source. Not logged here: the error is logged once, where it ends.
    ///
    /// Only called for errors the operation did not expect (a conditional failure is handled by
    /// the caller before it gets here).
    pub(crate) fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
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
        Self::Sdk {
            operation,
            code,
            message,
            request_id,
            transient,
            source: Box::new(err),
        }
    }

    /// Whether the failure is DynamoDB's, for now (a 503), rather than a bug.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unavailable(_) | Self::NoTable(_) => true,
            Self::Sdk { transient, .. } => *transient,
            _ => false,
        }
    }

    /// A transaction item the SDK would not build: a bug here, never the client's.
    pub(crate) fn unbuilt_transaction(err: BuildError) -> Self {
        Self::Internal(format!("building a transaction: {err}"))
    }

    /// A stored item that does not deserialize.
    pub(crate) fn malformed_item(err: serde_dynamo::Error) -> Self {
        tracing::error!(error = %err, "malformed item in the table");
        Self::Internal(format!("malformed item: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancellation_reasons_are_sorted_by_what_the_client_can_do() {
        let sort = |codes: &[Option<&str>]| Cancellation::from_codes(codes.iter().copied());
        assert_eq!(
            sort(&[Some("None"), Some("ConditionalCheckFailed")]),
            Cancellation::ConditionFailed
        );
        assert_eq!(
            sort(&[None, Some("TransactionConflict")]),
            Cancellation::TransactionConflict
        );
        assert_eq!(
            sort(&[Some("ConditionalCheckFailed"), Some("ThrottlingError")]),
            Cancellation::Throttled
        );
        assert_eq!(
            sort(&[Some("None"), Some("None"), Some("ValidationError")]),
            Cancellation::Rejected {
                index: 2,
                reason: "the book cannot be stored as it is (DynamoDB refused it: too large or invalid)"
            }
        );
        assert!(matches!(
            sort(&[
                Some("ItemCollectionSizeLimitExceeded"),
                Some("ConditionalCheckFailed")
            ]),
            Cancellation::Rejected { index: 0, .. }
        ));
        assert_eq!(sort(&[Some("Whatever")]), Cancellation::Unknown);
        assert_eq!(sort(&[Some("None")]), Cancellation::Unknown);
    }
}
