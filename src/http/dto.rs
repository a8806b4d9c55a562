//! The JSON bodies of the API, as clients see them and as the OpenAPI document describes them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

use super::schemas::{FormatId, FormatName, Formats, Name, NamePrefix, TitlePrefix};
use crate::domain::{BatchOutcome, Book, CataloguePage, NameCount, Page};

/// Most books in one batch: the repository's limit, which is DynamoDB's for one transaction.
pub const MAX_BATCH: usize = crate::repository::MAX_BATCH_BOOKS;

/// A book as the API returns it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Book, example = json!({
    "author": "John Grisham", "title": "The Rainmaker", "category": "Suspense",
    "formats": {"Hardcover": "J4SUKVGU", "Paperback": "D7YF4FCX"},
    "version": 1, "created_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:00Z"
}))]
pub struct BookResponse {
    /// The author (partition key).
    pub author: String,
    /// The title (sort key).
    pub title: String,
    /// The category.
    pub category: String,
    /// Format name to format id.
    pub formats: BTreeMap<String, String>,
    /// Optimistic-concurrency counter: 1 on create, +1 on every write; 0 for items written by other tools.
    pub version: u64,
    /// When the book was created (RFC 3339); absent for items written by other tools.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When the book was last written (RFC 3339); absent for items written by other tools.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

impl From<Book> for BookResponse {
    fn from(book: Book) -> Self {
        let rfc3339 = |t: time::OffsetDateTime| t.format(&Rfc3339).ok();
        Self {
            author: book.author,
            title: book.title,
            category: book.category,
            formats: book.formats,
            version: book.version,
            created_at: book.created_at.and_then(rfc3339),
            updated_at: book.updated_at.and_then(rfc3339),
        }
    }
}

/// Body of `PUT /books/{author}/{title}`: the book's new content.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"category": "Suspense", "formats": {"Hardcover": "J4SUKVGU", "Paperback": "D7YF4FCX"}}))]
pub struct PutBookRequest {
    /// The category.
    #[schema(value_type = Name)]
    pub category: String,
    /// Format name to id, at most 32 entries; absent or null stores `{}`.
    #[serde(default)]
    #[schema(value_type = Option<Formats>)]
    pub formats: Option<BTreeMap<String, String>>,
}

// utoipa takes only literals for `min_items`, `max_items`, `minimum`, `maximum` and `default`, so
// the limits in this file's attributes are written out; the tests check each against its constant.

/// Body of `POST /books/batch`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// 1 to 100 books with distinct (author, title).
    #[schema(min_items = 1, max_items = 100)]
    pub books: Vec<NewBookRequest>,
}

/// A complete new book (`POST /books`, and each entry of a batch).
//
// `category` and `formats` repeat `PutBookRequest`: `#[serde(flatten)]` would lose
// `deny_unknown_fields` and make the schema an `allOf`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "author": "John Grisham", "title": "The Rainmaker", "category": "Suspense",
    "formats": {"Hardcover": "J4SUKVGU", "Paperback": "D7YF4FCX"}
}))]
pub struct NewBookRequest {
    /// The author.
    #[schema(value_type = Name)]
    pub author: String,
    /// The title.
    #[schema(value_type = Name)]
    pub title: String,
    /// The category.
    #[schema(value_type = Name)]
    pub category: String,
    /// Format name to id, at most 32 entries; absent or null stores `{}`.
    #[serde(default)]
    #[schema(value_type = Option<Formats>)]
    pub formats: Option<BTreeMap<String, String>>,
}

/// Result of `POST /books/batch`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"created": 4, "replaced": 1}))]
pub struct BatchResponse {
    /// Books that did not exist before.
    pub created: usize,
    /// Books that existed and were replaced.
    pub replaced: usize,
}

impl From<BatchOutcome> for BatchResponse {
    fn from(o: BatchOutcome) -> Self {
        Self {
            created: o.created,
            replaced: o.replaced,
        }
    }
}

