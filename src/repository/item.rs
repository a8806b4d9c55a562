//! The shape of a book item in the table, and its conversion to and from the domain.
//!
//! Attribute names and types are the tutorial's (`Author`, `Title`, `Category`, `Formats`), so the
//! tutorial's boto3 scripts and this service read each other's items.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::{
    operation::{
        delete_item::builders::DeleteItemFluentBuilder, get_item::builders::GetItemFluentBuilder,
        update_item::builders::UpdateItemFluentBuilder,
    },
    types::{
        AttributeValue,
        builders::{DeleteBuilder, UpdateBuilder},
    },
};
use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::domain::{Book, BookKey, Formats, NewBook, Revision};

// Table attribute names. Expressions use these; `BookItem`'s serde renames must spell the same
// (serde takes only literals), which `serde_names_are_the_attribute_constants` checks.

/// The partition key.
pub(crate) const AUTHOR: &str = "Author";
/// The sort key.
pub(crate) const TITLE: &str = "Title";
/// The partition key of `CategoryIndex`.
pub(crate) const CATEGORY: &str = "Category";
/// Format name to format id, a map.
pub(crate) const FORMATS: &str = "Formats";
/// The optimistic-concurrency counter, a number.
pub(crate) const VERSION: &str = "Version";
/// RFC 3339, set once.
pub(crate) const CREATED_AT: &str = "CreatedAt";
/// RFC 3339, set on every write.
pub(crate) const UPDATED_AT: &str = "UpdatedAt";
/// Random per book, set on create and kept until delete: it keeps entity tags from repeating
/// when a deleted book is created again (see `domain::Revision`).
pub(crate) const INCARNATION: &str = "Incarnation";

/// A raw DynamoDB item.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// One item as stored; every attribute but the keys may be missing in items from other tools.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct BookItem {
    #[serde(rename = "Author")]
    pub author: String,
    #[serde(rename = "Title")]
    pub title: String,
    #[serde(rename = "Category", default)]
    pub category: String,
    #[serde(rename = "Formats", default)]
    pub formats: BTreeMap<String, String>,
    #[serde(rename = "Version", default)]
    pub version: u64,
    #[serde(rename = "CreatedAt", default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(rename = "UpdatedAt", default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(
        rename = "Incarnation",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub incarnation: Option<String>,
}

impl BookItem {
    /// A brand-new item, version 1, as `POST /books` and `seed` write it.
    pub(crate) fn new(book: &NewBook, now: &str) -> Self {
        Self {
            author: book.key.author.to_string(),
            title: book.key.title.to_string(),
            category: book.content.category.to_string(),
            formats: stored_formats(&book.content.formats),
            version: 1,
            created_at: Some(now.to_owned()),
            updated_at: Some(now.to_owned()),
            incarnation: Some(Revision::new_incarnation()),
        }
    }

    /// The revision this item is at.
    pub(crate) fn revision(&self) -> Revision {
        Revision {
            version: self.version,
            incarnation: self.incarnation.clone(),
        }
    }

    /// Reads an item; a malformed one (wrong attribute types) is an error the caller reports.
    pub(crate) fn from_item(item: Item) -> Result<Self, serde_dynamo::Error> {
        serde_dynamo::from_item(item)
    }

    /// The item to send to DynamoDB.
    pub(crate) fn to_item(&self) -> Result<Item, serde_dynamo::Error> {
        serde_dynamo::to_item(self)
    }

    /// The domain view; timestamps that do not parse (written by other tools) are left out.
    pub(crate) fn into_book(self) -> Book {
        Book {
            author: self.author,
            title: self.title,
            category: self.category,
            formats: self.formats,
            version: self.version,
            incarnation: self.incarnation,
            created_at: self.created_at.as_deref().and_then(parse_timestamp),
            updated_at: self.updated_at.as_deref().and_then(parse_timestamp),
        }
    }
}

/// Formats as the `Formats` map holds them.
pub(crate) fn stored_formats(formats: &Formats) -> BTreeMap<String, String> {
    formats
        .iter()
        .map(|(name, id)| (name.to_string(), id.to_string()))
        .collect()
}

/// The primary key of one book.
pub(crate) fn key(key: &BookKey) -> Item {
    HashMap::from([
        (AUTHOR.to_owned(), AttributeValue::S(key.author.to_string())),
        (TITLE.to_owned(), AttributeValue::S(key.title.to_string())),
    ])
}

/// A request addressed to one book's item.
pub(crate) trait ForBook {
    /// Names the table and the book's primary key.
    fn for_book(self, table: &str, key: &BookKey) -> Self;
}

