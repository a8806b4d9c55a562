//! The catalogue: every category and every author, each with how many books it has.

use super::{Author, Category, SortOrder};

/// Which names a catalogue lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NameKind {
    /// Book categories.
    Category,
    /// Book authors.
    Author,
}

impl NameKind {
    /// Both kinds, in the order reports list them.
    pub const ALL: [Self; 2] = [Self::Category, Self::Author];

    /// The singular word for one name of this kind (`category`, `author`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Category => "category",
            Self::Author => "author",
        }
    }

    /// Whether `name` passes this kind's name rules. A name that does not (an item written by
    /// another tool, say) is never counted, so it never becomes a catalogue entry.
    pub fn accepts(self, name: &str) -> bool {
        match self {
            Self::Category => Category::parse(name).is_ok(),
            Self::Author => Author::parse(name).is_ok(),
        }
    }
}

/// One name with its number of books.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameCount {
    /// The category or author.
    pub name: String,
    /// How many books it has; always at least 1 in a listing.
    pub books: u64,
}

/// One page of a catalogue to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueRequest {
    /// How many names at most (already within the page limits).
    pub limit: u32,
    /// Name order.
    pub order: SortOrder,
    /// Only names starting with this, when set.
    pub name_prefix: Option<String>,
    /// Where the previous page stopped, as the opaque string the client got.
    pub cursor: Option<String>,
}

/// One page of a catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CataloguePage {
    /// The names, in the requested order (UTF-8 byte order of the name).
    pub items: Vec<NameCount>,
    /// The cursor for the next page, `None` on the last.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_valid_names_are_accepted() {
        assert!(NameKind::Category.accepts("Suspense"));
        for bad in ["", " Suspense", "a\u{0}b", &"x".repeat(257)] {
            assert!(!NameKind::Category.accepts(bad), "{bad:?}");
            assert!(!NameKind::Author.accepts(bad), "{bad:?}");
        }
    }
}
