//! Opaque page cursors.
//!
//! A cursor is base64url JSON naming the query it belongs to and the last key returned. It carries
//! no signature: it only ever points into the query that is re-validated against it, so a forged
//! cursor can at most skip ahead in a listing its caller may read anyway. That is what lets it work
//! across restarts and instances with no shared secret.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use crate::domain::{Author, SortOrder, Title};

/// The listings a cursor can belong to, named `author`, `category`, `authors` and `categories`
/// in it (how the book listings map onto the table is in `listings`, the catalogue's in
/// `catalogue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Listing {
    /// An author's books, from the table.
    Author,
    /// A category's books, from `CategoryIndex`.
    Category,
    /// Every author with its count, from the catalogue table.
    Authors,
    /// Every category with its count, from the catalogue table.
    Categories,
}

/// Longest cursor accepted; real ones are a few hundred bytes.
const MAX_ENCODED_LEN: usize = 4096;

/// Which listing a cursor walks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Scope {
    /// Written `author` or `category`.
    #[serde(rename = "s")]
    pub kind: Listing,
    /// The author or category; empty for the catalogue listings.
    #[serde(rename = "k")]
    pub partition: String,
    /// The title prefix, empty for none.
    #[serde(rename = "p")]
    pub prefix: String,
    /// Written `asc` or `desc`.
    #[serde(rename = "o", with = "SortOrderName")]
    pub order: SortOrder,
}

/// How a cursor spells a `SortOrder`: serde's remote derive, so the domain needs no serde and a
/// new order fails to compile here. The names are `SortOrder::as_str`'s (a test checks).
#[derive(Serialize, Deserialize)]
#[serde(remote = "SortOrder", rename_all = "lowercase")]
enum SortOrderName {
    Asc,
    Desc,
}

impl Scope {
    /// The scope of one listing request.
    pub(crate) fn new(
        kind: Listing,
        partition: &str,
        prefix: Option<&str>,
        order: SortOrder,
    ) -> Self {
        Self {
            kind,
            partition: partition.to_owned(),
            prefix: prefix.unwrap_or_default().to_owned(),
            order,
        }
    }
}

/// Where a page stopped: the scope plus the last item's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    #[serde(flatten)]
    pub scope: Scope,
    /// Title of the last book returned (in a catalogue listing, the last name).
    #[serde(rename = "t")]
    pub title: String,
    /// Author of the last book returned (category listings only: the GSI key needs it).
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

