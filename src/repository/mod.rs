//! The Books table: one method per route, one DynamoDB operation per method.
//!
//! Only this module knows attribute names, expressions and SDK errors. The rare exceptions to
//! "one operation" are spelled out on the methods that have them.

mod client;
mod cursor;
mod error;
mod expression;
mod idempotency;
mod item;
mod merge_patch;
pub mod migrate;
pub mod seed;

use std::{collections::HashSet, sync::Arc};

use aws_sdk_dynamodb::{
    Client,
    operation::{
        delete_item::DeleteItemError, put_item::PutItemError, update_item::UpdateItemError,
    },
    types::{
        AttributeValue, IndexStatus, KeysAndAttributes, ReturnValue,
        ReturnValuesOnConditionCheckFailure, TableStatus, TransactWriteItem, Update,
    },
};

pub use client::{build_client, load_sdk_config};
use error::Cancellation;
pub use error::StoreError;
pub use idempotency::{KeyedOutcome, KeyedRequest, StoredResponse, records_table};

use crate::domain::{
    Author, BatchOutcome, Book, BookContent, BookKey, Category, Expectation, FormatChange,
    MAX_FORMATS, NewBook, Page, PageRequest, Revision, SortOrder,
};
use client::instrumented;
use cursor::{Cursor, Scope};
use expression::{Placeholders, expectation_condition};
use item::{
    AUTHOR, BookItem, CATEGORY, CREATED_AT, FORMATS, INCARNATION, Item, TITLE, UPDATED_AT, VERSION,
    now_timestamp, parse_timestamp,
};

/// Name of the global secondary index that serves category listings.
pub const CATEGORY_INDEX: &str = "CategoryIndex";

/// How often a write retries when other writers keep changing the book under it.
const MAX_WRITE_ATTEMPTS: usize = 5;

/// The repository over one Books table. Cheap to clone: the client is shared.
#[derive(Clone, Debug)]
pub struct BookRepository {
    client: Client,
    table: Arc<str>,
    /// Idempotency keys of requests in progress in this process (see `idempotency`).
    in_flight: Arc<idempotency::InFlight>,
}

impl BookRepository {
    /// A repository over `table`, using an already built client.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: Arc::from(table.into()),
            in_flight: Arc::default(),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The SDK client, shared with migrations and seeding.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// GetItem, strongly consistent.
    pub async fn get(&self, key: &BookKey) -> Result<Option<Book>, StoreError> {
        let call = self
            .client
            .get_item()
            .table_name(self.table())
            .set_key(Some(item::key(key)))
            .consistent_read(true)
            .send();
        let output = instrumented("GetItem", call)
            .await
            .map_err(|e| StoreError::from_sdk("GetItem", e))?;
        output.item.map(parse_book).transpose()
    }

    /// PutItem with `attribute_not_exists(Author)`: creates the book or reports that it exists.
    pub async fn create(&self, book: &NewBook) -> Result<Book, StoreError> {
        let stored = BookItem::new(book, &now_timestamp());
        let mut p = Placeholders::default();
        let condition = expectation_condition(&Expectation::absent(), &mut p);
        let call = self
            .client
            .put_item()
            .table_name(self.table())
            .set_item(Some(stored.to_item().map_err(StoreError::malformed_item)?))
            .set_condition_expression(condition)
            .set_expression_attribute_names(p.names())
            .send();
        match instrumented("PutItem", call).await {
            Ok(_) => Ok(stored.into_book()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Err(StoreError::AlreadyExists)
            }
            Err(e) => Err(StoreError::from_sdk("PutItem", e)),
        }
    }

