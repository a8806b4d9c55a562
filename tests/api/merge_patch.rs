//! `PATCH /books/{author}/{title}` with `application/merge-patch+json`: category and formats in
//! one write, the 32-format cap, preconditions and every refusal.

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, error_fields, etag, formats, problem, spawn_app};

const RAINMAKER: &str = "/books/John%20Grisham/The%20Rainmaker";
const MERGE_PATCH: &str = "application/merge-patch+json";

/// A merge-patch request with the token, not yet sent.
fn merge(app: &TestApp, path: &str, body: &Value) -> RequestBuilder {
    app.authed(Method::PATCH, path)
        .header("content-type", MERGE_PATCH)
        .body(body.to_string())
}

async fn send(request: RequestBuilder) -> Response {
    request.send().await.unwrap()
}

/// The fields a refused patch names, checking it wrote nothing.
async fn refused(app: &TestApp, body: Value) -> Vec<String> {
    let response = send(merge(app, RAINMAKER, &body)).await;
    let fields = error_fields(&problem(response, StatusCode::UNPROCESSABLE_ENTITY).await);
    let book: Value = app.get(RAINMAKER).await.json().await.unwrap();
    assert_eq!(book["version"], 1, "{body} wrote nothing");
    fields
}

#[tokio::test]
async fn changes_the_category_alone() {
    let app = spawn_app().await;
    app.seed_tutorial().await;

    let response = send(merge(&app, RAINMAKER, &json!({"category": "Legal"}))).await;

    assert_eq!(response.status(), StatusCode::OK);
    let tag = etag(&response, 2);
    let book: Value = response.json().await.unwrap();
    assert_eq!(book["category"], "Legal");
    assert_eq!(
        book["formats"],
        json!({"Hardcover": "J4SUKVGU", "Paperback": "D7YF4FCX"})
    );
    assert_eq!(book["version"], 2);
    let got = app.get(RAINMAKER).await;
    assert_eq!(got.headers()["etag"], tag.as_str());
    assert_eq!(
        got.json::<Value>().await.unwrap(),
        book,
        "200 is the book as stored"
    );
    let listed: Value = app
        .get("/categories/Legal/books")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["title"], "The Rainmaker");
}

#[tokio::test]
async fn sets_and_removes_formats_and_keeps_the_rest_in_one_write() {
    let app = spawn_app().await;
    app.seed_tutorial().await;

    let body = json!({
        "category": "Legal",
        "formats": {"Audiobook": "8WE3KPTP", "Paperback": null, "Vinyl": null}
    });
    let response = send(merge(&app, RAINMAKER, &body)).await;

    assert_eq!(response.status(), StatusCode::OK);
    etag(&response, 2);
    let book: Value = response.json().await.unwrap();
    assert_eq!(
        book["formats"],
        json!({"Hardcover": "J4SUKVGU", "Audiobook": "8WE3KPTP"}),
        "Hardcover was not mentioned and is kept; removing absent Vinyl is no error"
    );
    assert_eq!(book["category"], "Legal");
    assert_eq!(book["version"], 2);
    assert_ne!(book["updated_at"], Value::Null);

    let replaced = send(merge(
        &app,
        RAINMAKER,
        &json!({"formats": {"Hardcover": "NEWID"}}),
    ))
    .await;
    assert_eq!(replaced.status(), StatusCode::OK);
    etag(&replaced, 3);
    let book: Value = replaced.json().await.unwrap();
    assert_eq!(book["formats"]["Hardcover"], "NEWID");
    assert_eq!(book["category"], "Legal");
}

#[tokio::test]
async fn a_patch_that_changes_nothing_is_422() {
    let app = spawn_app().await;
    app.seed_tutorial().await;

    assert_eq!(refused(&app, json!({})).await, ["body"]);
    assert_eq!(refused(&app, json!({"formats": {}})).await, ["formats"]);
}

#[tokio::test]
async fn read_only_and_unknown_members_are_422_naming_them() {
    let app = spawn_app().await;
    app.seed_tutorial().await;

    for field in ["author", "title", "version", "created_at", "updated_at"] {
        let response = send(merge(
            &app,
            RAINMAKER,
            &json!({"category": "Legal", field: "x"}),
        ))
        .await;
        let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error_fields(&body), [field]);
        assert_eq!(
            body["errors"][0]["message"],
            "cannot be changed by a merge patch"
        );
    }
    assert_eq!(refused(&app, json!({"colour": "red"})).await, ["colour"]);
    assert_eq!(
        refused(&app, json!({"formats": {"Hardcover": {"id": "X"}}})).await,
        ["formats.Hardcover"]
    );
    assert_eq!(
        refused(&app, json!({"category": {"name": "Legal"}})).await,
        ["category"]
    );
    let book: Value = app.get(RAINMAKER).await.json().await.unwrap();
    assert_eq!(book["category"], "Suspense");
}

