//! The catalogue: how many books each category and each author has, kept exact by DynamoDB.
//!
//! Storage. One count item per name in the companion table `<table>-catalogue` (migration 0004):
//! partition key `Kind` (`category` or `author`), sort key `Name`, and `Books`, a number. A
//! companion table rather than items in the Books table, so that nothing the tutorial's scripts
//! or the console read (a Scan or Query of `Books`, `CategoryIndex`) ever meets a count item, and
//! no author or category name can collide with one. The sort key gives both listings DynamoDB's
//! own order (UTF-8 bytes) and `begins_with` for `name_prefix`, with strongly consistent reads.
//!
//! Exactness. Every write that changes membership (a create, a delete, a category change) is one
//! TransactWriteItems holding the book's conditional write and an `ADD Books :delta` on each count
//! item it changes: DynamoDB applies both or neither, so no fault and no race can separate a
//! book from its counts, and nothing is read, added up and written back by the service. The
//! condition on the book pins what the delta was computed from (absent, or this revision in this
//! category), so a stale view cancels the transaction instead of miscounting, and so does a
//! repeat of a transaction that already happened.
//!
//! Zero. A count that falls to 0 stays as an item with `Books = 0` (a transaction cannot
//! delete an item only when an `ADD` leaves it at zero); listings skip it with a filter on
//! `Books > 0`, and `recount` deletes such items. A name that comes back counts from that item on.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::{
    error::SdkError,
    operation::transact_write_items::TransactWriteItemsError,
    types::{AttributeValue, TransactWriteItem, Update},
};

use super::{
    BookRepository, MAX_WRITE_ATTEMPTS, StoreError,
    client::{self, instrumented},
    cursor::{Cursor, Listing, Scope},
    error::Cancellation,
    expression::{Placeholders, WithPlaceholders},
    item::Item,
    listings::query_until,
};
use crate::domain::{CataloguePage, CatalogueRequest, NameCount, NameKind, SortOrder};

/// Suffix of the catalogue table's name; `migrations/0004_create_catalogue_table.json` uses it.
pub(super) const TABLE_SUFFIX: &str = "-catalogue";

/// Most items DynamoDB takes in one TransactWriteItems.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// Most books one batch can hold: each is an item of the batch's one transaction (its count
/// changes may leave room for fewer; `put_batch` says so then).
pub const MAX_BATCH_BOOKS: usize = MAX_TRANSACTION_ITEMS;

/// Most books a batch under an Idempotency-Key can hold: its record is one more item.
pub const MAX_KEYED_BATCH_BOOKS: usize = MAX_TRANSACTION_ITEMS - 1;

// Attribute names of a count item; the migration and `recount` use the same.

/// The partition key: `category` or `author`.
pub(crate) const KIND: &str = "Kind";
/// The sort key: the category or author.
pub(crate) const NAME: &str = "Name";
/// The number of books, a number.
pub(crate) const BOOKS: &str = "Books";

/// Name of the table that holds the counts of `table`.
pub fn catalogue_table(table: &str) -> String {
    format!("{table}{TABLE_SUFFIX}")
}

/// The key of one count item.
pub(crate) fn count_key(kind: NameKind, name: &str) -> Item {
    Item::from([
        (KIND.to_owned(), AttributeValue::S(kind.as_str().to_owned())),
        (NAME.to_owned(), AttributeValue::S(name.to_owned())),
    ])
}

/// The count changes of one write, merged per name: a transaction may not touch an item twice,
/// and a batch of ten books by one author is one `ADD 10` on that author.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct CountChanges(BTreeMap<(NameKind, String), i64>);

impl CountChanges {
    /// A book by `author` in `category` enters the table.
    pub(crate) fn joined(&mut self, author: &str, category: &str) {
        self.add(NameKind::Author, author, 1);
        self.add(NameKind::Category, category, 1);
    }

    /// A book by `author` in `category` leaves the table.
    pub(crate) fn left(&mut self, author: &str, category: &str) {
        self.add(NameKind::Author, author, -1);
        self.add(NameKind::Category, category, -1);
    }

    /// A book moves from one category to another.
    pub(crate) fn moved(&mut self, from: &str, to: &str) {
        self.add(NameKind::Category, from, -1);
        self.add(NameKind::Category, to, 1);
    }

    /// A name that fails the name rules (a category written by another tool) is never counted,
    /// exactly as `recount` leaves it out, so the two always agree.
    fn add(&mut self, kind: NameKind, name: &str, delta: i64) {
        if kind.accepts(name) {
            *self.0.entry((kind, name.to_owned())).or_default() += delta;
        }
    }

