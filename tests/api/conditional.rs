//! ETags and If-Match / If-None-Match, enforced by DynamoDB conditions.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{problem, spawn_app};

const HAMLET: &str = "/books/William%20Shakespeare/Hamlet";

#[tokio::test]
async fn get_with_a_matching_if_none_match_is_304() {
    let app = spawn_app().await;
    app.seed_tutorial().await;

    for tag in ["\"1\"", "W/\"1\"", "\"7\", \"1\"", "*"] {
        let response = app
            .conditional(Method::GET, HAMLET, ("If-None-Match", tag), None)
            .await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{tag}");
        assert_eq!(response.headers()["etag"], "\"1\"");
        assert!(response.bytes().await.unwrap().is_empty());
    }
    let response = app
        .conditional(Method::GET, HAMLET, ("If-None-Match", "\"2\""), None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn writes_with_a_stale_if_match_are_412_and_change_nothing() {
    let app = spawn_app().await;
    app.seed_tutorial().await;

    let stale = app
        .conditional(
            Method::PUT,
            HAMLET,
            ("If-Match", "\"7\""),
            Some(json!({"category": "Tragedy"})),
        )
        .await;
    problem(stale, StatusCode::PRECONDITION_FAILED).await;
    let weak = app
        .conditional(
            Method::PATCH,
            &format!("{HAMLET}/formats"),
            ("If-Match", "W/\"1\""),
            Some(json!({"remove": ["Hardcover"]})),
        )
        .await;
    problem(weak, StatusCode::PRECONDITION_FAILED).await;
    let delete = app
        .conditional(Method::DELETE, HAMLET, ("If-Match", "\"2\""), None)
        .await;
    problem(delete, StatusCode::PRECONDITION_FAILED).await;

    let book: Value = app.get(HAMLET).await.json().await.unwrap();
    assert_eq!(
        (book["version"].as_u64(), book["category"].as_str()),
        (Some(1), Some("Drama"))
    );

    let current = app
        .conditional(
            Method::PATCH,
            &format!("{HAMLET}/formats"),
            ("If-Match", "\"5\", \"1\""),
            Some(json!({"remove": ["Hardcover"]})),
        )
        .await;
    assert_eq!(current.status(), StatusCode::OK);
    let delete = app
        .conditional(Method::DELETE, HAMLET, ("If-Match", "\"2\""), None)
        .await;
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn if_match_on_a_missing_book_is_412_not_404() {
    let app = spawn_app().await;

    for tag in ["*", "\"1\""] {
        let put = app
            .conditional(
                Method::PUT,
                "/books/Ghost/Book",
                ("If-Match", tag),
                Some(json!({"category": "C"})),
            )
            .await;
        problem(put, StatusCode::PRECONDITION_FAILED).await;
        let patch = app
            .conditional(
                Method::PATCH,
                "/books/Ghost/Book/formats",
                ("If-Match", tag),
                Some(json!({"add": {"A": "B"}})),
            )
            .await;
        problem(patch, StatusCode::PRECONDITION_FAILED).await;
        let delete = app
            .conditional(Method::DELETE, "/books/Ghost/Book", ("If-Match", tag), None)
            .await;
        problem(delete, StatusCode::PRECONDITION_FAILED).await;
    }
    problem(app.get("/books/Ghost/Book").await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn put_with_if_none_match_star_only_creates() {
    let app = spawn_app().await;
    let create = || {
        app.conditional(
            Method::PUT,
            "/books/Once/Only",
            ("If-None-Match", "*"),
            Some(json!({"category": "C"})),
        )
    };

    assert_eq!(create().await.status(), StatusCode::CREATED);
    problem(create().await, StatusCode::PRECONDITION_FAILED).await;
}

#[tokio::test]
async fn malformed_precondition_headers_are_400() {
    let app = spawn_app().await;
    app.seed_tutorial().await;

    let response = app
        .conditional(
            Method::PUT,
            HAMLET,
            ("If-Match", "1"),
            Some(json!({"category": "C"})),
        )
        .await;
    problem(response, StatusCode::BAD_REQUEST).await;
}
