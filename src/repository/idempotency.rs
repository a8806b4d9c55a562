//! Idempotency-Key records: the first answer to a keyed write, kept for 24 hours in
//! `<table>-idempotency` and written in the same transaction as the write itself.
//!
//! A record is keyed by an opaque string the caller derives (from the token and the client's
//! key; the token itself never reaches this module) and holds a fingerprint of the request and
//! the answer to give again, encoded by the caller: what an answer is (an HTTP status, headers, a
//! body) is the HTTP layer's business, so here it is an opaque string. Only writes that happen
//! are recorded: a request that fails writes neither its effect nor a record, so the client may
//! retry it.
//!
//! Concurrency. Within one process a key is claimed in memory for the duration of the request,
//! so a repeat that arrives meanwhile is refused (409) before it reaches DynamoDB. Across
//! processes the record's condition does the work: the transaction of the second request is
//! cancelled, either because the first one committed the record (it is then read and replayed)
//! or because the first one is still in progress (`TransactionConflict`: 409).

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::{
    BookRepository, StoreError, books,
    catalogue::Counted,
    client::instrumented,
    expression::{Placeholders, WithPlaceholders},
    item::{Item, now_timestamp},
};
use crate::domain::{BatchOutcome, Book, NewBook};

/// Suffix of the records table's name; `migrations/0003_create_idempotency_table.json` uses it.
pub(super) const TABLE_SUFFIX: &str = "-idempotency";

/// How long a record answers repeats, in seconds (the contract's 24 hours).
pub(super) const RECORD_LIFETIME_SECONDS: i64 = 24 * 60 * 60;

// Attribute names of a record that expressions and the migration use; `RecordItem`'s serde
// renames must spell the same, which `a_record_round_trips_with_epoch_seconds` checks.

/// The partition key.
const KEY: &str = "Key";
/// Epoch seconds, the table's TTL attribute.
const EXPIRES_AT: &str = "ExpiresAt";

/// Name of the table that holds the Idempotency-Key records of `table`.
pub fn records_table(table: &str) -> String {
    format!("{table}{TABLE_SUFFIX}")
}

/// A keyed request as the repository sees it.
#[derive(Debug, Clone)]
pub struct KeyedRequest {
    /// Identifies the record: derived from the caller's scope and key, opaque here.
    pub key: String,
    /// Identifies the request: a repeat must have the same one.
    pub fingerprint: String,
}

/// An answer as the caller encoded it, kept verbatim and handed back on a repeat; opaque here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedAnswer(pub String);

/// What a keyed write came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyedOutcome {
    /// The write happened now, with its record; this is its answer.
    Written(RecordedAnswer),
    /// An earlier request with the key happened; this is its recorded answer and nothing was written.
    Replayed(RecordedAnswer),
}

/// One record as stored.
#[derive(Debug, Serialize, Deserialize)]
struct RecordItem {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Fingerprint")]
    fingerprint: String,
    #[serde(rename = "ExpiresAt")]
    expires_at: i64,
    #[serde(rename = "RecordedAt")]
    recorded_at: String,
    /// Absent in the records of versions that stored the answer's status, headers and body as
    /// attributes of their own (before the answer became opaque). Such a record, within its 24
    /// hours, still blocks the write (its condition holds) but cannot be replayed: the repeat is
    /// answered as one whose first request is still in progress (409), never written twice.
    #[serde(rename = "Answer", default)]
    answer: Option<String>,
}

/// Keys of keyed requests in progress in this process.
#[derive(Debug, Default)]
pub(crate) struct InFlight(Mutex<HashSet<String>>);

/// Holds a key in [`InFlight`] until dropped, also when the request is abandoned midway.
struct Claim {
    in_flight: Arc<InFlight>,
    key: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.in_flight
            .0
            .lock()
            .expect("in-flight lock")
            .remove(&self.key);
    }
}

