//! `/authors/{author}/books` and `/categories/{category}/books`: paginated listings.

use axum::{Json, extract::State};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    AppState,
    dto::{ListQuery, PageResponse},
    extract::{ApiPath, ApiQuery},
    problem::ApiError,
    responses::{BackendErrors, InputErrors},
    schemas::Name,
};
use crate::{
    domain::{
        Author, Category, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, PAGE_LIMIT_MIN, PageRequest,
        SortOrder, Title,
    },
    repository::BooksOf,
};

/// The routes of this module.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_author_books))
        .routes(routes!(list_category_books))
}

#[derive(Deserialize)]
pub(super) struct AuthorPath {
    pub author: String,
}

#[derive(Deserialize)]
pub(super) struct CategoryPath {
    pub category: String,
}

/// Declares one listing route: its OpenAPI description and a handler that validates the path's
/// name and hands over to [`list`]. The two listings are one route over two keys, so one
/// declaration serves both instead of two copies that must be kept alike by hand. (`tt`, not
/// `literal`: utoipa parses the attribute's strings, and a `literal` fragment would reach it
/// wrapped in an invisible group.)
macro_rules! listing_route {
    (
        $(#[$doc:meta])*
        $handler:ident: $path:tt, $operation:tt, $param:tt, $example:tt, $empty:tt,
        $Path:ident { $field:ident } => $Name:ident as $of:ident
    ) => {
        $(#[$doc])*
        #[utoipa::path(
            get, path = $path, operation_id = $operation, tag = "listings",
            params(($param = Name, Path, description = concat!("The ", $param, ", percent-encoded"), example = $example), ListQuery),
            responses(
                (status = 200, description = $empty, body = PageResponse),
                InputErrors, BackendErrors,
            )
        )]
        pub(crate) async fn $handler(
            State(state): State<AppState>,
            ApiPath($Path { $field }): ApiPath<$Path>,
            ApiQuery(query): ApiQuery<ListQuery>,
        ) -> Result<Json<PageResponse>, ApiError> {
            let $field = $Name::parse($field).map_err(|e| ApiError::invalid($param, e))?;
            list(&state, BooksOf::$of(&$field), query).await
        }
    };
}

listing_route! {
    /// All books of one author, in title order (strongly consistent).
    list_author_books: "/authors/{author}/books", "listAuthorBooks", "author", "John Grisham",
        "One page; an author with no books is an empty page",
    AuthorPath { author } => Author as Author
}

listing_route! {
    /// Books of one category, in title order (from a GSI: eventually consistent).
    list_category_books: "/categories/{category}/books", "listCategoryBooks", "category", "Suspense",
        "One page; a category with no books is an empty page",
    CategoryPath { category } => Category as Category
}

/// One page of the books of `of`, once the query checks out.
async fn list(
    state: &AppState,
    of: BooksOf<'_>,
    query: ListQuery,
) -> Result<Json<PageResponse>, ApiError> {
    let page = page_request(query)?;
    Ok(Json(state.repo.list(of, &page).await?.into()))
}

/// Checks the query parameters; every problem is a 400 naming the parameter.
fn page_request(query: ListQuery) -> Result<PageRequest, ApiError> {
    Ok(PageRequest {
        limit: page_limit(query.limit.as_deref())?,
        order: sort_order(query.order.as_deref())?,
        title_prefix: name_prefix("title_prefix", query.title_prefix)?,
        cursor: query.cursor.filter(|c| !c.is_empty()),
    })
}

/// `limit`: default 20, else an integer within the page limits.
pub(super) fn page_limit(raw: Option<&str>) -> Result<u32, ApiError> {
    match raw {
        None => Ok(PAGE_LIMIT_DEFAULT),
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (PAGE_LIMIT_MIN..=PAGE_LIMIT_MAX).contains(n))
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "limit must be an integer from {PAGE_LIMIT_MIN} to {PAGE_LIMIT_MAX}, got '{raw}'"
                ))
            }),
    }
}

/// `order`: `asc` (default) or `desc`.
pub(super) fn sort_order(raw: Option<&str>) -> Result<SortOrder, ApiError> {
    match raw {
        None | Some("asc") => Ok(SortOrder::Asc),
        Some("desc") => Ok(SortOrder::Desc),
        Some(other) => Err(ApiError::BadRequest(format!(
            "order must be 'asc' or 'desc', got '{other}'"
        ))),
    }
}

/// A prefix parameter (`title_prefix`, `name_prefix`); empty means none.
pub(super) fn name_prefix(
    parameter: &str,
    raw: Option<String>,
) -> Result<Option<String>, ApiError> {
    match raw.filter(|p| !p.is_empty()) {
        None => Ok(None),
        // A prefix is part of a name, so it may end in a space, but not be longer or hold
        // controls. Every name has the same limit.
        Some(p) if p.chars().count() > Title::MAX_CHARS || p.chars().any(char::is_control) => {
            Err(ApiError::BadRequest(format!(
                "{parameter} must be at most {} characters with no control characters",
                Title::MAX_CHARS
            )))
        }
        Some(p) => Ok(Some(p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(limit: Option<&str>, order: Option<&str>) -> ListQuery {
        ListQuery {
            limit: limit.map(str::to_owned),
            cursor: None,
            order: order.map(str::to_owned),
            title_prefix: Some(String::new()),
        }
    }

    #[test]
    fn defaults_and_bounds() {
        let page = page_request(query(None, None)).unwrap();
        assert_eq!(
            (page.limit, page.order, page.title_prefix),
            (20, SortOrder::Asc, None)
        );
        assert_eq!(
            page_request(query(Some("100"), Some("desc")))
                .unwrap()
                .limit,
            100
        );
        for bad in ["0", "101", "-1", "1e3", "", "99999999999999999999"] {
            assert!(page_request(query(Some(bad), None)).is_err(), "{bad}");
        }
        assert!(page_request(query(None, Some("DESC"))).is_err());
    }
}