// The SDK's request builders all have these two setters but share no trait for them.
macro_rules! for_book {
    ($($request:ty),+) => {$(
        impl ForBook for $request {
            fn for_book(self, table: &str, book: &BookKey) -> Self {
                self.table_name(table).set_key(Some(key(book)))
            }
        }
    )+};
}

for_book!(
    DeleteBuilder,
    DeleteItemFluentBuilder,
    GetItemFluentBuilder,
    UpdateItemFluentBuilder,
    UpdateBuilder
);

/// The item an old image (`ReturnValues: ALL_OLD`, or `ALL_OLD` on a failed condition) shows,
/// `None` when there was no item.
///
/// DynamoDB returns no attributes for a missing item, but dynoxide 3.2 returns the key
/// attributes of the request instead. An image with nothing but the key counts as no item here:
/// that is exactly DynamoDB's answer for a missing item, and on DynamoDB an item holding only its
/// key is no book either (it has no category to serve), so writing over it is a create.
pub(crate) fn stored_image(attributes: Option<Item>) -> Option<Item> {
    attributes.filter(|a| a.keys().any(|name| name != AUTHOR && name != TITLE))
}

/// Now, truncated to whole seconds and written as RFC 3339 (`2026-11-23T10:00:00Z`).
pub(crate) fn now_timestamp() -> String {
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("zero nanoseconds is always valid");
    now.format(&Rfc3339)
        .expect("a UTC time always formats as RFC 3339")
}

/// Parses an RFC 3339 timestamp.
pub(crate) fn parse_timestamp(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_tutorial_item_without_service_attributes() {
        let item = HashMap::from([
            (AUTHOR.to_owned(), AttributeValue::S("John Grisham".into())),
            (TITLE.to_owned(), AttributeValue::S("The Rainmaker".into())),
            (CATEGORY.to_owned(), AttributeValue::S("Suspense".into())),
        ]);
        let book = BookItem::from_item(item).unwrap().into_book();
        assert_eq!(book.version, 0);
        assert!(book.formats.is_empty());
        assert_eq!(book.created_at, None);
    }

    #[test]
    fn writes_the_tutorial_attribute_types() {
        let item = BookItem {
            author: "A".into(),
            title: "T".into(),
            category: "C".into(),
            formats: BTreeMap::from([("Hardcover".into(), "J4SUKVGU".into())]),
            version: 3,
            created_at: Some("2026-11-23T10:00:00Z".into()),
            updated_at: None,
            incarnation: None,
        }
        .to_item()
        .unwrap();
        assert_eq!(item[VERSION], AttributeValue::N("3".into()));
        let AttributeValue::M(formats) = &item[FORMATS] else {
            panic!("Formats must be a map: {item:?}");
        };
        assert_eq!(formats["Hardcover"], AttributeValue::S("J4SUKVGU".into()));
        assert!(!item.contains_key(UPDATED_AT));
    }

    #[test]
    fn serde_names_are_the_attribute_constants() {
        let every_attribute = BookItem {
            author: "A".into(),
            title: "T".into(),
            category: "C".into(),
            formats: BTreeMap::new(),
            version: 1,
            created_at: Some("2026-11-23T10:00:00Z".into()),
            updated_at: Some("2026-11-23T10:00:00Z".into()),
            incarnation: Some("0123456789abcdef".into()),
        }
        .to_item()
        .unwrap();
        let mut names: Vec<&str> = every_attribute.keys().map(String::as_str).collect();
        names.sort_unstable();
        let mut constants = [
            AUTHOR,
            TITLE,
            CATEGORY,
            FORMATS,
            VERSION,
            CREATED_AT,
            UPDATED_AT,
            INCARNATION,
        ];
        constants.sort_unstable();
        assert_eq!(names, constants);
    }

    #[test]
    fn an_image_with_only_the_key_is_no_item() {
        let key_only = key(&BookKey {
            author: crate::domain::Author::parse("A").unwrap(),
            title: crate::domain::Title::parse("T").unwrap(),
        });
        assert_eq!(stored_image(None), None);
        assert_eq!(stored_image(Some(Item::new())), None);
        assert_eq!(stored_image(Some(key_only.clone())), None);
        let mut book = key_only;
        book.insert(CATEGORY.to_owned(), AttributeValue::S("C".into()));
        assert_eq!(stored_image(Some(book.clone())), Some(book));
    }

    #[test]
    fn timestamps_are_whole_seconds_in_utc() {
        let now = now_timestamp();
        assert!(now.ends_with('Z') && !now.contains('.'), "{now}");
        assert!(parse_timestamp(&now).is_some());
    }
}
