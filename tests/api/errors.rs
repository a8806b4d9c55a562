//! Bad input and a failing backend: always a problem response, never a hang or a leak.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{
    HAMLET, HttpOnlyApp, always_failing_dynamodb, error_fields, problem, spawn_app, spawn_app_at,
};

#[tokio::test]
async fn writes_without_a_valid_token_are_401_and_change_nothing() {
    let app = spawn_app().await;
    app.seed_tutorial().await;
    let body = json!({"category": "Changed"});

    let attempts = [
        app.request(Method::PUT, HAMLET).json(&body),
        app.request(Method::PUT, HAMLET)
            .bearer_auth("wrong")
            .json(&body),
        app.request(Method::PUT, HAMLET)
            .header("Authorization", "Basic dGVzdC10b2tlbg==")
            .json(&body),
        app.request(Method::DELETE, HAMLET),
        app.request(Method::POST, "/books/batch")
            .json(&json!({"books": []})),
        app.request(Method::PATCH, &format!("{HAMLET}/formats"))
            .json(&json!({"remove": ["Hardcover"]})),
    ];
    for attempt in attempts {
        let response = attempt.send().await.unwrap();
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        problem(response, StatusCode::UNAUTHORIZED).await;
    }
    let book: Value = app.get(HAMLET).await.json().await.unwrap();
    assert_eq!(
        (book["version"].as_u64(), book["category"].as_str()),
        (Some(1), Some("Drama"))
    );
}

#[tokio::test]
async fn bodies_must_be_json_of_the_right_shape() {
    let app = HttpOnlyApp::new().await;
    let put = |body: &'static str, content_type: Option<&'static str>| {
        let mut request = app.authed(Method::PUT, "/books/A/T").body(body);
        if let Some(ct) = content_type {
            request = request.header("Content-Type", ct);
        }
        let app = &app;
        async move { app.send(request).await }
    };

    problem(
        put(r#"{"category":"C"}"#, None).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    problem(
        put(r#"{"category":"C"}"#, Some("text/plain")).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    problem(
        put(r#"{"category":"#, Some("application/json")).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        put("", Some("application/json")).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let unknown = problem(
        put(
            r#"{"category":"C","colour":"red"}"#,
            Some("application/json"),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error_fields(&unknown), ["colour"]);
    let wrong_type = problem(
        put(r#"{"category":5}"#, Some("application/json")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error_fields(&wrong_type), ["category"]);
}

#[tokio::test]
async fn json_with_a_charset_parameter_is_json() {
    let app = spawn_app().await;
    let ok = app
        .authed(Method::PUT, "/books/A/T")
        .header("Content-Type", "application/json; charset=utf-8")
        .body(r#"{"category":"C"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn validation_names_every_bad_field() {
    let app = HttpOnlyApp::new().await;

    let body = json!({
        "author": " padded", "title": "x".repeat(257), "category": "bad\u{7}bell",
        "formats": {"Hardcover": "", "Paper\u{85}back": "ok"}
    });
    let response = app.write(Method::POST, "/books", body).await;
    let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    let mut fields = error_fields(&body);
    fields.sort();
    assert_eq!(
        fields,
        [
            "author",
            "category",
            "formats.Hardcover",
            "formats.Paper\u{85}back",
            "title"
        ]
    );
}

#[tokio::test]
async fn bodies_over_64_kib_are_413() {
    let app = HttpOnlyApp::new().await;
    let big = json!({"category": "C", "formats": {"F": "x".repeat(70 * 1024)}});

    problem(
        app.write(Method::PUT, "/books/A/T", big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_with_allow() {
    let app = HttpOnlyApp::new().await;

    problem(app.get("/nope").await, StatusCode::NOT_FOUND).await;
    problem(
        app.get("/books/only-one-segment").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let response = app.send(app.authed(Method::POST, HAMLET)).await;
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        assert!(allow.contains(method), "{allow}");
    }
}

#[tokio::test]
async fn path_segments_that_fail_validation_are_422_and_bad_encoding_400() {
    let app = HttpOnlyApp::new().await;

    let nul = app.get("/books/A/%00").await;
    assert_eq!(
        error_fields(&problem(nul, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["title"]
    );
    let invalid_utf8 = app.get("/books/%FF%FE/T").await;
    problem(invalid_utf8, StatusCode::BAD_REQUEST).await;
}

async fn assert_fast_503(base_path_app: &crate::support::TestApp) {
    let started = Instant::now();
    let response = base_path_app.get(HAMLET).await;
    let elapsed = started.elapsed();
    assert_eq!(response.headers()["retry-after"], "1");
    let body = problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        !body["detail"].as_str().unwrap().contains("dispatch"),
        "no internals leak: {body}"
    );
    assert!(elapsed < Duration::from_secs(10), "answered in {elapsed:?}");
}

#[tokio::test]
async fn an_unreachable_dynamodb_is_a_503_not_a_hang() {
    // Nothing listens on this port: connections are refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let app = spawn_app_at(&endpoint, false).await;

    assert_fast_503(&app).await;
    problem(
        app.get("/health/ready").await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
}

#[tokio::test]
async fn a_dynamodb_that_accepts_but_never_answers_is_a_503_within_the_deadline() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket); // Keep it open, say nothing.
        }
    });
    let app = spawn_app_at(&endpoint, false).await;

    assert_fast_503(&app).await;
}

#[tokio::test]
async fn a_missing_table_is_a_503() {
    let app = spawn_app_at(&crate::support::engine_endpoint(), false).await;

    problem(app.get(HAMLET).await, StatusCode::SERVICE_UNAVAILABLE).await;
}

#[tokio::test]
async fn throttling_is_a_503_and_a_dynamodb_bug_a_generic_500() {
    for throttled in [
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
    ] {
        let app = spawn_app_at(&always_failing_dynamodb(400, throttled).await, false).await;
        assert_fast_503(&app).await;
    }

    // A request DynamoDB calls invalid is our bug: a 500 that leaks nothing.
    let app = spawn_app_at(
        &always_failing_dynamodb(400, "ValidationException").await,
        false,
    )
    .await;
    let body = problem(app.get(HAMLET).await, StatusCode::INTERNAL_SERVER_ERROR).await;
    assert_eq!(body["detail"], "an internal error occurred");
}
