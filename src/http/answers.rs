//! The answers every route that returns one book shares: the book with its ETag, and the 404
//! that names it. Apart from the routes themselves, so that none of them imports another.

use axum::{
    Json,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

use super::{dto::BookResponse, headers::etag, problem::ApiError};
use crate::{
    domain::{Book, BookKey},
    repository::StoreError,
};

/// Maps a repository error, naming the book in a 404.
pub(super) fn for_book(key: &BookKey) -> impl FnOnce(StoreError) -> ApiError + '_ {
    move |err| match err {
        StoreError::NotFound => ApiError::NotFound(format!(
            "no book titled '{}' by '{}'",
            key.title, key.author
        )),
        other => other.into(),
    }
}

/// A single-book response: the book as JSON with its ETag.
pub(super) fn book_response(status: StatusCode, book: Book) -> Response {
    let tag = etag(&book.revision());
    (
        status,
        [(header::ETAG, tag)],
        Json(BookResponse::from(book)),
    )
        .into_response()
}
