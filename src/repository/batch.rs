//! Batch writes: up to 100 books replaced in one transaction, all or nothing, their counts
//! included.
//!
//! DynamoDB takes at most 100 items in one TransactWriteItems, and every count that a batch
//! changes is one more item (merged per name: ten new books by one author are one `ADD 10`). So
//! a batch is one transaction only while its books, the count items it changes and its
//! Idempotency-Key record add up to 100 at most; past that it is refused (422 naming `books`)
//! rather than split, since a split batch could be half written. 100 replacements that keep
//! their categories fit; 100 new books never do (they change at least one author's and one
//! category's count): 98 new books by one author in one category is the most.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, TransactWriteItem, Update};

use super::{
    BookRepository, MAX_WRITE_ATTEMPTS, StoreError,
    books::replace_expression,
    catalogue::{CountChanges, Counted, MAX_TRANSACTION_ITEMS},
    client::{self, instrumented},
    expression::{Placeholders, WithPlaceholders, conjoin, expectation_condition},
    item::{self, AUTHOR, CATEGORY, ForBook, TITLE, now_timestamp},
};
use crate::domain::{BatchOutcome, Expectation, NewBook, Revision};

/// Which books exist, by (author, title), with the category each is in (empty when it has none).
type Keys = HashMap<(String, String), String>;

impl BookRepository {
    /// TransactWriteItems: every book written as `put` would, all or nothing.
    ///
    /// Transactions return no item images, so to report created vs replaced, and to know which
    /// counts change, it first reads which keys exist and in which category (BatchGetItem, keys
    /// and category only) and makes each write conditional on what it saw (absent, or present in
    /// that category); if another writer changes that in between, the transaction is cancelled
    /// and it tries again. The counts are derived only from what those conditions check.
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
            let record = extra(&outcome)?;
            let record_at = record.is_some().then_some(books.len());
            writes.extend(record);
            let changes = count_changes(books, &existing);
            let needed = writes.len() + changes.len();
            if needed > MAX_TRANSACTION_ITEMS {
                return Err(StoreError::TransactionTooLarge {
                    books: books.len(),
                    counts: changes.len(),
                    record: record_at.is_some(),
                });
            }
            // A cancelled condition: another writer changed what was read; read again.
            if let Counted::Written = self.transact_counted(writes, record_at, &changes).await? {
                return Ok(outcome);
            }
        }
        Err(StoreError::Contention)
    }

    /// One book's write in the transaction, conditional on it existing (in the category) or not
    /// as `existing` saw.
    fn batch_write(
        &self,
        book: &NewBook,
        existing: &Keys,
        now: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut p = Placeholders::default();
        let fresh = Revision::new_incarnation();
        let update = replace_expression(&book.content, now, &fresh, &mut p);
        let condition = match existing.get(&key_of(book)) {
            None => expectation_condition(&Expectation::absent(), &mut p),
            Some(category) => {
                let exists = expectation_condition(&Expectation::exists(), &mut p)
                    .expect("existence is always a condition");
                // DynamoDB stores no empty string in an index key: no category is no attribute.
                let category = if category.is_empty() {
                    format!("attribute_not_exists({})", p.name(CATEGORY))
                } else {
                    format!("{} = {}", p.name(CATEGORY), p.string(category))
                };
                Some(conjoin(&[exists, category]))
            }
        };
        let write = Update::builder()
            .for_book(self.table(), &book.key)
            .update_expression(update)
            .set_condition_expression(condition)
            .placeholders(&p)
            .build()
            .map_err(StoreError::unbuilt_transaction)?;
        Ok(TransactWriteItem::builder().update(write).build())
    }

    /// Which of these books exist, by (author, title), and their categories, read consistently.
    async fn existing_keys(&self, books: &[NewBook]) -> Result<Keys, StoreError> {
        let mut p = Placeholders::default();
        let projection = format!(
            "{}, {}, {}",
            p.name(AUTHOR),
            p.name(TITLE),
            p.name(CATEGORY)
        );
        let mut pending = KeysAndAttributes::builder()
            .set_keys(Some(books.iter().map(|b| item::key(&b.key)).collect()))
            .projection_expression(projection)
            .set_expression_attribute_names(p.names())
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Internal(format!("building a batch read: {e}")))?;
        let mut found = HashMap::new();
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
                    let category = match item.get(CATEGORY) {
                        Some(AttributeValue::S(c)) => c.clone(),
                        _ => String::new(),
                    };
                    found.insert((a.clone(), t.clone()), category);
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

/// The (author, title) of a book, as `Keys` holds it.
fn key_of(book: &NewBook) -> (String, String) {
    (book.key.author.to_string(), book.key.title.to_string())
}

/// The count changes of writing `books` over what `existing` saw, merged per name.
fn count_changes(books: &[NewBook], existing: &Keys) -> CountChanges {
    let mut changes = CountChanges::default();
    for book in books {
        let category = book.content.category.as_str();
        match existing.get(&key_of(book)) {
            None => changes.joined(book.key.author.as_str(), category),
            Some(old) => changes.moved(old, category),
        }
    }
    changes
}
