//! Loads books that do not exist yet (the `seed` command).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{BookRepository, error::StoreError};
use crate::domain::{FieldError, NewBook, Repeats};

/// The tutorial's five sample books, shipped with the binary.
pub const TUTORIAL_BOOKS: &str = include_str!("../../data/tutorial_books.json");

/// PutItem calls in flight while seeding: enough to load the benchmark's 10,000 books in seconds.
const SEED_CONCURRENCY: usize = 16;

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
    let books = raw
        .into_iter()
        .map(|b| NewBook::parse(b.author, b.title, b.category, b.formats));
    // `seed` creates only what is missing, so a repeated book is simply kept.
    NewBook::parse_list("", books, Repeats::Allowed).map_err(SeedFileError::Invalid)
}

/// What a seed run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    /// Books that did not exist and were written.
    pub created: usize,
    /// Books that already existed and were left as they are.
    pub kept: usize,
}

impl BookRepository {
    /// Creates every book that does not exist yet, leaving existing ones untouched, so seeding
    /// twice (or after a user changed a seeded book) loses nothing.
    ///
    /// One conditional PutItem per book, [`SEED_CONCURRENCY`] at a time: BatchWriteItem would be
    /// fewer calls but cannot carry a condition, so it would overwrite what a user changed.
    pub async fn seed(&self, books: &[NewBook]) -> Result<SeedReport, StoreError> {
        let mut report = SeedReport {
            created: 0,
            kept: 0,
        };
        let mut pending = books.iter();
        let mut running = tokio::task::JoinSet::new();
        loop {
            while running.len() < SEED_CONCURRENCY {
                let Some(book) = pending.next() else { break };
                let (repo, book) = (self.clone(), book.clone());
                running.spawn(async move { repo.create(&book).await });
            }
            let Some(done) = running.join_next().await else {
                return Ok(report);
            };
            match done.map_err(|e| StoreError::Internal(format!("seed task: {e}")))? {
                Ok(_) => report.created += 1,
                Err(StoreError::AlreadyExists) => report.kept += 1,
                Err(e) => return Err(e),
            }
        }
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