impl InFlight {
    fn claim(self: &Arc<Self>, key: &str) -> Result<Claim, StoreError> {
        if !self
            .0
            .lock()
            .expect("in-flight lock")
            .insert(key.to_owned())
        {
            return Err(StoreError::IdempotencyKeyInFlight);
        }
        Ok(Claim {
            in_flight: self.clone(),
            key: key.to_owned(),
        })
    }
}

impl BookRepository {
    /// `create` under an Idempotency-Key: the book and its record in one TransactWriteItems.
    ///
    /// `respond` renders the answer from the book as it will be stored (fully known before the
    /// write), so the record can hold it.
    pub async fn create_keyed(
        &self,
        book: &NewBook,
        request: &KeyedRequest,
        respond: impl Fn(&Book) -> RecordedAnswer,
    ) -> Result<KeyedOutcome, StoreError> {
        self.keyed(request, self.create_recorded(book, request, respond))
            .await
    }

    /// The transaction of `create_keyed`: the book, if absent, its record and its counts.
    async fn create_recorded(
        &self,
        book: &NewBook,
        request: &KeyedRequest,
        respond: impl Fn(&Book) -> RecordedAnswer,
    ) -> Result<RecordedAnswer, StoreError> {
        let (stored, put_book) = self.create_write(book)?;
        let response = respond(&stored.into_book());
        let record = self.record_write(request, &response)?;
        match self
            .write_counted(put_book, Some(record), &books::joined(book))
            .await?
        {
            Counted::Written => Ok(response),
            Counted::Refused(_) => Err(StoreError::AlreadyExists),
        }
    }

    /// `put_batch` under an Idempotency-Key: the record is one more item of its transaction.
    ///
    /// `respond` renders the answer from the outcome the transaction will have, which the batch
    /// knows before writing (it reads which books exist first).
    pub async fn put_batch_keyed(
        &self,
        books: &[NewBook],
        request: &KeyedRequest,
        respond: impl Fn(&BatchOutcome) -> RecordedAnswer,
    ) -> Result<KeyedOutcome, StoreError> {
        let write = async {
            let outcome = self
                .put_batch_with(books, |outcome| {
                    self.record_write(request, &respond(outcome)).map(Some)
                })
                .await?;
            Ok(respond(&outcome))
        };
        self.keyed(request, write).await
    }

    /// Runs `write` (which writes the record with its effect) unless the key is in flight here
    /// or already recorded. When the record cancelled the transaction, another request with the
    /// key got there first: its record, once read, is the answer; none yet means that request
    /// is still in progress.
    async fn keyed(
        &self,
        request: &KeyedRequest,
        write: impl Future<Output = Result<RecordedAnswer, StoreError>>,
    ) -> Result<KeyedOutcome, StoreError> {
        let _claim = self.in_flight.claim(&request.key)?;
        if let Some(earlier) = self.recorded(request).await? {
            return Ok(KeyedOutcome::Replayed(earlier));
        }
        match write.await {
            Ok(response) => Ok(KeyedOutcome::Written(response)),
            Err(StoreError::IdempotencyKeyInFlight) => match self.recorded(request).await? {
                Some(earlier) => Ok(KeyedOutcome::Replayed(earlier)),
                None => Err(StoreError::IdempotencyKeyInFlight),
            },
            Err(other) => Err(other),
        }
    }

    /// The recorded answer for this request: `None` when there is no live record, an error when
    /// the key was used for another request.
    async fn recorded(&self, request: &KeyedRequest) -> Result<Option<RecordedAnswer>, StoreError> {
        let call = self
            .client
            .get_item()
            .table_name(records_table(self.table()))
            .key(
                KEY,
                aws_sdk_dynamodb::types::AttributeValue::S(request.key.clone()),
            )
            .consistent_read(true)
            .send();
        let output = instrumented("GetItem", call)
            .await
            .map_err(|e| StoreError::from_sdk("GetItem", e))?;
        let Some(item) = output.item.filter(|i| !i.is_empty()) else {
            return Ok(None);
        };
        let record: RecordItem =
            serde_dynamo::from_item(item).map_err(StoreError::malformed_item)?;
        // TTL deletes lazily (typically within days), so an expired record may still be there.
        if record.expires_at <= now_epoch() {
            return Ok(None);
        }
        if record.fingerprint != request.fingerprint {
            return Err(StoreError::IdempotencyKeyReused);
        }
        Ok(record.answer.map(RecordedAnswer))
    }