/// Body of `PATCH /books/{author}/{title}/formats`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"add": {"Audiobook": "8WE3KPTP"}, "remove": ["Paperback"]}))]
pub struct FormatPatchRequest {
    /// Formats to set (name to id); default empty.
    #[serde(default)]
    #[schema(value_type = Option<Formats>)]
    pub add: Option<BTreeMap<String, String>>,
    /// Format names to remove (at most 32); removing an absent one is not an error. Default empty.
    #[serde(default)]
    #[schema(value_type = Option<Vec<FormatName>>, max_items = 32)]
    pub remove: Option<Vec<String>>,
}

/// Body of `PUT /books/{author}/{title}/formats/{format}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": "8WE3KPTP"}))]
pub struct FormatIdRequest {
    /// The book's id in this format.
    #[schema(value_type = FormatId)]
    pub id: String,
}

/// One page of books.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = Page)]
pub struct PageResponse {
    /// The books, in title order.
    pub items: Vec<BookResponse>,
    /// Pass as `cursor` to get the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

impl From<Page> for PageResponse {
    fn from(page: Page) -> Self {
        Self {
            items: page.items.into_iter().map(BookResponse::from).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// Query parameters of the listings. Kept as strings so that a bad value gets a clear 400.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 100 (default 20); may change from page to page.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Title order.
    #[param(value_type = Option<SortOrderParam>)]
    pub order: Option<String>,
    /// Only titles that start with this; empty means no filter.
    #[param(value_type = Option<TitlePrefix>)]
    pub title_prefix: Option<String>,
}

/// One page of the catalogue: categories or authors with their book counts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = CataloguePage, example = json!({
    "items": [{"name": "Suspense", "books": 12}, {"name": "Thriller", "books": 3}],
    "next_cursor": null
}))]
pub struct CatalogueResponse {
    /// The names, in UTF-8 byte order (DynamoDB's order of strings).
    pub items: Vec<NameCountResponse>,
    /// Pass as `cursor` to get the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// A category or author and how many books it has.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = NameCount)]
pub struct NameCountResponse {
    /// The category or author.
    pub name: String,
    /// Its books; at least 1 (names without books are not listed).
    #[schema(minimum = 1)]
    pub books: u64,
}

impl From<NameCount> for NameCountResponse {
    fn from(entry: NameCount) -> Self {
        Self {
            name: entry.name,
            books: entry.books,
        }
    }
}

impl From<CataloguePage> for CatalogueResponse {
    fn from(page: CataloguePage) -> Self {
        Self {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// Query parameters of the catalogue. Kept as strings so that a bad value gets a clear 400.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogueQuery {
    /// Page size, 1 to 100 (default 20); may change from page to page.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page (of the same listing, prefix and order).
    pub cursor: Option<String>,
    /// Name order.
    #[param(value_type = Option<SortOrderParam>)]
    pub order: Option<String>,
    /// Only names that start with this; empty means no filter.
    #[param(value_type = Option<NamePrefix>)]
    pub name_prefix: Option<String>,
}

/// Title order of a listing: `asc` (default) or `desc`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = SortOrder)]
#[allow(dead_code)] // Exists to describe the parameter in the OpenAPI document.
pub enum SortOrderParam {
    /// A to Z.
    Asc,
    /// Z to A.
    Desc,
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use utoipa::{IntoParams, PartialSchema, openapi::path::ParameterIn};

    use super::*;
    use crate::domain::{MAX_FORMATS, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, PAGE_LIMIT_MIN};

    fn schema_of<T: PartialSchema>() -> Value {
        serde_json::to_value(T::schema()).unwrap()
    }

    #[test]
    fn the_documented_limits_are_the_constants() {
        assert_eq!(
            schema_of::<BatchRequest>()["properties"]["books"]["maxItems"],
            json!(MAX_BATCH)
        );
        assert_eq!(
            schema_of::<FormatPatchRequest>()["properties"]["remove"]["maxItems"],
            json!(MAX_FORMATS)
        );
        let params =
            serde_json::to_value(ListQuery::into_params(|| Some(ParameterIn::Query))).unwrap();
        let limit = &params[0]["schema"];
        assert_eq!(
            (&limit["minimum"], &limit["maximum"], &limit["default"]),
            (
                &json!(PAGE_LIMIT_MIN),
                &json!(PAGE_LIMIT_MAX),
                &json!(PAGE_LIMIT_DEFAULT)
            ),
            "{limit}"
        );
    }
}