    /// The count items that change (a move within one category cancels out).
    fn changed(&self) -> impl Iterator<Item = (&(NameKind, String), &i64)> {
        self.0.iter().filter(|(_, delta)| **delta != 0)
    }

    /// How many count items the write touches.
    pub(crate) fn len(&self) -> usize {
        self.changed().count()
    }

    /// One `ADD Books :delta` per changed count item of `table`'s catalogue.
    pub(crate) fn writes(&self, table: &str) -> Result<Vec<TransactWriteItem>, StoreError> {
        let catalogue = catalogue_table(table);
        self.changed()
            .map(|((kind, name), delta)| {
                let mut p = Placeholders::default();
                let update = format!("ADD {} {}", p.name(BOOKS), p.number(delta));
                let write = Update::builder()
                    .table_name(&catalogue)
                    .set_key(Some(count_key(*kind, name)))
                    .update_expression(update)
                    .placeholders(&p)
                    .build()
                    .map_err(StoreError::unbuilt_transaction)?;
                Ok(TransactWriteItem::builder().update(write).build())
            })
            .collect()
    }
}

/// How a counted write of one book came out.
pub(crate) enum Counted {
    /// The book and its counts were written.
    Written,
    /// The book's condition failed; the item as it was when the engine hands it back
    /// (ReturnValuesOnConditionCheckFailure on the book's item), else `None`: the caller then
    /// learns the current item from a conditional write of its own.
    Refused(Option<Item>),
}

impl BookRepository {
    /// One TransactWriteItems: `book` (the book's conditional write, first), `record` (an
    /// Idempotency-Key record, second, when there is one) and the count changes. A transaction
    /// that another one held an item of (a hot count item, mostly) is tried again after a pause.
    pub(super) async fn write_counted(
        &self,
        book: TransactWriteItem,
        record: Option<TransactWriteItem>,
        changes: &CountChanges,
    ) -> Result<Counted, StoreError> {
        let record_at = record.is_some().then_some(1);
        let mut items = vec![book];
        items.extend(record);
        self.transact_counted(items, record_at, changes).await
    }

    /// One TransactWriteItems of `items` (the record, if any, at `record_at`) and the count
    /// changes after them, tried again while other transactions hold one of its items.
    /// `Refused` carries the image of the first item, when its condition failed.
    pub(super) async fn transact_counted(
        &self,
        mut items: Vec<TransactWriteItem>,
        record_at: Option<usize>,
        changes: &CountChanges,
    ) -> Result<Counted, StoreError> {
        items.extend(changes.writes(self.table())?);
        for attempt in 0..MAX_WRITE_ATTEMPTS as u32 {
            let call = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send();
            let Err(e) = instrumented("TransactWriteItems", call).await else {
                return Ok(Counted::Written);
            };
            match Cancellation::of(&e, record_at) {
                Some(Cancellation::ConditionFailed) => {
                    return Ok(Counted::Refused(refused_image(&e, 0)));
                }
                Some(Cancellation::TransactionConflict) => {
                    tokio::time::sleep(client::backoff(attempt)).await;
                }
                Some(c) => {
                    return Err(c
                        .terminal()
                        .unwrap_or_else(|| StoreError::from_sdk("TransactWriteItems", e)));
                }
                None => return Err(StoreError::from_sdk("TransactWriteItems", e)),
            }
        }
        Err(StoreError::Contention)
    }