    /// The Put of a record, conditional on there being no live record for the key.
    fn record_write(
        &self,
        request: &KeyedRequest,
        answer: &RecordedAnswer,
    ) -> Result<TransactWriteItem, StoreError> {
        let now = now_epoch();
        let record = RecordItem {
            key: request.key.clone(),
            fingerprint: request.fingerprint.clone(),
            expires_at: now + RECORD_LIFETIME_SECONDS,
            recorded_at: now_timestamp(),
            answer: Some(answer.0.clone()),
        };
        let item: Item = serde_dynamo::to_item(&record).map_err(StoreError::malformed_item)?;
        let mut p = Placeholders::default();
        // An expired record that TTL has not deleted yet counts as none.
        let condition = format!(
            "attribute_not_exists({}) OR {} <= {}",
            p.name(KEY),
            p.name(EXPIRES_AT),
            p.number(now)
        );
        let put = Put::builder()
            .table_name(records_table(self.table()))
            .set_item(Some(item))
            .condition_expression(condition)
            .placeholders(&p)
            .build()
            .map_err(StoreError::unbuilt_transaction)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

/// Now, in epoch seconds, as DynamoDB TTL reads it.
fn now_epoch() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_migration_creates_the_table_this_module_uses() {
        let migration: serde_json::Value = serde_json::from_str(include_str!(
            "../../migrations/0003_create_idempotency_table.json"
        ))
        .unwrap();
        let step = &migration["create_companion_table"];
        assert_eq!(step["suffix"], TABLE_SUFFIX);
        assert_eq!(step["partition_key"]["name"], KEY);
        assert_eq!(step["ttl_attribute"], EXPIRES_AT);
    }

    #[test]
    fn a_record_round_trips_with_epoch_seconds() {
        let record = RecordItem {
            key: "k".into(),
            fingerprint: "f".into(),
            expires_at: 1_800_000_000,
            recorded_at: "2026-11-23T10:00:00Z".into(),
            answer: Some("opaque".into()),
        };
        let item: Item = serde_dynamo::to_item(&record).unwrap();
        assert_eq!(
            item[KEY],
            aws_sdk_dynamodb::types::AttributeValue::S("k".into())
        );
        assert_eq!(
            item[EXPIRES_AT],
            aws_sdk_dynamodb::types::AttributeValue::N("1800000000".into())
        );
        let back: RecordItem = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back.answer, record.answer);
    }

    #[test]
    fn a_record_without_an_answer_reads_as_one_that_cannot_be_replayed() {
        let mut item: Item = serde_dynamo::to_item(RecordItem {
            key: "k".into(),
            fingerprint: "f".into(),
            expires_at: 1_800_000_000,
            recorded_at: "2026-11-23T10:00:00Z".into(),
            answer: None,
        })
        .unwrap();
        item.remove("Answer");
        item.insert(
            "Status".into(),
            aws_sdk_dynamodb::types::AttributeValue::N("201".into()),
        );
        let back: RecordItem = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back.answer, None);
    }

    #[test]
    fn a_key_is_claimed_once_until_released() {
        let in_flight = Arc::new(InFlight::default());
        let claim = in_flight.claim("k").unwrap();
        assert!(matches!(
            in_flight.claim("k"),
            Err(StoreError::IdempotencyKeyInFlight)
        ));
        assert!(in_flight.claim("other").is_ok());
        drop(claim);
        assert!(in_flight.claim("k").is_ok());
    }
}
