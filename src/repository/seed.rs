//! Loads books in bulk with BatchWriteItem (the `seed` command).

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use serde::Deserialize;

use super::{
    BookRepository,
    client::{backoff, instrumented},
    error::StoreError,
    item::{BookItem, now_timestamp},
};
use crate::domain::{FieldError, NewBook};

/// The tutorial's five sample books, shipped with the binary.
pub const TUTORIAL_BOOKS: &str = include_str!("../../data/tutorial_books.json");

/// BatchWriteItem takes at most 25 requests.
const BATCH_SIZE: usize = 25;
/// Rounds of retrying UnprocessedItems before giving up.
const MAX_ROUNDS: u32 = 10;

/// One book in a seed file: the same fields as `POST /books`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedBook {
    author: String,
    title: String,
    category: String,
    #[serde(default)]
    formats: Option<BTreeMap<String, String>>,
}

/// Why a seed file was refused.
#[derive(Debug, thiserror::Error)]
pub enum SeedFileError {
    /// Not a JSON array of books.
    #[error("not a JSON array of books: {0}")]
    Json(#[from] serde_json::Error),
    /// A book fails validation.
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
}

/// Parses and validates a seed file (a JSON array of books).
pub fn parse_books(json: &str) -> Result<Vec<NewBook>, SeedFileError> {
    let raw: Vec<SeedBook> = serde_json::from_str(json)?;
    let mut errors = Vec::new();
    let mut books = Vec::with_capacity(raw.len());
    for (i, b) in raw.into_iter().enumerate() {
        match NewBook::parse(b.author, b.title, b.category, b.formats) {
            Ok(book) => books.push(book),
            Err(e) => errors.extend(e.into_iter().map(|e| e.within(&format!("[{i}]")))),
        }
    }
    if errors.is_empty() {
        Ok(books)
    } else {
        Err(SeedFileError::Invalid(errors))
    }
}

impl BookRepository {
    /// Writes every book with BatchWriteItem, 25 at a time, retrying UnprocessedItems (which
    /// DynamoDB returns with HTTP 200 and the SDK does not retry) with backoff.
    ///
    /// A seeded book is written whole, version 1: seeding replaces books it loads.
    pub async fn seed(&self, books: &[NewBook]) -> Result<usize, StoreError> {
        let now = now_timestamp();
        for chunk in books.chunks(BATCH_SIZE) {
            let mut pending = chunk
                .iter()
                .map(|book| {
                    let item = BookItem::new(book, &now)
                        .to_item()
                        .map_err(StoreError::malformed_item)?;
                    let put = PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .map_err(|e| StoreError::Internal(e.to_string()))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let mut round = 0;
            while !pending.is_empty() {
                if round == MAX_ROUNDS {
                    return Err(StoreError::Unavailable(format!(
                        "BatchWriteItem: {} items still unprocessed",
                        pending.len()
                    )));
                }
                if round > 0 {
                    tokio::time::sleep(backoff(round)).await;
                }
                let call = self
                    .client()
                    .batch_write_item()
                    .request_items(self.table(), pending)
                    .send();
                let output = instrumented("BatchWriteItem", call)
                    .await
                    .map_err(|e| StoreError::from_sdk("BatchWriteItem", e))?;
                pending = output
                    .unprocessed_items
                    .and_then(|mut u| u.remove(self.table()))
                    .unwrap_or_default();
                round += 1;
            }
        }
        Ok(books.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tutorial_books_parse() {
        let books = parse_books(TUTORIAL_BOOKS).unwrap();
        assert_eq!(books.len(), 5);
        assert_eq!(books[0].key.title.as_str(), "The Rainmaker");
    }

    #[test]
    fn a_bad_book_is_named_by_position() {
        let err = parse_books(r#"[{"author":"A","title":"","category":"C"}]"#).unwrap_err();
        assert_eq!(err.to_string(), "[0].title: must not be empty");
    }
}
