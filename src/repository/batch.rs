//! Batch writes: up to 100 books replaced in one transaction, all or nothing.

use std::collections::HashSet;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, TransactWriteItem, Update};

use super::{
    BookRepository, MAX_WRITE_ATTEMPTS, StoreError,
    books::replace_expression,
    client::{self, instrumented},
    error::Cancellation,
    expression::{Placeholders, WithPlaceholders, expectation_condition},
    item::{self, AUTHOR, ForBook, TITLE, now_timestamp},
};
use crate::domain::{BatchOutcome, Expectation, NewBook, Revision};

/// Which books exist, by (author, title).
type Keys = HashSet<(String, String)>;

impl BookRepository {
    /// TransactWriteItems: every book written as `put` would, all or nothing.
    ///
    /// Transactions return no item images, so to report created vs replaced it first reads which
    /// keys exist (BatchGetItem, keys only) and makes each write conditional on what it saw; if
    /// another writer changes that in between, the transaction is cancelled and it tries again.
    pub async fn put_batch(&self, books: &[NewBook]) -> Result<BatchOutcome, StoreError> {
        self.put_batch_with(books, |_| Ok(None)).await
    }

    /// `put_batch` with one more item in each attempt's transaction, made from the outcome that
    /// attempt will report (a keyed batch's record); if that item cancels the transaction, the
    /// error is `StoreError::IdempotencyKeyInFlight`.
    pub(super) async fn put_batch_with(
        &self,
        books: &[NewBook],
        extra: impl Fn(&BatchOutcome) -> Result<Option<TransactWriteItem>, StoreError>,
    ) -> Result<BatchOutcome, StoreError> {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let existing = self.existing_keys(books).await?;
            let outcome = BatchOutcome {
                created: books.len() - existing.len(),
                replaced: existing.len(),
            };
            let now = now_timestamp();
            let mut writes = books
                .iter()
                .map(|book| self.batch_write(book, &existing, &now))
                .collect::<Result<Vec<_>, _>>()?;
            writes.extend(extra(&outcome)?);
            let call = self
                .client
                .transact_write_items()
                .set_transact_items(Some(writes))
                .send();
            match instrumented("TransactWriteItems", call).await {
                Ok(_) => return Ok(outcome),
                // The record, if any, is the item after the books.
                Err(e) => match Cancellation::of(&e, Some(books.len())) {
                    Some(Cancellation::ConditionFailed | Cancellation::TransactionConflict) => {
                        continue;
                    }
                    Some(c) => {
                        return Err(c
                            .terminal()
                            .unwrap_or_else(|| StoreError::from_sdk("TransactWriteItems", e)));
                    }
                    None => return Err(StoreError::from_sdk("TransactWriteItems", e)),
                },
            }
        }
        Err(StoreError::Contention)
    }

    /// One book's write in the transaction, conditional on it existing or not as `existing` saw.
    fn batch_write(
        &self,
        book: &NewBook,
        existing: &Keys,
        now: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut p = Placeholders::default();
        let fresh = Revision::new_incarnation();
        let update = replace_expression(&book.content, now, &fresh, &mut p);
        let exists = existing.contains(&(book.key.author.to_string(), book.key.title.to_string()));
        let expect = if exists {
            Expectation::exists()
        } else {
            Expectation::absent()
        };
        let condition = expectation_condition(&expect, &mut p);
        let write = Update::builder()
            .for_book(self.table(), &book.key)
            .update_expression(update)
            .set_condition_expression(condition)
            .placeholders(&p)
            .build()
            .map_err(StoreError::unbuilt_transaction)?;
        Ok(TransactWriteItem::builder().update(write).build())
    }

    /// Which of these books exist, by (author, title), read consistently.
    async fn existing_keys(&self, books: &[NewBook]) -> Result<Keys, StoreError> {
        let mut p = Placeholders::default();
        let projection = format!("{}, {}", p.name(AUTHOR), p.name(TITLE));
        let mut pending = KeysAndAttributes::builder()
            .set_keys(Some(books.iter().map(|b| item::key(&b.key)).collect()))
            .projection_expression(projection)
            .set_expression_attribute_names(p.names())
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Internal(format!("building a batch read: {e}")))?;
        let mut found = HashSet::new();
        for attempt in 0..8u32 {
            let call = self
                .client
                .batch_get_item()
                .request_items(self.table(), pending.clone())
                .send();
            let output = instrumented("BatchGetItem", call)
                .await
                .map_err(|e| StoreError::from_sdk("BatchGetItem", e))?;
            for item in output
                .responses
                .unwrap_or_default()
                .remove(self.table())
                .unwrap_or_default()
            {
                if let (Some(AttributeValue::S(a)), Some(AttributeValue::S(t))) =
                    (item.get(AUTHOR), item.get(TITLE))
                {
                    found.insert((a.clone(), t.clone()));
                }
            }
            match output
                .unprocessed_keys
                .and_then(|mut u| u.remove(self.table()))
            {
                Some(rest) if !rest.keys().is_empty() => {
                    pending = rest;
                    tokio::time::sleep(client::backoff(attempt)).await;
                }
                _ => return Ok(found),
            }
        }
        Err(StoreError::Unavailable(
            "BatchGetItem: keys left unprocessed".into(),
        ))
    }
}
