//! The Books table: one method per route, one DynamoDB operation per method.
//!
//! Only this module knows attribute names, expressions and SDK errors. The rare exceptions to
//! "one operation" are spelled out on the methods that have them.
//!
//! One file per family of routes, as `seed` and `idempotency` are: `books` (one book by key),
//! `formats` (and `merge_patch`), `listings`, `batch`. The table's item shape is `item`'s alone
//! and the sorting of SDK errors `error`'s, so every operation reads and fails the same way.

mod batch;
mod books;
mod catalogue;
mod client;
mod cursor;
mod error;
mod expression;
mod formats;
mod idempotency;
mod item;
mod listings;
mod merge_patch;
pub mod migrate;
mod recount;
pub mod seed;

use std::sync::Arc;

use aws_sdk_dynamodb::{
    Client,
    types::{IndexStatus, TableStatus},
};

pub use catalogue::{
    MAX_BATCH_BOOKS, MAX_KEYED_BATCH_BOOKS, MAX_TRANSACTION_ITEMS, catalogue_table,
};
pub use client::{ClientTimeouts, build_client, build_client_with, load_sdk_config};
pub use error::StoreError;
pub use idempotency::{KeyedOutcome, KeyedRequest, RecordedAnswer, records_table};
pub use listings::BooksOf;
pub use recount::{CountFix, RecountReport, recount};

use crate::domain::Book;
use client::instrumented;
use item::{BookItem, Item};

/// The suffixes of the tables kept beside the Books table: the migration ledger, the
/// Idempotency-Key records and the catalogue's counts.
const COMPANION_SUFFIXES: [&str; 3] = [
    migrate::LEDGER_SUFFIX,
    idempotency::TABLE_SUFFIX,
    catalogue::TABLE_SUFFIX,
];

/// The longest Books table name whose companion tables' names DynamoDB still accepts (255).
pub const MAX_TABLE_NAME: usize = {
    let mut longest = 0;
    let mut i = 0;
    while i < COMPANION_SUFFIXES.len() {
        if COMPANION_SUFFIXES[i].len() > longest {
            longest = COMPANION_SUFFIXES[i].len();
        }
        i += 1;
    }
    255 - longest
};

/// Name of the global secondary index that serves category listings.
pub const CATEGORY_INDEX: &str = "CategoryIndex";

/// How often a write retries when other writers keep changing the book under it.
const MAX_WRITE_ATTEMPTS: usize = 5;

/// How many races a write that moves a book between catalogue counts (PUT, DELETE) may lose
/// before it answers 409. Each lost race is another writer's success, so writers always make
/// progress, but one of N writers racing on a book can lose N - 1 times in a row: 20 plain PUTs
/// at once must all land, each with its own version, as they did when a PUT was one UpdateItem.
/// The request deadline still bounds the time.
const MAX_RACES_LOST: usize = 64;

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

/// Reads a stored item as a book; a malformed one is logged and becomes a 500.
fn parse_book(item: Item) -> Result<Book, StoreError> {
    BookItem::from_item(item)
        .map(BookItem::into_book)
        .map_err(StoreError::malformed_item)
}
