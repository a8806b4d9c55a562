//! ETags and If-Match / If-None-Match, enforced by DynamoDB conditions.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{HAMLET, TestApp, etag, problem, spawn_app};

/// The current ETag of a book, from a GET.
async fn tag_of(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.headers()["etag"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn get_with_a_matching_if_none_match_is_304() {
    let app = spawn_app().await;
    app.seed_tutorial().await;
    let tag = tag_of(&app, HAMLET).await;

    for listed in [
        tag.clone(),
        format!("W/{tag}"),
        format!("\"7\", {tag}"),
        "*".to_owned(),
    ] {
        let response = app
            .conditional(Method::GET, HAMLET, ("If-None-Match", &listed), None)
            .await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{listed}");
        assert_eq!(response.headers()["etag"], tag.as_str());
        assert!(response.bytes().await.unwrap().is_empty());
    }
    for other in ["\"2\"", "\"1\""] {
        let response = app
            .conditional(Method::GET, HAMLET, ("If-None-Match", other), None)
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{other}");
    }
}

#[tokio::test]
async fn tags_compare_as_strings_not_numbers() {
    let app = spawn_app().await;
    app.seed_tutorial().await;
    let tag = tag_of(&app, HAMLET).await;
    // `"1.abc…"` with a leading zero on the version names no revision of ours.
    let padded = format!("\"0{}", &tag[1..]);

    let get = app
        .conditional(Method::GET, HAMLET, ("If-None-Match", &padded), None)
        .await;
    assert_eq!(get.status(), StatusCode::OK);
    let put = app
        .conditional(
            Method::PUT,
            HAMLET,
            ("If-Match", &padded),
            Some(json!({"category": "Tragedy"})),
        )
        .await;
    problem(put, StatusCode::PRECONDITION_FAILED).await;
}

#[tokio::test]
async fn writes_with_a_stale_if_match_are_412_and_change_nothing() {
    let app = spawn_app().await;
    app.seed_tutorial().await;
    let first = tag_of(&app, HAMLET).await;

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
            ("If-Match", &format!("W/{first}")),
            Some(json!({"remove": ["Hardcover"]})),
        )
        .await;
    problem(weak, StatusCode::PRECONDITION_FAILED).await;

    let book: Value = app.get(HAMLET).await.json().await.unwrap();
    assert_eq!(
        (book["version"].as_u64(), book["category"].as_str()),
        (Some(1), Some("Drama"))
    );

    let current = app
        .conditional(
            Method::PATCH,
            &format!("{HAMLET}/formats"),
            ("If-Match", &format!("\"5\", {first}")),
            Some(json!({"remove": ["Hardcover"]})),
        )
        .await;
    assert_eq!(current.status(), StatusCode::OK);
    let second = etag(&current, 2);
    let delete = app
        .conditional(Method::DELETE, HAMLET, ("If-Match", &first), None)
        .await;
    problem(delete, StatusCode::PRECONDITION_FAILED).await;
    let delete = app
        .conditional(Method::DELETE, HAMLET, ("If-Match", &second), None)
        .await;
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_412_carries_the_stored_book_and_its_etag() {
    let app = spawn_app().await;
    app.seed_tutorial().await;
    let stored: Value = app.get(HAMLET).await.json().await.unwrap();
    let tag = tag_of(&app, HAMLET).await;
    let stale = "\"9.0123456789abcdef\"";

    let formats = format!("{HAMLET}/formats");
    let format = format!("{HAMLET}/formats/Audiobook");
    let writes: [(Method, &str, Option<Value>); 5] = [
        (Method::PUT, HAMLET, Some(json!({"category": "Tragedy"}))),
        (Method::PATCH, &formats, Some(json!({"add": {"A": "B"}}))),
        (Method::PUT, &format, Some(json!({"id": "X"}))),
        (Method::DELETE, &format, None),
        (Method::DELETE, HAMLET, None),
    ];
    for (method, path, body) in writes {
        let response = app
            .conditional(method.clone(), path, ("If-Match", stale), body)
            .await;
        assert_eq!(response.headers()["etag"], tag.as_str(), "{method} {path}");
        let body = problem(response, StatusCode::PRECONDITION_FAILED).await;
        assert_eq!(body["current"], stored, "{method} {path}");
    }

    // No book at all: `current` is null and there is no ETag.
    let ghost = app
        .conditional(
            Method::PUT,
            "/books/Ghost/Book",
            ("If-Match", "*"),
            Some(json!({"category": "C"})),
        )
        .await;
    assert!(ghost.headers().get("etag").is_none());
    let body = problem(ghost, StatusCode::PRECONDITION_FAILED).await;
    assert_eq!(body["current"], Value::Null);
    assert!(body.as_object().unwrap().contains_key("current"));
}

#[tokio::test]
async fn a_tag_from_a_deleted_book_never_matches_its_successor() {
    let app = spawn_app().await;
    let path = "/books/Phoenix/Reborn";
    let created = app.write(Method::PUT, path, json!({"category": "C"})).await;
    let old = etag(&created, 1);
    let deleted = app.authed(Method::DELETE, path).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let again = app.write(Method::PUT, path, json!({"category": "D"})).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    let new = etag(&again, 1);
    assert_ne!(old, new, "same version, new book: the tags must differ");

    for (method, body) in [
        (Method::PUT, Some(json!({"category": "Overwritten"}))),
        (Method::DELETE, None),
    ] {
        let stale = app
            .conditional(method, path, ("If-Match", &old), body)
            .await;
        problem(stale, StatusCode::PRECONDITION_FAILED).await;
    }
    let get = app
        .conditional(Method::GET, path, ("If-None-Match", &old), None)
        .await;
    assert_eq!(get.status(), StatusCode::OK);
    let book: Value = get.json().await.unwrap();
    assert_eq!(book["category"], "D");
}

#[tokio::test]
async fn if_match_and_if_none_match_star_together_are_412_on_an_existing_book() {
    let app = spawn_app().await;
    app.seed_tutorial().await;
    let tag = tag_of(&app, HAMLET).await;

    let response = app
        .authed(Method::PUT, HAMLET)
        .header("If-Match", &tag)
        .header("If-None-Match", "*")
        .json(&json!({"category": "Tragedy"}))
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::PRECONDITION_FAILED).await;
    let book: Value = app.get(HAMLET).await.json().await.unwrap();
    assert_eq!(book["version"], 1);

    // Both hold: the book is this revision and not that other one.
    let response = app
        .authed(Method::PUT, HAMLET)
        .header("If-Match", &tag)
        .header("If-None-Match", "\"7.0123456789abcdef\"")
        .json(&json!({"category": "Tragedy"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn if_match_on_a_missing_book_is_412_not_404() {
    let app = spawn_app().await;

    for tag in ["*", "\"1.0123456789abcdef\""] {
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