#[tokio::test]
async fn bad_values_are_422_naming_the_field() {
    let app = spawn_app().await;
    app.seed_tutorial().await;

    assert_eq!(refused(&app, json!({"category": null})).await, ["category"]);
    assert_eq!(refused(&app, json!({"category": ""})).await, ["category"]);
    assert_eq!(refused(&app, json!({"category": 7})).await, ["category"]);
    assert_eq!(refused(&app, json!({"formats": null})).await, ["formats"]);
    assert_eq!(
        refused(&app, json!({"formats": ["Hardcover"]})).await,
        ["formats"]
    );
    assert_eq!(
        refused(&app, json!({"formats": "Hardcover"})).await,
        ["formats"]
    );
    for value in [json!(5), json!(true), json!(["X"])] {
        assert_eq!(
            refused(&app, json!({"formats": {"Hardcover": value}})).await,
            ["formats.Hardcover"]
        );
    }
    assert_eq!(
        refused(&app, json!({"formats": {"Hardcover": " padded"}})).await,
        ["formats.Hardcover"]
    );
    assert_eq!(
        refused(&app, json!({"formats": {" padded": null}})).await,
        ["formats. padded"]
    );
    let removals: serde_json::Map<String, Value> =
        (0..33).map(|i| (format!("R{i}"), Value::Null)).collect();
    assert_eq!(
        refused(&app, json!({"formats": removals})).await,
        ["formats"]
    );
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_422_and_malformed_json_400() {
    let app = spawn_app().await;
    app.seed_tutorial().await;

    for body in [json!([]), json!("category"), json!(null), json!(1)] {
        assert_eq!(refused(&app, body).await, ["body"]);
    }
    let malformed = send(
        app.authed(Method::PATCH, RAINMAKER)
            .header("content-type", MERGE_PATCH)
            .body("{\"category\": "),
    )
    .await;
    problem(malformed, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn only_the_merge_patch_media_type_is_accepted() {
    let app = spawn_app().await;
    app.seed_tutorial().await;
    let body = json!({"category": "Legal"}).to_string();

    for content_type in ["application/json", "text/plain", "application/merge-patch"] {
        let response = send(
            app.authed(Method::PATCH, RAINMAKER)
                .header("content-type", content_type)
                .body(body.clone()),
        )
        .await;
        problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    }
    let none = send(app.authed(Method::PATCH, RAINMAKER).body(body.clone())).await;
    problem(none, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;

    let with_charset = send(
        app.authed(Method::PATCH, RAINMAKER)
            .header(
                "content-type",
                "application/merge-patch+json; charset=utf-8",
            )
            .body(body),
    )
    .await;
    assert_eq!(with_charset.status(), StatusCode::OK);
}

#[tokio::test]
async fn needs_a_token_and_a_book() {
    let app = spawn_app().await;
    app.seed_tutorial().await;

    let anonymous = send(
        app.request(Method::PATCH, RAINMAKER)
            .header("content-type", MERGE_PATCH)
            .body(json!({"category": "Legal"}).to_string()),
    )
    .await;
    problem(anonymous, StatusCode::UNAUTHORIZED).await;

    let missing = send(merge(&app, "/books/No/Such", &json!({"category": "Legal"}))).await;
    let body = problem(missing, StatusCode::NOT_FOUND).await;
    assert!(body["detail"].as_str().unwrap().contains("Such"));
    assert_eq!(
        app.get("/books/No/Such").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn if_match_is_honoured() {
    let app = spawn_app().await;
    app.seed_tutorial().await;
    let stored: Value = app.get(RAINMAKER).await.json().await.unwrap();
    let tag = app.get(RAINMAKER).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = json!({"category": "Legal", "formats": {"Paperback": null}});

    let stale =
        send(merge(&app, RAINMAKER, &body).header("if-match", "\"9.0123456789abcdef\"")).await;
    assert_eq!(stale.headers()["etag"], tag.as_str());
    let problem_body = problem(stale, StatusCode::PRECONDITION_FAILED).await;
    assert_eq!(problem_body["current"], stored);

    let current = send(merge(&app, RAINMAKER, &body).header("if-match", tag.as_str())).await;
    assert_eq!(current.status(), StatusCode::OK);
    etag(&current, 2);
    let book: Value = current.json().await.unwrap();
    assert_eq!(book["formats"], json!({"Hardcover": "J4SUKVGU"}));

    let reused = send(merge(&app, RAINMAKER, &body).header("if-match", tag.as_str())).await;
    problem(reused, StatusCode::PRECONDITION_FAILED).await;

    let ghost = send(merge(&app, "/books/Ghost/Book", &body).header("if-match", "*")).await;
    let problem_body = problem(ghost, StatusCode::PRECONDITION_FAILED).await;
    assert_eq!(problem_body["current"], Value::Null);
}

#[tokio::test]
async fn the_32_format_cap_holds_and_removals_count_toward_nothing() {
    let app = spawn_app().await;
    let path = "/books/Cap/Full";
    let created = app
        .write(
            Method::PUT,
            path,
            json!({"category": "C", "formats": formats(31)}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);

    let two_more = send(merge(
        &app,
        path,
        &json!({"category": "D", "formats": {"N1": "a", "N2": "b"}}),
    ))
    .await;
    assert_eq!(
        error_fields(&problem(two_more, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["formats"]
    );
    let book: Value = app.get(path).await.json().await.unwrap();
    assert_eq!(book["category"], "C", "a refused patch changes nothing");
    assert_eq!(book["version"], 1);

    let one_more = send(merge(&app, path, &json!({"formats": {"N1": "a"}}))).await;
    assert_eq!(one_more.status(), StatusCode::OK);

    // At 32: adding one while removing one is exact, though the conservative check refuses it.
    let swap = send(merge(
        &app,
        path,
        &json!({"category": "D", "formats": {"N2": "b", "F05": null}}),
    ))
    .await;
    assert_eq!(swap.status(), StatusCode::OK);
    etag(&swap, 3);
    let book: Value = swap.json().await.unwrap();
    assert_eq!(book["formats"].as_object().unwrap().len(), 32);
    assert_eq!(book["formats"]["N2"], "b");
    assert!(book["formats"].get("F05").is_none());
    assert_eq!(book["category"], "D");

    let category_at_the_cap = send(merge(&app, path, &json!({"category": "E"}))).await;
    assert_eq!(category_at_the_cap.status(), StatusCode::OK);
    etag(&category_at_the_cap, 4);

    let over = send(merge(&app, path, &json!({"formats": {"N3": "c"}}))).await;
    problem(over, StatusCode::UNPROCESSABLE_ENTITY).await;
}

#[tokio::test]
async fn a_tutorial_item_without_formats_can_be_patched() {
    let app = spawn_app().await;
    for title in ["Bare", "Plain"] {
        app.put_tutorial_item(title).await;
    }

    let both = send(merge(
        &app,
        "/books/Tutorial/Bare",
        &json!({"category": "Legal", "formats": {"Audiobook": "8WE3KPTP", "Paperback": null}}),
    ))
    .await;
    assert_eq!(both.status(), StatusCode::OK);
    // No incarnation on an item another tool wrote, so its tag is the bare version.
    assert_eq!(both.headers()["etag"], "\"1\"");
    let book: Value = both.json().await.unwrap();
    assert_eq!(book["formats"], json!({"Audiobook": "8WE3KPTP"}));
    assert_eq!(book["category"], "Legal");
    assert_eq!(book["version"], 1);

    let category = send(merge(
        &app,
        "/books/Tutorial/Plain",
        &json!({"category": "Legal"}),
    ))
    .await;
    assert_eq!(category.status(), StatusCode::OK);
    let book: Value = category.json().await.unwrap();
    assert_eq!(book["formats"], json!({}));
    assert_eq!(book["version"], 1);

    // The item keeps the tutorial's attribute types; Formats is now an (empty) map.
    let raw = app.raw_item("Tutorial", "Plain").await;
    assert_eq!(raw["Category"], AttributeValue::S("Legal".into()));
    assert_eq!(raw["Version"], AttributeValue::N("1".into()));
    assert!(matches!(&raw["Formats"], AttributeValue::M(m) if m.is_empty()));
}
