//! The book and the changes that can be asked of it.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use super::names::{Author, Category, FormatId, FormatName, Title};
use super::revision::Revision;

/// Most formats a book may have after any write.
pub const MAX_FORMATS: usize = 32;

/// The formats of a book to be written, by name.
pub type Formats = BTreeMap<FormatName, FormatId>;

/// What identifies one book: its author and title.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BookKey {
    /// The partition key.
    pub author: Author,
    /// The sort key.
    pub title: Title,
}

/// The fields a client sets on a book; everything else is kept by the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookContent {
    /// The category the book is browsed under.
    pub category: Category,
    /// The book's formats; empty is stored as an empty map.
    pub formats: Formats,
}

/// A complete book to create or replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBook {
    /// Which book.
    pub key: BookKey,
    /// What it holds.
    pub content: BookContent,
}

/// A book as stored.
///
/// Its strings are plain because items written by other tools (the tutorial's boto3 scripts)
/// are served as they are, even when they would not pass today's input rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Book {
    /// The author (partition key).
    pub author: String,
    /// The title (sort key).
    pub title: String,
    /// The category; empty when another tool stored none.
    pub category: String,
    /// Format name to format id.
    pub formats: BTreeMap<String, String>,
    /// The optimistic-concurrency counter; 0 for items no write of ours has touched.
    pub version: u64,
    /// Set when the book was created, kept until it is deleted; none for other tools' items.
    pub incarnation: Option<String>,
    /// When the book was first written by this service.
    pub created_at: Option<OffsetDateTime>,
    /// When the book was last written by this service.
    pub updated_at: Option<OffsetDateTime>,
}

impl Book {
    /// The revision this book is at, which its entity tag names.
    pub fn revision(&self) -> Revision {
        Revision {
            version: self.version,
            incarnation: self.incarnation.clone(),
        }
    }
}

/// A change to a book's formats: names to set and names to drop.
///
/// The default changes nothing; only a merge patch that sets the category alone asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FormatChange {
    add: Formats,
    remove: BTreeSet<FormatName>,
}

/// Why a format change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatChangeError {
    /// Neither `add` nor `remove` names anything.
    #[error("the change must add or remove at least one format")]
    Empty,
    /// One name is both added and removed.
    #[error("format '{0}' is both added and removed")]
    AddedAndRemoved(String),
    /// More formats are added than a book can hold.
    #[error("a book has at most {MAX_FORMATS} formats, the change adds {0}")]
    TooMany(usize),
    /// More names are removed than a book can hold (a bound on the DynamoDB expression, too).
    #[error("a change removes at most {MAX_FORMATS} formats, this one removes {0}")]
    TooManyRemoved(usize),
}

impl FormatChange {
    /// Builds a change, refusing an empty one or one name on both sides.
    pub fn new(add: Formats, remove: BTreeSet<FormatName>) -> Result<Self, FormatChangeError> {
        if add.is_empty() && remove.is_empty() {
            return Err(FormatChangeError::Empty);
        }
        if let Some(name) = add.keys().find(|name| remove.contains(*name)) {
            return Err(FormatChangeError::AddedAndRemoved(name.to_string()));
        }
        if add.len() > MAX_FORMATS {
            return Err(FormatChangeError::TooMany(add.len()));
        }
        // A book never holds more than MAX_FORMATS names, so a longer list removes nothing more,
        // and it keeps the UpdateExpression far inside DynamoDB's 4 KB limit.
        if remove.len() > MAX_FORMATS {
            return Err(FormatChangeError::TooManyRemoved(remove.len()));
        }
        Ok(Self { add, remove })
    }

    /// The formats to set.
    pub fn add(&self) -> &Formats {
        &self.add
    }

    /// The format names to drop.
    pub fn remove(&self) -> &BTreeSet<FormatName> {
        &self.remove
    }

    /// The formats a book would hold after this change is applied to `current`.
    pub fn apply_to(&self, current: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut next = current.clone();
        for name in &self.remove {
            next.remove(name.as_str());
        }
        for (name, id) in &self.add {
            next.insert(name.to_string(), id.to_string());
        }
        next
    }
}

/// Direction of a listing, by title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// A to Z.
    #[default]
    Asc,
    /// Z to A.
    Desc,
}

impl SortOrder {
    /// The name used in query strings and cursors.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }
}

/// Smallest page size a client may ask for.
pub const PAGE_LIMIT_MIN: u32 = 1;
/// Largest page size a client may ask for.
pub const PAGE_LIMIT_MAX: u32 = 100;
/// Page size when the client names none.
pub const PAGE_LIMIT_DEFAULT: u32 = 20;

/// One page of a listing to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// How many books at most (already within the limits above).
    pub limit: u32,
    /// Title order.
    pub order: SortOrder,
    /// Only titles starting with this, when set.
    pub title_prefix: Option<String>,
    /// Where the previous page stopped, as the opaque string the client got.
    pub cursor: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The books, in the requested title order.
    pub items: Vec<Book>,
    /// The cursor for the next page, `None` on the last.
    pub next_cursor: Option<String>,
}

/// What a whole-book write did, with the book as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// The book did not exist and was created.
    Created(Book),
    /// The book existed and was replaced.
    Replaced(Book),
}

/// How a batch write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Books that did not exist before.
    pub created: usize,
    /// Books that were replaced.
    pub replaced: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> FormatName {
        FormatName::parse(s).unwrap()
    }

    #[test]
    fn a_change_must_do_something_and_not_contradict_itself() {
        assert_eq!(
            FormatChange::new(Formats::new(), BTreeSet::new()),
            Err(FormatChangeError::Empty)
        );
        let add = Formats::from([(name("Hardcover"), FormatId::parse("X").unwrap())]);
        let remove = BTreeSet::from([name("Hardcover")]);
        assert_eq!(
            FormatChange::new(add, remove),
            Err(FormatChangeError::AddedAndRemoved("Hardcover".into()))
        );
    }

    #[test]
    fn apply_to_sets_and_drops() {
        let add = Formats::from([(name("Audiobook"), FormatId::parse("8WE3KPTP").unwrap())]);
        let change =
            FormatChange::new(add, BTreeSet::from([name("Paperback"), name("Nope")])).unwrap();
        let current = BTreeMap::from([
            ("Hardcover".to_string(), "J4SUKVGU".to_string()),
            ("Paperback".to_string(), "D7YF4FCX".to_string()),
        ]);
        let next = change.apply_to(&current);
        assert_eq!(
            next.into_iter().collect::<Vec<_>>(),
            vec![
                ("Audiobook".to_string(), "8WE3KPTP".to_string()),
                ("Hardcover".to_string(), "J4SUKVGU".to_string()),
            ]
        );
    }
}
