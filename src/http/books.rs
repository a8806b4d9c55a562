//! `/books`: one book by author and title, creation, and batch writes.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    AppState,
    answers::{book_response, for_book},
    conditional::{BookWrite, IfNoneMatchParam, not_modified},
    dto::{BatchRequest, BatchResponse, BookResponse, MAX_BATCH, NewBookRequest, PutBookRequest},
    extract::{BookPath, BookPathParams, JsonBody},
    headers::{etag, location},
    idempotency::{self, IdempotencyKeyParam, Keyed, KeyedWriteErrors},
    problem::{ApiError, Problem},
    responses::{
        AuthErrors, BackendErrors, BodyErrors, BookNotFound, InputErrors, PreconditionFailed,
    },
    schemas::EntityTags,
};
use crate::{
    domain::{Book, BookContent, BookKey, NewBook, PutOutcome, Repeats},
    repository::StoreError,
};

/// The routes of this module.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_book))
        .routes(routes!(batch_put))
        .routes(routes!(
            get_book,
            head_book,
            put_book,
            delete_book,
            super::merge_patch::merge_patch_book
        ))
}

/// A 201 for a new book: the book with its ETag, and where it lives.
fn created_response(key: &BookKey, book: Book) -> Response {
    let mut response = book_response(StatusCode::CREATED, book);
    response
        .headers_mut()
        .insert(header::LOCATION, location(key));
    response
}

/// Get one book.
#[utoipa::path(
    get, path = "/books/{author}/{title}", operation_id = "getBook", tag = "books",
    params(BookPathParams, IfNoneMatchParam),
    responses(
        (status = 200, description = "The book", body = BookResponse,
            headers(("ETag" = String, description = "Strong, opaque entity tag; changes on every write and never repeats for this book"))),
        (status = 304, description = "Not modified: the book still has a tag listed in If-None-Match",
            headers(("ETag" = String, description = "Strong, opaque entity tag; changes on every write and never repeats for this book"))),
        BookNotFound, InputErrors, BackendErrors,
    )
)]
pub(super) async fn get_book(
    State(state): State<AppState>,
    BookPath(key): BookPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let book = state
        .repo
        .get(&key)
        .await?
        .ok_or_else(|| for_book(&key)(StoreError::NotFound))?;
    if not_modified(&headers, &book.revision())? {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag(&book.revision()))],
        )
            .into_response());
    }
    Ok(book_response(StatusCode::OK, book))
}

/// Get one book's headers (`ETag`) without its body.
#[utoipa::path(
    head, path = "/books/{author}/{title}", operation_id = "headBook", tag = "books",
    params(BookPathParams, IfNoneMatchParam),
    responses(
        (status = 200, description = "The book exists", headers(("ETag" = String, description = "Strong, opaque entity tag; changes on every write and never repeats for this book"))),
        (status = 304, description = "Not modified", headers(("ETag" = String, description = "Strong, opaque entity tag; changes on every write and never repeats for this book"))),
        (status = 404, description = "No such book"),
        (status = 400, description = "Bad path encoding or If-None-Match header"),
        (status = 422, description = "Author or title fails validation"),
        (status = 503, description = "DynamoDB unavailable", headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
pub(super) async fn head_book(
    state: State<AppState>,
    path: BookPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // What axum would do for HEAD without this route; the route exists to be documented.
    get_book(state, path, headers).await
}

/// Create or replace a book.
///
/// Keeps `created_at`, bumps `version`, replaces `category` and `formats` (absent formats store `{}`).
#[utoipa::path(
    put, path = "/books/{author}/{title}", operation_id = "putBook", tag = "books",
    params(
        BookPathParams,
        ("If-Match" = inline(Option<EntityTags>), Header, description = "Replace only if the stored ETag is listed (`*`: only if it exists)"),
        ("If-None-Match" = inline(Option<EntityTags>), Header, description = "`*`: create only, 412 if the book exists"),
    ),
    request_body(content = PutBookRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Replaced", body = BookResponse,
            headers(("ETag" = String, description = "Strong, opaque entity tag; changes on every write and never repeats for this book"))),
        (status = 201, description = "Created", body = BookResponse,
            headers(("ETag" = String, description = "Strong, opaque entity tag; changes on every write and never repeats for this book"),
                    ("Location" = String, description = "The book's URL"))),
        PreconditionFailed, BodyErrors, AuthErrors, BackendErrors,
    )
)]
pub(super) async fn put_book(
    State(state): State<AppState>,
    BookWrite { key, expectation }: BookWrite,
    JsonBody(body): JsonBody<PutBookRequest>,
) -> Result<Response, ApiError> {
    let content = BookContent::parse(body.category, body.formats).map_err(ApiError::Validation)?;
    let book = NewBook { key, content };
    let outcome = state
        .repo
        .put(&book, &expectation)
        .await
        .map_err(for_book(&book.key))?;
    Ok(match outcome {
        PutOutcome::Created(stored) => created_response(&book.key, stored),
        PutOutcome::Replaced(stored) => book_response(StatusCode::OK, stored),
    })
}

