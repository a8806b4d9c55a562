//! `/books/{author}/{title}/formats`: add and remove a book's formats.

use std::collections::{BTreeMap, BTreeSet};

use axum::{extract::State, http::StatusCode, response::Response};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    AppState,
    books::{book_response, for_book},
    conditional::{IfMatchParam, WritePrecondition},
    dto::{FormatIdRequest, FormatPatchRequest},
    extract::{ApiPath, BookPath, BookPathParams, JsonBody},
    problem::ApiError,
    responses::{
        AuthErrors, BackendErrors, BodyErrors, BookChanged, BookNotFound, InputErrors,
        PreconditionFailed,
    },
    schemas::FormatName as FormatNameSchema,
};
use crate::domain::{
    BookKey, Expectation, FieldError, FormatChange, FormatChangeError, FormatId, FormatName,
    Formats, MAX_FORMATS, Validator,
};

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(patch_formats))
        .routes(routes!(put_format, delete_format))
}

/// Add and remove formats in one atomic write.
#[utoipa::path(
    patch, path = "/books/{author}/{title}/formats", operation_id = "patchBookFormats", tag = "formats",
    params(BookPathParams, IfMatchParam),
    request_body(content = FormatPatchRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(BookChanged, BookNotFound, PreconditionFailed, BodyErrors, AuthErrors, BackendErrors)
)]
pub async fn patch_formats(
    State(state): State<AppState>,
    BookPath(key): BookPath,
    WritePrecondition(expectation): WritePrecondition,
    JsonBody(body): JsonBody<FormatPatchRequest>,
) -> Result<Response, ApiError> {
    let remove = body.remove.unwrap_or_default();
    // Refused before each name is checked, so a huge list costs no more than a short one.
    if remove.len() > MAX_FORMATS {
        return Err(ApiError::Validation(vec![FieldError::new(
            "remove",
            FormatChangeError::TooManyRemoved(remove.len()),
        )]));
    }
    let mut v = Validator::default();
    let add = v.formats("formats", body.add.unwrap_or_default());
    let remove: BTreeSet<FormatName> = remove
        .into_iter()
        .filter_map(|name| v.check(&format!("formats.{name}"), FormatName::parse(name)))
        .collect();
    let add = v.finish(add).map_err(ApiError::Validation)?;
    apply(&state, &key, add, remove, &expectation).await
}

#[derive(Deserialize)]
pub(super) struct FormatPathParams {
    pub format: String,
}

/// Set one format's id.
#[utoipa::path(
    put, path = "/books/{author}/{title}/formats/{format}", operation_id = "putBookFormat", tag = "formats",
    params(
        BookPathParams,
        ("format" = FormatNameSchema, Path, description = "The format name, 1 to 64 characters", example = "Audiobook"),
        IfMatchParam,
    ),
    request_body(content = FormatIdRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(BookChanged, BookNotFound, PreconditionFailed, BodyErrors, AuthErrors, BackendErrors)
)]
pub async fn put_format(
    State(state): State<AppState>,
    BookPath(key): BookPath,
    ApiPath(FormatPathParams { format }): ApiPath<FormatPathParams>,
    WritePrecondition(expectation): WritePrecondition,
    JsonBody(body): JsonBody<FormatIdRequest>,
) -> Result<Response, ApiError> {
    let field = format!("formats.{format}");
    let mut v = Validator::default();
    let name = v.check(&field, FormatName::parse(format));
    let id = v.check(&field, FormatId::parse(body.id));
    let entry = v.finish(name.zip(id)).map_err(ApiError::Validation)?;
    apply(
        &state,
        &key,
        Formats::from([entry]),
        BTreeSet::new(),
        &expectation,
    )
    .await
}

/// Remove one format; removing an absent one still counts as a write.
#[utoipa::path(
    delete, path = "/books/{author}/{title}/formats/{format}", operation_id = "deleteBookFormat", tag = "formats",
    params(
        BookPathParams,
        ("format" = FormatNameSchema, Path, description = "The format name", example = "Paperback"),
        IfMatchParam,
    ),
    security(("bearer" = [])),
    responses(BookChanged, BookNotFound, PreconditionFailed, InputErrors, AuthErrors, BackendErrors)
)]
pub async fn delete_format(
    State(state): State<AppState>,
    BookPath(key): BookPath,
    ApiPath(FormatPathParams { format }): ApiPath<FormatPathParams>,
    WritePrecondition(expectation): WritePrecondition,
) -> Result<Response, ApiError> {
    let field = format!("formats.{format}");
    let name = FormatName::parse(format).map_err(|e| ApiError::invalid(field, e))?;
    apply(
        &state,
        &key,
        BTreeMap::new(),
        BTreeSet::from([name]),
        &expectation,
    )
    .await
}

async fn apply(
    state: &AppState,
    key: &BookKey,
    add: Formats,
    remove: BTreeSet<FormatName>,
    expectation: &Expectation,
) -> Result<Response, ApiError> {
    let change = FormatChange::new(add, remove).map_err(|e| {
        let field = match &e {
            FormatChangeError::AddedAndRemoved(name) => format!("formats.{name}"),
            FormatChangeError::Empty | FormatChangeError::TooMany(_) => "formats".to_owned(),
            FormatChangeError::TooManyRemoved(_) => "remove".to_owned(),
        };
        ApiError::Validation(vec![FieldError::new(field, e)])
    })?;
    let book = state
        .repo
        .update_formats(key, &change, expectation)
        .await
        .map_err(for_book(key))?;
    Ok(book_response(StatusCode::OK, book))
}
