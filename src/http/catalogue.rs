//! `/categories` and `/authors`: every category and author with its number of books.

use axum::{Json, extract::State};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    AppState,
    dto::{CatalogueQuery, CatalogueResponse},
    extract::ApiQuery,
    listings::{name_prefix, page_limit, sort_order},
    problem::ApiError,
    responses::{BackendErrors, InputErrors},
};
use crate::domain::{CatalogueRequest, NameKind};

/// The routes of this module.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_categories))
        .routes(routes!(list_authors))
}

/// Every category with its number of books, in name order (UTF-8 byte order).
///
/// Only categories with at least one book are listed. Counts are exact for every write made
/// through the service and read strongly consistent; books written by other tools are counted
/// after `bookstore recount`.
#[utoipa::path(
    get, path = "/categories", operation_id = "listCategories", tag = "catalogue",
    params(CatalogueQuery),
    responses(
        (status = 200, description = "One page of categories", body = CatalogueResponse),
        InputErrors, BackendErrors,
    )
)]
pub(super) async fn list_categories(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<CatalogueQuery>,
) -> Result<Json<CatalogueResponse>, ApiError> {
    list(&state, NameKind::Category, query).await
}

/// Every author with its number of books, in name order (UTF-8 byte order).
///
/// Only authors with at least one book are listed. Counts are exact for every write made
/// through the service and read strongly consistent; books written by other tools are counted
/// after `bookstore recount`.
#[utoipa::path(
    get, path = "/authors", operation_id = "listAuthors", tag = "catalogue",
    params(CatalogueQuery),
    responses(
        (status = 200, description = "One page of authors", body = CatalogueResponse),
        InputErrors, BackendErrors,
    )
)]
pub(super) async fn list_authors(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<CatalogueQuery>,
) -> Result<Json<CatalogueResponse>, ApiError> {
    list(&state, NameKind::Author, query).await
}

/// One page of `kind`, once the query checks out (every problem a 400 naming the parameter).
async fn list(
    state: &AppState,
    kind: NameKind,
    query: CatalogueQuery,
) -> Result<Json<CatalogueResponse>, ApiError> {
    let page = CatalogueRequest {
        limit: page_limit(query.limit.as_deref())?,
        order: sort_order(query.order.as_deref())?,
        name_prefix: name_prefix("name_prefix", query.name_prefix)?,
        cursor: query.cursor.filter(|c| !c.is_empty()),
    };
    Ok(Json(state.repo.catalogue(kind, &page).await?.into()))
}
