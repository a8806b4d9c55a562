//! Paginated listings by author (table) and category (GSI).

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, enc, every_item, problem, spawn_app};

/// Walks every page of `path` (which has a query string), asserting the page invariants.
async fn walk(app: &TestApp, path: &str, limits: &[u32]) -> Vec<(String, String)> {
    every_item(app, path, limits)
        .await
        .iter()
        .map(|b| {
            (
                b["title"].as_str().unwrap().to_owned(),
                b["author"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// 23 books by one author; in category "Shared" two other authors reuse some titles.
async fn library(app: &TestApp) -> Vec<String> {
    let titles: Vec<String> = (0..23).map(|i| format!("Title {i:02}")).collect();
    let books: Vec<Value> = titles
        .iter()
        .map(|t| json!({"author": "Prolific", "title": t, "category": "Shared"}))
        .chain((0..5).map(|i| json!({"author": "Other", "title": format!("Title {:02}", i * 4), "category": "Shared"})))
        .chain((0..3).map(|i| json!({"author": "Elsewhere", "title": format!("Title {i:02}"), "category": "Else"})))
        .collect();
    let response = app
        .write(Method::POST, "/books/batch", json!({"books": books}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    titles
}

#[tokio::test]
async fn author_pages_return_every_book_once_in_title_order() {
    let app = spawn_app().await;
    let titles = library(&app).await;

    for limits in [&[1][..], &[2], &[7], &[23], &[100], &[3, 10, 1]] {
        let asc = walk(&app, "/authors/Prolific/books?order=asc", limits).await;
        let asc_titles: Vec<String> = asc.into_iter().map(|(t, _)| t).collect();
        assert_eq!(asc_titles, titles, "limits {limits:?}");
        let desc = walk(&app, "/authors/Prolific/books?order=desc", limits).await;
        let mut desc_titles: Vec<String> = desc.into_iter().map(|(t, _)| t).collect();
        desc_titles.reverse();
        assert_eq!(desc_titles, titles, "limits {limits:?}");
    }
}

#[tokio::test]
async fn category_pages_come_from_the_index_and_handle_shared_titles() {
    let app = spawn_app().await;
    library(&app).await;

    for limits in [&[1][..], &[4], &[6, 1], &[100]] {
        for order in ["asc", "desc"] {
            let seen = walk(
                &app,
                &format!("/categories/Shared/books?order={order}"),
                limits,
            )
            .await;
            assert_eq!(seen.len(), 28, "limits {limits:?} {order}");
            let unique: HashSet<_> = seen.iter().collect();
            assert_eq!(unique.len(), 28, "no book twice");
            let titles: Vec<&String> = seen.iter().map(|(t, _)| t).collect();
            let mut sorted = titles.clone();
            sorted.sort();
            if order == "desc" {
                sorted.reverse();
            }
            assert_eq!(titles, sorted, "title order");
        }
    }
}

#[tokio::test]
async fn title_prefix_filters_and_scopes_the_cursor() {
    let app = spawn_app().await;
    library(&app).await;

    let seen = walk(&app, "/authors/Prolific/books?title_prefix=Title%201", &[3]).await;
    let titles: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        titles,
        (10..20).map(|i| format!("Title {i}")).collect::<Vec<_>>()
    );
    let seen = walk(
        &app,
        "/categories/Shared/books?title_prefix=Title%200&order=desc",
        &[2],
    )
    .await;
    assert_eq!(seen.len(), 10 + 3);

    let first: Value = app
        .get("/authors/Prolific/books?title_prefix=Title%201&limit=2")
        .await
        .json()
        .await
        .unwrap();
    let cursor = enc(first["next_cursor"].as_str().unwrap());
    for other in [
        format!("/authors/Prolific/books?cursor={cursor}"),
        format!("/authors/Other/books?title_prefix=Title%201&cursor={cursor}"),
        format!("/authors/Prolific/books?title_prefix=Title%201&order=desc&cursor={cursor}"),
        format!("/categories/Prolific/books?title_prefix=Title%201&cursor={cursor}"),
    ] {
        problem(app.get(&other).await, StatusCode::BAD_REQUEST).await;
    }
    let same = app
        .get(&format!(
            "/authors/Prolific/books?title_prefix=Title%201&limit=5&cursor={cursor}"
        ))
        .await;
    assert_eq!(
        same.status(),
        StatusCode::OK,
        "limit may change between pages"
    );
}

#[tokio::test]
async fn forged_and_malformed_cursors_are_400() {
    let app = spawn_app().await;
    library(&app).await;
    let first: Value = app
        .get("/authors/Prolific/books?limit=2")
        .await
        .json()
        .await
        .unwrap();
    let good = first["next_cursor"].as_str().unwrap().to_owned();

    use base64::Engine as _;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    for bad in [
        "garbage!".to_owned(),
        good[..good.len() - 4].to_owned(),
        "A".repeat(5000),
        b64(json!({"s": "author", "k": "Prolific", "p": "", "o": "asc"})),
        b64(json!({"s": "author", "k": "Prolific", "p": "", "o": "asc", "t": 5})),
        b64(
            json!({"s": "author", "k": "Prolific", "p": "", "o": "asc", "t": "x", "a": "Prolific"}),
        ),
        // Keys DynamoDB itself refuses (an empty key value): the engine must never see them.
        b64(json!({"s": "author", "k": "Prolific", "p": "", "o": "asc", "t": ""})),
        b64(json!({"s": "author", "k": "Prolific", "p": "", "o": "asc", "t": "x".repeat(2000)})),
    ] {
        let response = app
            .get(&format!("/authors/Prolific/books?cursor={}", enc(&bad)))
            .await;
        problem(response, StatusCode::BAD_REQUEST).await;
    }
    let empty_author =
        b64(json!({"s": "category", "k": "Prolific", "p": "", "o": "asc", "t": "x", "a": ""}));
    let response = app
        .get(&format!(
            "/categories/Prolific/books?cursor={}",
            enc(&empty_author)
        ))
        .await;
    problem(response, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn an_author_or_category_without_books_is_an_empty_page() {
    let app = spawn_app().await;

    for path in ["/authors/Nobody/books", "/categories/Nothing/books"] {
        let page: Value = app.get(path).await.json().await.unwrap();
        assert_eq!(page, json!({"items": [], "next_cursor": null}));
    }
}

#[tokio::test]
async fn bad_query_parameters_are_400() {
    let app = spawn_app().await;

    for query in [
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=abc",
        "limit=99999999999999999999",
        "order=up",
        "order=DESC",
    ] {
        let response = app.get(&format!("/authors/A/books?{query}")).await;
        problem(response, StatusCode::BAD_REQUEST).await;
    }
    let long_prefix = "x".repeat(257);
    problem(
        app.get(&format!("/categories/C/books?title_prefix={long_prefix}"))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
}