    /// UpdateItem as an upsert: replaces category and formats, keeps `CreatedAt`, bumps `Version`.
    ///
    /// Returns the book as stored and whether it was created. This one asks DynamoDB for ALL_OLD
    /// rather than ALL_NEW: the old image is the only way to tell "created" from "replaced" in one
    /// round trip, and the new image follows from it exactly (every attribute we serve is set here
    /// or derived from the old value, atomically).
    pub async fn put(
        &self,
        book: &NewBook,
        expectation: &Expectation,
    ) -> Result<(Book, bool), StoreError> {
        let now = now_timestamp();
        let fresh = Revision::new_incarnation();
        let mut p = Placeholders::default();
        let update = replace_expression(&book.content, &now, &fresh, &mut p);
        let condition = expectation_condition(expectation, &mut p);
        let call = self
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(item::key(&book.key)))
            .update_expression(update)
            .set_condition_expression(condition)
            .set_expression_attribute_names(p.names())
            .set_expression_attribute_values(p.values())
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send();
        let old = match instrumented("UpdateItem", call).await {
            Ok(output) => item::stored_image(output.attributes),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(ccf)) => {
                    return Err(precondition_failed(ccf.item()));
                }
                _ => return Err(StoreError::from_sdk("UpdateItem", e)),
            },
        };
        let old = old
            .map(BookItem::from_item)
            .transpose()
            .map_err(StoreError::malformed_item)?;
        let created = old.is_none();
        let stored = Book {
            author: book.key.author.to_string(),
            title: book.key.title.to_string(),
            category: book.content.category.to_string(),
            formats: formats_as_strings(&book.content),
            version: old.as_ref().map_or(0, |o| o.version) + 1,
            incarnation: Some(
                old.as_ref()
                    .and_then(|o| o.incarnation.clone())
                    .unwrap_or(fresh),
            ),
            created_at: match old.and_then(|o| o.created_at) {
                Some(kept) => parse_timestamp(&kept),
                None => parse_timestamp(&now),
            },
            updated_at: parse_timestamp(&now),
        };
        Ok((stored, created))
    }

    /// DeleteItem; a missing book is `NotFound` (or `PreconditionFailed` under If-Match).
    pub async fn delete(&self, key: &BookKey, expectation: &Expectation) -> Result<(), StoreError> {
        let mut p = Placeholders::default();
        let condition = expectation_condition(expectation, &mut p);
        let call = self
            .client
            .delete_item()
            .table_name(self.table())
            .set_key(Some(item::key(key)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(p.names())
            .set_expression_attribute_values(p.values())
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send();
        match instrumented("DeleteItem", call).await {
            Ok(output) => match item::stored_image(output.attributes) {
                Some(_) => Ok(()),
                None => Err(StoreError::NotFound),
            },
            Err(e) => match e.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(ccf)) => {
                    Err(precondition_failed(ccf.item()))
                }
                _ => Err(StoreError::from_sdk("DeleteItem", e)),
            },
        }
    }

    /// UpdateItem on the `Formats` map: `SET Formats.#n = :v`, `REMOVE Formats.#m`, `ADD Version 1`.
    ///
    /// The 32-format cap is enforced by the condition `size(Formats) <= 32 - added`, which is exact
    /// unless added names already exist or removed ones are counted. When that conservative check
    /// (or a missing `Formats` map on an item from another tool) fails, DynamoDB hands back the old
    /// item; the exact result is computed from it and written with `Version = :seen`, so the cap
    /// still holds atomically. Only that rare path costs a second operation.
    pub async fn update_formats(
        &self,
        key: &BookKey,
        change: &FormatChange,
        expectation: &Expectation,
    ) -> Result<Book, StoreError> {
        self.update_content(key, None, change, expectation).await
    }

    /// `update_formats`, also setting `Category` when one is given, in the same write.
    async fn update_content(
        &self,
        key: &BookKey,
        category: Option<&Category>,
        change: &FormatChange,
        expectation: &Expectation,
    ) -> Result<Book, StoreError> {
        let now = now_timestamp();
        let mut p = Placeholders::default();
        let formats = p.name(FORMATS);
        let mut sets: Vec<String> = change
            .add()
            .iter()
            .map(|(name, id)| {
                format!(
                    "{formats}.{} = {}",
                    p.name(name.as_str()),
                    p.string(id.as_str())
                )
            })
            .collect();
        sets.push(format!("{} = {}", p.name(UPDATED_AT), p.string(&now)));
        sets.extend(set_category(category, &mut p));
        let removes: Vec<String> = change
            .remove()
            .iter()
            .map(|name| format!("{formats}.{}", p.name(name.as_str())))
            .collect();
        let mut update = format!(
            "SET {} ADD {} {}",
            sets.join(", "),
            p.name(VERSION),
            p.number(1)
        );
        if !removes.is_empty() {
            update.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let room = MAX_FORMATS - change.add().len();
        // `attribute_exists` first: real DynamoDB reads `size` of a missing map as false, but
        // some engines (moto) fail the whole request instead.
        let mut condition = format!(
            "attribute_exists({}) AND attribute_exists({formats}) AND size({formats}) <= {}",
            p.name(AUTHOR),
            p.number(room)
        );
        if let Some(expected) = expectation_condition(expectation, &mut p) {
            condition = expression::conjoin(&[condition, expected]);
        }
        let first = self.update_returning_new(key, update, condition, p).await?;
        let mut seen = match first {
            UpdateResult::Written(book) => return Ok(book),
            UpdateResult::Refused(old) => old,
        };
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let old = match seen {
                None if expectation.holds_for(None) => return Err(StoreError::NotFound),
                None => return Err(StoreError::PreconditionFailed(None)),
                Some(old) if !expectation.holds_for(Some(&old.revision())) => {
                    return Err(StoreError::PreconditionFailed(Some(Box::new(
                        old.into_book(),
                    ))));
                }
                Some(old) => old,
            };
            let next = change.apply_to(&old.formats);
            if next.len() > MAX_FORMATS {
                return Err(StoreError::TooManyFormats(next.len()));
            }
            let mut p = Placeholders::default();
            let next =
                serde_dynamo::to_attribute_value(&next).map_err(StoreError::malformed_item)?;
            let mut sets = vec![
                format!("{} = {}", p.name(FORMATS), p.value(next)),
                format!("{} = {}", p.name(UPDATED_AT), p.string(&now)),
            ];
            sets.extend(set_category(category, &mut p));
            let update = format!(
                "SET {} ADD {} {}",
                sets.join(", "),
                p.name(VERSION),
                p.number(1)
            );
            let condition = expectation_condition(&Expectation::revision(old.revision()), &mut p)
                .expect("a revision always yields a condition");
            seen = match self.update_returning_new(key, update, condition, p).await? {
                UpdateResult::Written(book) => return Ok(book),
                UpdateResult::Refused(old) => old,
            };
        }
        Err(StoreError::Contention)
    }

    /// One UpdateItem with ALL_NEW, handing back the old item when the condition fails.
    async fn update_returning_new(
        &self,
        key: &BookKey,
        update: String,
        condition: String,
        p: Placeholders,
    ) -> Result<UpdateResult, StoreError> {
        let call = self
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(item::key(key)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(p.names())
            .set_expression_attribute_values(p.values())
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send();
        match instrumented("UpdateItem", call).await {
            Ok(output) => {
                let item = output.attributes.unwrap_or_default();
                Ok(UpdateResult::Written(parse_book(item)?))
            }
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(ccf)) => {
                    let old = item::stored_image(ccf.item().cloned())
                        .map(|i| BookItem::from_item(i).map_err(StoreError::malformed_item))
                        .transpose()?;
                    Ok(UpdateResult::Refused(old))
                }
                _ => Err(StoreError::from_sdk("UpdateItem", e)),
            },
        }
    }

    /// Query on the table: one author's books, strongly consistent, in title order.
    pub async fn list_by_author(
        &self,
        author: &Author,
        page: &PageRequest,
    ) -> Result<Page, StoreError> {
        self.list(Listing::Author, author.as_str(), page).await
    }

    /// Query on `CategoryIndex`: one category's books in title order (eventually consistent).
    pub async fn list_by_category(
        &self,
        category: &Category,
        page: &PageRequest,
    ) -> Result<Page, StoreError> {
        self.list(Listing::Category, category.as_str(), page).await
    }

    /// Fetches one page. It asks for one item more than the page holds, so `next_cursor` is
    /// null on the last page and no page after the first is ever empty. DynamoDB's 1 MB cap can
    /// cut a query short; then it queries on from where it stopped (never with our item sizes).
    async fn list(
        &self,
        listing: Listing,
        partition: &str,
        page: &PageRequest,
    ) -> Result<Page, StoreError> {
        let prefix = page.title_prefix.as_deref().filter(|p| !p.is_empty());
        let scope = Scope::new(listing.kind(), partition, prefix, page.order);
        let start = page
            .cursor
            .as_deref()
            .map(|c| Cursor::decode(c, &scope))
            .transpose()?;
        let mut start_key = start.map(|c| listing.start_key(partition, c));
        let wanted = page.limit as usize + 1;
        let mut books = Vec::with_capacity(wanted);
        loop {
            let mut p = Placeholders::default();
            let mut key_condition = format!(
                "{} = {}",
                p.name(listing.partition_attribute()),
                p.string(partition)
            );
            if let Some(prefix) = prefix {
                key_condition.push_str(&format!(
                    " AND begins_with({}, {})",
                    p.name(TITLE),
                    p.string(prefix)
                ));
            }
            let call = self
                .client
                .query()
                .table_name(self.table())
                .set_index_name(listing.index().map(str::to_owned))
                .key_condition_expression(key_condition)
                .set_expression_attribute_names(p.names())
                .set_expression_attribute_values(p.values())
                .scan_index_forward(page.order == SortOrder::Asc)
                .limit((wanted - books.len()) as i32)
                .set_consistent_read(listing.index().is_none().then_some(true))
                .set_exclusive_start_key(start_key.take())
                .send();
            let output = instrumented("Query", call)
                .await
                .map_err(|e| StoreError::from_sdk("Query", e))?;
            for item in output.items.unwrap_or_default() {
                books.push(parse_book(item)?);
            }
            start_key = output.last_evaluated_key.filter(|k| !k.is_empty());
            if books.len() >= wanted || start_key.is_none() {
                break;
            }
        }
        let next_cursor = if books.len() > page.limit as usize {
            books.truncate(page.limit as usize);
            let last = books.last().expect("limit is at least 1");
            Some(
                Cursor {
                    scope,
                    title: last.title.clone(),
                    author: (listing == Listing::Category).then(|| last.author.clone()),
                }
                .encode(),
            )
        } else {
            None
        };
        Ok(Page {
            items: books,
            next_cursor,
        })
    }

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
    async fn put_batch_with(
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
            let mut writes = Vec::with_capacity(books.len());
            for book in books {
                let mut p = Placeholders::default();
                let fresh = Revision::new_incarnation();
                let update = replace_expression(&book.content, &now, &fresh, &mut p);
                let exists =
                    existing.contains(&(book.key.author.to_string(), book.key.title.to_string()));
                let expect = if exists {
                    Expectation::exists()
                } else {
                    Expectation::absent()
                };
                let condition = expectation_condition(&expect, &mut p);
                let write = Update::builder()
                    .table_name(self.table())
                    .set_key(Some(item::key(&book.key)))
                    .update_expression(update)
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(p.names())
                    .set_expression_attribute_values(p.values())
                    .build()
                    .map_err(|e| StoreError::Internal(format!("building a transaction: {e}")))?;
                writes.push(TransactWriteItem::builder().update(write).build());
            }
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

    /// Which of these books exist, by (author, title), read consistently.
    async fn existing_keys(
        &self,
        books: &[NewBook],
    ) -> Result<HashSet<(String, String)>, StoreError> {
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

    /// DescribeTable: whether the table and `CategoryIndex` can serve (ACTIVE or UPDATING).
    pub async fn is_ready(&self) -> Result<bool, StoreError> {
        let call = self.client.describe_table().table_name(self.table()).send();
        let output = instrumented("DescribeTable", call)
            .await
            .map_err(|e| StoreError::from_sdk("DescribeTable", e))?;
        let Some(table) = output.table else {
            return Ok(false);
        };
        // UPDATING (another index being added, a capacity change, streams) still serves every
        // call; failing readiness then would take every task out of the load balancer at once.
        // A CategoryIndex still CREATING cannot answer category listings, so it is not ready.
        let index_serves = table.global_secondary_indexes().iter().any(|index| {
            index.index_name() == Some(CATEGORY_INDEX)
                && matches!(
                    index.index_status(),
                    Some(IndexStatus::Active | IndexStatus::Updating)
                )
        });
        let table_serves = matches!(
            table.table_status(),
            Some(TableStatus::Active | TableStatus::Updating)
        );
        Ok(table_serves && index_serves)
    }
}

/// What a conditional UpdateItem came back with.
enum UpdateResult {
    /// The write happened; the book as stored.
    Written(Book),
    /// The condition failed; the item as it was (none if it does not exist).
    Refused(Option<BookItem>),
}

/// The two listings and how each maps onto the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    Author,
    Category,
}

