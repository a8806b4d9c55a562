//! The floor for `bench/run.sh`: the service's four benchmarked routes with nothing but HTTP
//! around the repository call, to measure what serving HTTP costs before any of the service's
//! own features.
//!
//! ```text
//! BOOKSTORE_ADDR=127.0.0.1:8095 BOOKSTORE_TABLE=Books cargo run --release --example bench_floor -- serve
//! ```
//!
//! It reads its settings as `bookstore serve` does (the same command line), using only the
//! address and the table.
//!
//! Each route parses its path, makes the service's own repository call (`BookRepository`, built
//! with `bookstore::repository::build_client`, so the same DynamoDB request, timeouts and
//! retries) and answers the service's JSON body, on axum over hyper with the same allocator.
//! Everything else the service does per request is left out: no request id, span, access log,
//! metrics, security headers, CORS, compression, admission control, deadline, panic catching,
//! body limit, auth, ETag or validation beyond the names' own parsing. What this binary costs
//! per request over `examples/bench_ceiling` is therefore HTTP itself; what `bookstore serve`
//! costs over this binary is the service's features. Not a service: nothing here is hardened.
//!
//! Routes: `GET /health/ready`, `GET /books/{author}/{title}`, `GET /authors/{author}/books`
//! and `GET /categories/{category}/books` (`limit` only, default 20), and
//! `PATCH /books/{author}/{title}/formats` (`{"add": {name: id}}` only). Any error is a bare 500.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, patch},
};
use bookstore::{
    cli::args::{Cli, Command},
    domain::{
        Author, BookKey, Category, Expectation, FormatChange, PageRequest, SortOrder, Validator,
    },
    http::dto::{BookResponse, PageResponse},
    repository::{BookRepository, BooksOf, build_client, load_sdk_config},
};
use clap::Parser;
use serde::Deserialize;

/// The same allocator as `bookstore serve`, so the comparison is of code, not of allocators.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Repo = State<Arc<BookRepository>>;

/// Bad input: the floor measures the path that works, so it does not say what was wrong.
fn bad_request() -> Response {
    StatusCode::BAD_REQUEST.into_response()
}

/// A failed call: likewise.
fn failed<E>(_: E) -> Response {
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

async fn get_book(State(repo): Repo, Path((author, title)): Path<(String, String)>) -> Response {
    let Ok(key) = BookKey::parse(author, title) else {
        return bad_request();
    };
    match repo.get(&key).await {
        Ok(Some(book)) => Json(BookResponse::from(book)).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => failed(e),
    }
}

#[derive(Deserialize)]
struct Limit {
    limit: Option<u32>,
}

async fn list(repo: &BookRepository, of: BooksOf<'_>, Limit { limit }: Limit) -> Response {
    let page = PageRequest {
        limit: limit.unwrap_or(20).clamp(1, 100),
        order: SortOrder::Asc,
        title_prefix: None,
        cursor: None,
    };
    match repo.list(of, &page).await {
        Ok(page) => Json(PageResponse::from(page)).into_response(),
        Err(e) => failed(e),
    }
}

async fn author_page(
    State(repo): Repo,
    Path(author): Path<String>,
    Query(q): Query<Limit>,
) -> Response {
    match Author::parse(author) {
        Ok(author) => list(&repo, BooksOf::Author(&author), q).await,
        Err(_) => bad_request(),
    }
}

async fn category_page(
    State(repo): Repo,
    Path(category): Path<String>,
    Query(q): Query<Limit>,
) -> Response {
    match Category::parse(category) {
        Ok(category) => list(&repo, BooksOf::Category(&category), q).await,
        Err(_) => bad_request(),
    }
}

#[derive(Deserialize)]
struct AddFormats {
    add: std::collections::BTreeMap<String, String>,
}

async fn patch_formats(
    State(repo): Repo,
    Path((author, title)): Path<(String, String)>,
    Json(body): Json<AddFormats>,
) -> Response {
    let Ok(key) = BookKey::parse(author, title) else {
        return bad_request();
    };
    let mut v = Validator::default();
    let add = v.formats("add", body.add);
    let Ok(Ok(change)) = v
        .finish(add)
        .map(|add| FormatChange::new(add, Default::default()))
    else {
        return bad_request();
    };
    match repo
        .update_formats(&key, &change, &Expectation::exists())
        .await
    {
        Ok(book) => Json(BookResponse::from(book)).into_response(),
        Err(e) => failed(e),
    }
}

#[tokio::main]
async fn main() {
    let Command::Serve(args) = Cli::parse().command else {
        eprintln!("bench_floor: usage: bench_floor serve (settings as for bookstore serve)");
        std::process::exit(2)
    };
    let client = build_client(&load_sdk_config().await);
    let repo = Arc::new(BookRepository::new(client, args.table.table));
    let app = Router::new()
        .route("/health/ready", get(|| async { "ok" }))
        .route("/books/{author}/{title}", get(get_book))
        .route("/books/{author}/{title}/formats", patch(patch_formats))
        .route("/authors/{author}/books", get(author_page))
        .route("/categories/{category}/books", get(category_page))
        .with_state(repo);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .unwrap_or_else(|e| panic!("bench_floor: cannot listen on {}: {e}", args.addr));
    axum::serve(listener, app)
        .await
        .expect("bench_floor: serving failed");
}
