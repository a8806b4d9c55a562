//! The two paginated listings: an author's books (the table) and a category's (`CategoryIndex`).

use aws_sdk_dynamodb::{operation::query::builders::QueryFluentBuilder, types::AttributeValue};

use super::{
    BookRepository, CATEGORY_INDEX, StoreError,
    client::instrumented,
    cursor::{Cursor, Listing, Scope},
    expression::{Placeholders, WithPlaceholders},
    item::{AUTHOR, CATEGORY, Item, TITLE},
    parse_book,
};
use crate::domain::{Author, Book, Category, Page, PageRequest, SortOrder};

/// Whose books a listing holds.
#[derive(Debug, Clone, Copy)]
pub enum BooksOf<'a> {
    /// One author's: a Query on the table, strongly consistent.
    Author(&'a Author),
    /// One category's: a Query on `CategoryIndex`, eventually consistent.
    Category(&'a Category),
}

impl BookRepository {
    /// One page of a listing, in title order. It asks for one item more than the page holds, so
    /// `next_cursor` is null on the last page and no page after the first is ever empty.
    pub async fn list(&self, of: BooksOf<'_>, page: &PageRequest) -> Result<Page, StoreError> {
        let (listing, partition) = (of.listing(), of.partition());
        let prefix = page.title_prefix.as_deref().filter(|p| !p.is_empty());
        let scope = Scope::new(listing, partition, prefix, page.order);
        let start = page
            .cursor
            .as_deref()
            .map(|c| Cursor::decode(c, &scope))
            .transpose()?;
        let query = ListQuery {
            of,
            partition,
            prefix,
            order: page.order,
        };
        let start_key = start.map(|c| of.start_key(c));
        let mut books = self
            .query(&query, page.limit as usize + 1, start_key)
            .await?;
        let next_cursor = (books.len() > page.limit as usize).then(|| {
            books.truncate(page.limit as usize);
            let last = books.last().expect("limit is at least 1");
            Cursor {
                scope,
                title: last.title.clone(),
                author: (listing == Listing::Category).then(|| last.author.clone()),
            }
            .encode()
        });
        Ok(Page {
            items: books,
            next_cursor,
        })
    }

    /// Up to `wanted` books from `start_key` on. DynamoDB's 1 MB cap can cut a query short; then
    /// it queries on from where it stopped (never with our item sizes).
    async fn query(
        &self,
        query: &ListQuery<'_>,
        wanted: usize,
        start_key: Option<Item>,
    ) -> Result<Vec<Book>, StoreError> {
        let of = query.of;
        let request = |limit| {
            let mut p = Placeholders::default();
            let key_condition = query.key_condition(&mut p);
            self.client
                .query()
                .table_name(self.table())
                .set_index_name(of.index().map(str::to_owned))
                .key_condition_expression(key_condition)
                .placeholders(&p)
                .scan_index_forward(query.order == SortOrder::Asc)
                .limit(limit)
                .set_consistent_read(of.index().is_none().then_some(true))
        };
        query_until(wanted, start_key, request, parse_book).await
    }
}

/// Runs a Query (`request(limit)`, asked for what is still missing) page after page until
/// `wanted` items came back or the key range is exhausted: DynamoDB's 1 MB cap, or a filter,
/// can end a page early. The book listings and the catalogue both page this way.
pub(super) async fn query_until<T>(
    wanted: usize,
    mut start_key: Option<Item>,
    request: impl Fn(i32) -> QueryFluentBuilder,
    parse: impl Fn(Item) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut found = Vec::with_capacity(wanted);
    loop {
        let call = request((wanted - found.len()) as i32)
            .set_exclusive_start_key(start_key.take())
            .send();
        let output = instrumented("Query", call)
            .await
            .map_err(|e| StoreError::from_sdk("Query", e))?;
        for item in output.items.unwrap_or_default() {
            found.push(parse(item)?);
        }
        start_key = output.last_evaluated_key.filter(|k| !k.is_empty());
        if found.len() >= wanted || start_key.is_none() {
            return Ok(found);
        }
    }
}

/// What one listing request queries, whichever page.
struct ListQuery<'a> {
    of: BooksOf<'a>,
    partition: &'a str,
    prefix: Option<&'a str>,
    order: SortOrder,
}

impl ListQuery<'_> {
    /// `<partition> = :p`, and `begins_with(Title, :prefix)` when there is a prefix.
    fn key_condition(&self, p: &mut Placeholders) -> String {
        let mut condition = format!(
            "{} = {}",
            p.name(self.of.partition_attribute()),
            p.string(self.partition)
        );
        if let Some(prefix) = self.prefix {
            condition.push_str(&format!(
                " AND begins_with({}, {})",
                p.name(TITLE),
                p.string(prefix)
            ));
        }
        condition
    }
}

impl<'a> BooksOf<'a> {
    /// What a cursor of this listing names it.
    fn listing(self) -> Listing {
        match self {
            Self::Author(_) => Listing::Author,
            Self::Category(_) => Listing::Category,
        }
    }

    /// The author or category whose books these are.
    fn partition(self) -> &'a str {
        match self {
            Self::Author(author) => author.as_str(),
            Self::Category(category) => category.as_str(),
        }
    }

    fn partition_attribute(self) -> &'static str {
        match self {
            Self::Author(_) => AUTHOR,
            Self::Category(_) => CATEGORY,
        }
    }

    fn index(self) -> Option<&'static str> {
        match self {
            Self::Author(_) => None,
            Self::Category(_) => Some(CATEGORY_INDEX),
        }
    }

    /// The ExclusiveStartKey for a cursor. A GSI's key carries the table's keys too.
    fn start_key(self, cursor: Cursor) -> Item {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let mut key = Item::from([(TITLE.to_owned(), s(&cursor.title))]);
        match self {
            Self::Author(author) => {
                key.insert(AUTHOR.to_owned(), s(author.as_str()));
            }
            Self::Category(category) => {
                key.insert(CATEGORY.to_owned(), s(category.as_str()));
                key.insert(
                    AUTHOR.to_owned(),
                    s(cursor.author.as_deref().unwrap_or_default()),
                );
            }
        }
        key
    }
}