impl Listing {
    fn kind(self) -> &'static str {
        match self {
            Self::Author => "author",
            Self::Category => "category",
        }
    }

    fn partition_attribute(self) -> &'static str {
        match self {
            Self::Author => AUTHOR,
            Self::Category => CATEGORY,
        }
    }

    fn index(self) -> Option<&'static str> {
        match self {
            Self::Author => None,
            Self::Category => Some(CATEGORY_INDEX),
        }
    }

    /// The ExclusiveStartKey for a cursor. A GSI's key carries the table's keys too.
    fn start_key(self, partition: &str, cursor: Cursor) -> Item {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let mut key = Item::from([(TITLE.to_owned(), s(&cursor.title))]);
        match self {
            Self::Author => {
                key.insert(AUTHOR.to_owned(), s(partition));
            }
            Self::Category => {
                key.insert(CATEGORY.to_owned(), s(partition));
                key.insert(
                    AUTHOR.to_owned(),
                    s(cursor.author.as_deref().unwrap_or_default()),
                );
            }
        }
        key
    }
}

/// The update that writes a book as `PUT` does: replaces content, keeps `CreatedAt` and
/// `Incarnation` (or sets them, with `fresh`, on a new book), bumps `Version`.
fn replace_expression(
    content: &BookContent,
    now: &str,
    fresh: &str,
    p: &mut Placeholders,
) -> String {
    let formats = formats_as_strings(content);
    let formats = serde_dynamo::to_attribute_value(&formats).expect("a string map always converts");
    let version = p.name(VERSION);
    let created = p.name(CREATED_AT);
    let incarnation = p.name(INCARNATION);
    let now = p.string(now);
    let fresh = p.string(fresh);
    format!(
        "SET {} = {}, {} = {}, {} = {now}, {created} = if_not_exists({created}, {now}), \
         {incarnation} = if_not_exists({incarnation}, {fresh}), \
         {version} = if_not_exists({version}, {}) + {}",
        p.name(CATEGORY),
        p.string(content.category.as_str()),
        p.name(FORMATS),
        p.value(formats),
        p.name(UPDATED_AT),
        p.number(0),
        p.number(1),
    )
}

/// The `SET` clause of a category change, if there is one.
fn set_category(category: Option<&Category>, p: &mut Placeholders) -> Option<String> {
    category.map(|c| format!("{} = {}", p.name(CATEGORY), p.string(c.as_str())))
}

fn formats_as_strings(content: &BookContent) -> std::collections::BTreeMap<String, String> {
    content
        .formats
        .iter()
        .map(|(name, id)| (name.to_string(), id.to_string()))
        .collect()
}

fn parse_book(item: Item) -> Result<Book, StoreError> {
    BookItem::from_item(item)
        .map(BookItem::into_book)
        .map_err(StoreError::malformed_item)
}

/// The error for a write whose condition failed, with the stored book DynamoDB handed back
/// (ReturnValuesOnConditionCheckFailure ALL_OLD). A stored item that does not parse still fails
/// the precondition; it is logged and left out rather than turned into a 500.
fn precondition_failed(image: Option<&Item>) -> StoreError {
    let current = item::stored_image(image.cloned()).and_then(|i| match parse_book(i) {
        Ok(book) => Some(Box::new(book)),
        Err(_) => None,
    });
    StoreError::PreconditionFailed(current)
}