    /// Query: one page of categories or authors with at least one book, in name order.
    ///
    /// Strongly consistent (the counts are a table's items, not an index's), so a write shows
    /// at once. It asks for one entry more than the page holds, so `next_cursor` is null on the
    /// last page; zero counts are filtered out by DynamoDB and may make it query on.
    pub async fn catalogue(
        &self,
        kind: NameKind,
        page: &CatalogueRequest,
    ) -> Result<CataloguePage, StoreError> {
        let listing = match kind {
            NameKind::Category => Listing::Categories,
            NameKind::Author => Listing::Authors,
        };
        let prefix = page.name_prefix.as_deref().filter(|p| !p.is_empty());
        let scope = Scope::new(listing, "", prefix, page.order);
        let start = page
            .cursor
            .as_deref()
            .map(|c| Cursor::decode(c, &scope))
            .transpose()?;
        let wanted = page.limit as usize + 1;
        let start_key = start.map(|c| count_key(kind, &c.title));
        let request = |limit| {
            let mut p = Placeholders::default();
            let mut key_condition = format!("{} = {}", p.name(KIND), p.string(kind.as_str()));
            if let Some(prefix) = prefix {
                key_condition.push_str(&format!(
                    " AND begins_with({}, {})",
                    p.name(NAME),
                    p.string(prefix)
                ));
            }
            let filter = format!("{} > {}", p.name(BOOKS), p.number(0));
            self.client
                .query()
                .table_name(catalogue_table(self.table()))
                .key_condition_expression(key_condition)
                .filter_expression(filter)
                .placeholders(&p)
                .scan_index_forward(page.order == SortOrder::Asc)
                .limit(limit)
                .consistent_read(true)
        };
        let mut items = query_until(wanted, start_key, request, |item| name_count(&item)).await?;
        let next_cursor = (items.len() > page.limit as usize).then(|| {
            items.truncate(page.limit as usize);
            let last = items.last().expect("limit is at least 1");
            Cursor {
                scope,
                title: last.name.clone(),
                author: None,
            }
            .encode()
        });
        Ok(CataloguePage { items, next_cursor })
    }
}

/// A count item as an entry.
pub(crate) fn name_count(item: &Item) -> Result<NameCount, StoreError> {
    let name = match item.get(NAME) {
        Some(AttributeValue::S(name)) => name.clone(),
        _ => return Err(malformed("a count item without a Name")),
    };
    let books = match item.get(BOOKS) {
        Some(AttributeValue::N(n)) => n.parse::<i64>().ok(),
        None => Some(0),
        _ => None,
    }
    .ok_or_else(|| malformed("a count item whose Books is not an integer"))?;
    Ok(NameCount {
        name,
        books: u64::try_from(books).unwrap_or(0),
    })
}

fn malformed(what: &str) -> StoreError {
    tracing::error!(what, "malformed item in the catalogue table");
    StoreError::Internal(format!("malformed catalogue item: {what}"))
}

/// The item DynamoDB handed back for the transaction item at `index` whose condition failed.
fn refused_image<R>(err: &SdkError<TransactWriteItemsError, R>, index: usize) -> Option<Item> {
    let Some(TransactWriteItemsError::TransactionCanceledException(c)) = err.as_service_error()
    else {
        return None;
    };
    c.cancellation_reasons().get(index)?.item().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_merge_per_name_and_drop_what_cancels_out() {
        let mut changes = CountChanges::default();
        changes.joined("Ann", "Suspense");
        changes.joined("Ann", "Suspense");
        changes.moved("Suspense", "Drama");
        changes.moved("Drama", "Suspense");
        changes.left("Bob", "Drama");
        assert_eq!(changes.len(), 4);
        let deltas: Vec<_> = changes
            .changed()
            .map(|((k, n), d)| (k.as_str(), n.as_str(), *d))
            .collect();
        assert_eq!(
            deltas,
            [
                ("category", "Drama", -1),
                ("category", "Suspense", 2),
                ("author", "Ann", 2),
                ("author", "Bob", -1),
            ]
        );
    }

    #[test]
    fn a_name_that_fails_the_rules_is_never_counted() {
        let mut changes = CountChanges::default();
        changes.left("Ann", "");
        changes.moved(" Bad", "Good");
        assert_eq!(changes.len(), 2);
        assert!(
            changes
                .0
                .keys()
                .all(|(_, name)| name == "Ann" || name == "Good")
        );
    }

    #[test]
    fn the_migration_creates_the_table_this_module_uses() {
        let migration: serde_json::Value = serde_json::from_str(include_str!(
            "../../migrations/0004_create_catalogue_table.json"
        ))
        .unwrap();
        let step = &migration["create_companion_table"];
        assert_eq!(step["suffix"], TABLE_SUFFIX);
        assert_eq!(step["partition_key"]["name"], KIND);
        assert_eq!(step["sort_key"]["name"], NAME);
    }

    #[test]
    fn counts_read_back_and_never_go_negative() {
        let mut item = count_key(NameKind::Category, "Suspense");
        item.insert(BOOKS.into(), AttributeValue::N("3".into()));
        assert_eq!(
            name_count(&item).unwrap(),
            NameCount {
                name: "Suspense".into(),
                books: 3
            }
        );
        item.insert(BOOKS.into(), AttributeValue::N("-2".into()));
        assert_eq!(name_count(&item).unwrap().books, 0);
    }
}