impl Cursor {
    /// The opaque string handed to clients.
    pub(crate) fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a cursor always serializes");
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Decodes a client's cursor and checks it belongs to `scope`.
    pub(crate) fn decode(encoded: &str, scope: &Scope) -> Result<Self, StoreError> {
        if encoded.len() > MAX_ENCODED_LEN {
            return Err(StoreError::InvalidCursor("cursor is too long"));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| StoreError::InvalidCursor("cursor is not valid base64url"))?;
        let cursor: Cursor = serde_json::from_slice(&bytes)
            .map_err(|_| StoreError::InvalidCursor("cursor is malformed"))?;
        if cursor.scope != *scope {
            return Err(StoreError::InvalidCursor(
                "cursor belongs to another listing (author, category, prefix or order)",
            ));
        }
        // The keys become the ExclusiveStartKey, so they pass the same name rules as a book's:
        // DynamoDB refuses an empty key value, and that must be this client's 400, not our 500.
        // (A catalogue cursor holds a category or author name there: the rules are the same.)
        if Title::parse(cursor.title.as_str()).is_err()
            || cursor
                .author
                .as_deref()
                .is_some_and(|a| Author::parse(a).is_err())
        {
            return Err(StoreError::InvalidCursor("cursor is malformed"));
        }
        // A start key outside the key condition makes DynamoDB fail the query; refuse it here.
        if !cursor.title.starts_with(&scope.prefix) {
            return Err(StoreError::InvalidCursor("cursor is malformed"));
        }
        if (scope.kind == Listing::Category) != cursor.author.is_some() {
            return Err(StoreError::InvalidCursor("cursor is malformed"));
        }
        Ok(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope::new(Listing::Category, "Suspense", Some("The"), SortOrder::Desc)
    }

    /// A cursor in `scope()` after the given book.
    fn after(title: &str, author: &str) -> Cursor {
        Cursor {
            scope: scope(),
            title: title.into(),
            author: Some(author.into()),
        }
    }

    #[test]
    fn round_trips() {
        let cursor = after("The Firm", "John Grisham");
        assert_eq!(Cursor::decode(&cursor.encode(), &scope()).unwrap(), cursor);
    }

    #[test]
    fn refuses_other_scopes_and_garbage() {
        let encoded = after("The Firm", "John Grisham").encode();
        let other = Scope::new(Listing::Category, "Suspense", Some("The"), SortOrder::Asc);
        assert!(Cursor::decode(&encoded, &other).is_err());
        let other = Scope::new(Listing::Author, "Suspense", Some("The"), SortOrder::Desc);
        assert!(Cursor::decode(&encoded, &other).is_err());
        assert!(Cursor::decode("not a cursor!", &scope()).is_err());
        assert!(Cursor::decode(&encoded[..encoded.len() - 3], &scope()).is_err());
        assert!(Cursor::decode(&"A".repeat(5000), &scope()).is_err());
    }

    #[test]
    fn refuses_keys_that_break_the_name_rules() {
        let scope = Scope::new(Listing::Author, "John Grisham", None, SortOrder::Asc);
        for title in ["", " The Firm", "a\u{0}b", &"x".repeat(257)] {
            let cursor = Cursor {
                scope: scope.clone(),
                title: title.into(),
                author: None,
            };
            assert!(
                Cursor::decode(&cursor.encode(), &scope).is_err(),
                "{title:?}"
            );
        }
        let scope = Scope::new(Listing::Category, "Suspense", None, SortOrder::Asc);
        let cursor = Cursor {
            scope: scope.clone(),
            title: "The Firm".into(),
            author: Some(String::new()),
        };
        assert!(Cursor::decode(&cursor.encode(), &scope).is_err());
    }

    #[test]
    fn orders_are_spelled_as_in_query_strings() {
        for order in [SortOrder::Asc, SortOrder::Desc] {
            let scope = Scope::new(Listing::Author, "A", None, order);
            let json = serde_json::to_value(&scope).unwrap();
            assert_eq!(json["o"], order.as_str());
        }
    }

    /// Cursors handed out by earlier releases must keep working: the wire format is fixed.
    #[test]
    fn the_encoding_is_stable() {
        let category = "eyJzIjoiY2F0ZWdvcnkiLCJrIjoiU3VzcGVuc2UiLCJwIjoiVGhlIiwibyI6ImRlc2MiLCJ0IjoiVGhlIEZpcm0iLCJhIjoiSm9obiBHcmlzaGFtIn0";
        let cursor = Cursor::decode(category, &scope()).unwrap();
        assert_eq!(cursor.encode(), category);
        let author = "eyJzIjoiYXV0aG9yIiwiayI6IkpvaG4gR3Jpc2hhbSIsInAiOiIiLCJvIjoiYXNjIiwidCI6IlRoZSBGaXJtIn0";
        let scope = Scope::new(Listing::Author, "John Grisham", None, SortOrder::Asc);
        let cursor = Cursor::decode(author, &scope).unwrap();
        assert_eq!(
            (cursor.encode().as_str(), cursor.title.as_str()),
            (author, "The Firm")
        );
    }

    #[test]
    fn refuses_a_title_outside_the_prefix() {
        let cursor = after("Hamlet", "William Shakespeare");
        assert!(Cursor::decode(&cursor.encode(), &scope()).is_err());
    }
}
