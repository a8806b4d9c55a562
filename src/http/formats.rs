//! `/books/{author}/{title}/formats`: add and remove a book's formats.

use std::collections::{BTreeMap, BTreeSet};

use axum::{
    extract::{FromRequestParts, State},
    http::{StatusCode, request::Parts},
    response::Response,
};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    AppState,
    answers::{book_response, for_book},
    conditional::{BookWrite, IfMatchParam},
    dto::{FormatIdRequest, FormatPatchRequest},
    extract::{ApiPath, BookPathParams, JsonBody},
    problem::ApiError,
    responses::{
        AuthErrors, BackendErrors, BodyErrors, BookChanged, BookNotFound, InputErrors,
        PreconditionFailed,
    },
    schemas::FormatName as FormatNameSchema,
};
use crate::domain::{
    FieldError, FormatChange, FormatChangeError, FormatId, FormatName, Formats, MAX_FORMATS,
    Validator,
};

/// The routes of this module.
pub(super) fn router() -> OpenApiRouter<AppState> {
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
pub(super) async fn patch_formats(
    State(state): State<AppState>,
    write: BookWrite,
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
    apply(&state, &write, add, remove).await
}

#[derive(Deserialize)]
struct FormatPathParams {
    format: String,
}

/// A write to one format of a book: the book's key and precondition, and the format name as sent
/// (the handler checks it, together with the body).
pub(super) struct FormatWrite {
    write: BookWrite,
    format: String,
}

impl<S: Send + Sync> FromRequestParts<S> for FormatWrite {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let write = BookWrite::from_request_parts(parts, state).await?;
        let ApiPath(FormatPathParams { format }) =
            ApiPath::from_request_parts(parts, state).await?;
        Ok(Self { write, format })
    }
}

/// Set one format's id.
#[utoipa::path(
    put, path = "/books/{author}/{title}/formats/{format}", operation_id = "putBookFormat", tag = "formats",
    params(BookPathParams, ("format" = FormatNameSchema, Path, description = "The format name, 1 to 64 characters", example = "Audiobook"), IfMatchParam),
    request_body(content = FormatIdRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(BookChanged, BookNotFound, PreconditionFailed, BodyErrors, AuthErrors, BackendErrors)
)]
pub(super) async fn put_format(
    State(state): State<AppState>,
    FormatWrite { write, format }: FormatWrite,
    JsonBody(body): JsonBody<FormatIdRequest>,
) -> Result<Response, ApiError> {
    let field = format!("formats.{format}");
    let mut v = Validator::default();
    let name = v.check(&field, FormatName::parse(format));
    let id = v.check(&field, FormatId::parse(body.id));
    let entry = v.finish(name.zip(id)).map_err(ApiError::Validation)?;
    apply(&state, &write, Formats::from([entry]), BTreeSet::new()).await
}

/// Remove one format; removing an absent one still counts as a write.
#[utoipa::path(
    delete, path = "/books/{author}/{title}/formats/{format}", operation_id = "deleteBookFormat", tag = "formats",
    params(BookPathParams, ("format" = FormatNameSchema, Path, description = "The format name", example = "Paperback"), IfMatchParam),
    security(("bearer" = [])),
    responses(BookChanged, BookNotFound, PreconditionFailed, InputErrors, AuthErrors, BackendErrors)
)]
pub(super) async fn delete_format(
    State(state): State<AppState>,
    FormatWrite { write, format }: FormatWrite,
) -> Result<Response, ApiError> {
    let field = format!("formats.{format}");
    let name = FormatName::parse(format).map_err(|e| ApiError::invalid(field, e))?;
    apply(&state, &write, BTreeMap::new(), BTreeSet::from([name])).await
}

async fn apply(
    state: &AppState,
    write: &BookWrite,
    add: Formats,
    remove: BTreeSet<FormatName>,
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
        .update_formats(&write.key, &change, &write.expectation)
        .await
        .map_err(for_book(&write.key))?;
    Ok(book_response(StatusCode::OK, book))
}