/// Create a book; 409 if it exists.
///
/// With an `Idempotency-Key`, a repeat of a successful request (same token, key and body, within
/// 24 hours) answers what the first answered and writes nothing. Failures are not recorded.
#[utoipa::path(
    post, path = "/books", operation_id = "createBook", tag = "books",
    params(IdempotencyKeyParam),
    request_body(content = NewBookRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created (or, with `Idempotent-Replayed`, the recorded answer to an earlier request with this Idempotency-Key)", body = BookResponse,
            headers(("ETag" = String, description = "Strong tag `\"1\"`"),
                    ("Location" = String, description = "The new book's URL"),
                    ("Idempotent-Replayed" = String, description = "`true` when this is a replayed answer; absent otherwise"))),
        (status = 409, description = "The book already exists, or a request with this Idempotency-Key is still in progress", body = Problem, content_type = "application/problem+json"),
        KeyedWriteErrors,
    )
)]
pub(super) async fn create_book(
    State(state): State<AppState>,
    Keyed { key, body }: Keyed<NewBookRequest>,
) -> Result<Response, ApiError> {
    let book = NewBook::parse(body.author, body.title, body.category, body.formats)
        .map_err(ApiError::Validation)?;
    let exists = |e| match e {
        StoreError::AlreadyExists => ApiError::Conflict(format!(
            "a book titled '{}' by '{}' already exists",
            book.key.title, book.key.author
        )),
        other => other.into(),
    };
    if let Some(key) = key {
        return idempotency::create_book(&state.repo, &book, &key)
            .await
            .map_err(exists);
    }
    let stored = state.repo.create(&book).await.map_err(exists)?;
    Ok(created_response(&book.key, stored))
}

/// Delete a book.
#[utoipa::path(
    delete, path = "/books/{author}/{title}", operation_id = "deleteBook", tag = "books",
    params(
        BookPathParams,
        ("If-Match" = inline(Option<EntityTags>), Header, description = "Delete only if the stored ETag is listed (`*`: only if it exists)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        BookNotFound, PreconditionFailed, InputErrors, AuthErrors, BackendErrors,
    )
)]
pub(super) async fn delete_book(
    State(state): State<AppState>,
    BookWrite { key, expectation }: BookWrite,
) -> Result<StatusCode, ApiError> {
    state
        .repo
        .delete(&key, &expectation)
        .await
        .map_err(for_book(&key))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create or replace up to 100 books in one transaction: all or nothing.
///
/// The category and author counts the batch changes are in the same transaction, merged per
/// name, and DynamoDB takes at most 100 items in one: a batch whose books, changed counts and
/// Idempotency-Key record add up to more is a 422 naming `books` (send smaller batches). 100
/// replacements that keep their categories fit; new books by one author in one category fit 98.
///
/// With an `Idempotency-Key` (at most 99 books: the key's record is one more item of the
/// transaction), a repeat of a successful request (same token, key and body, within 24 hours)
/// answers what the first answered and writes nothing. Failures are not recorded.
#[utoipa::path(
    post, path = "/books/batch", operation_id = "batchPutBooks", tag = "books",
    request_body(content = BatchRequest, content_type = "application/json"),
    params(IdempotencyKeyParam), security(("bearer" = [])),
    responses(
        (status = 200, description = "Every book was written (or, with `Idempotent-Replayed`, the recorded answer to an earlier request with this Idempotency-Key)", body = BatchResponse,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is a replayed answer; absent otherwise"))),
        (status = 409, description = "Other writers kept changing these books, or a request with this Idempotency-Key is still in progress; retry", body = Problem, content_type = "application/problem+json"),
        KeyedWriteErrors,
    )
)]
pub(super) async fn batch_put(
    State(AppState { repo, .. }): State<AppState>,
    Keyed { key, body }: Keyed<BatchRequest>,
) -> Result<Response, ApiError> {
    let books = parse_batch(body)?;
    if let Some(key) = key {
        return idempotency::batch_put(&repo, &books, &key).await;
    }
    let outcome = repo.put_batch(&books).await?;
    Ok(Json(BatchResponse::from(outcome)).into_response())
}

/// Validates every book of a batch, naming fields `books[i].title`.
fn parse_batch(body: BatchRequest) -> Result<Vec<NewBook>, ApiError> {
    let count = body.books.len();
    if count == 0 || count > MAX_BATCH {
        return Err(ApiError::invalid(
            "books",
            format!("a batch holds 1 to {MAX_BATCH} books, got {count}"),
        ));
    }
    let books = body
        .books
        .into_iter()
        .map(|b| NewBook::parse(b.author, b.title, b.category, b.formats));
    NewBook::parse_list("books", books, Repeats::Refused).map_err(ApiError::Validation)
}
