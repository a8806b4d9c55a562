//! Health, metrics, request ids, CORS, documentation and migrations.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{
    HttpOnlyApp, ORIGIN, engine_endpoint, header, problem, sdk_config, spawn_app, spawn_app_at,
};
use bookstore::repository::{self, migrate};

#[tokio::test]
async fn health_live_and_ready() {
    let app = spawn_app().await;
    assert_eq!(app.get("/health/live").await.status(), StatusCode::OK);
    let ready: Value = app.get("/health/ready").await.json().await.unwrap();
    assert_eq!(ready["status"], "ready");

    let unmigrated = spawn_app_at(&engine_endpoint(), false).await;
    assert_eq!(
        unmigrated.get("/health/live").await.status(),
        StatusCode::OK
    );
    problem(
        unmigrated.get("/health/ready").await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
}

#[tokio::test]
async fn metrics_count_requests_and_dynamodb_calls() {
    let app = spawn_app().await;
    app.get("/books/Metric/Probe").await;

    let text = app.get("/metrics").await.text().await.unwrap();

    let line = text
        .lines()
        .find(|l| {
            l.starts_with("http_requests_total{")
                && l.contains("route=\"/books/{author}/{title}\"")
                && l.contains("status=\"404\"")
        })
        .unwrap_or_else(|| panic!("no request counter in:\n{text}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 1.0);
    assert!(text.contains("http_request_duration_seconds_bucket{"));
    assert!(text.contains("dynamodb_requests_total{operation=\"GetItem\""));
    assert!(text.contains("dynamodb_request_duration_seconds_bucket{operation=\"GetItem\""));
}

#[tokio::test]
async fn request_ids_are_kept_or_generated() {
    let app = HttpOnlyApp::new().await;

    let given = app
        .send(
            app.request(Method::GET, "/health/live")
                .header("X-Request-Id", "abc-123"),
        )
        .await;
    assert_eq!(given.headers()["x-request-id"], "abc-123");
    let generated = app.get("/books/No/Such").await;
    assert_eq!(generated.headers()["x-request-id"].len(), 36);
}

#[tokio::test]
async fn cors_preflight_and_exposed_headers() {
    let app = HttpOnlyApp::new().await;

    let preflight = app
        .send(
            app.request(Method::OPTIONS, "/books/A/T")
                .header("Origin", ORIGIN)
                .header("Access-Control-Request-Method", "PUT")
                .header(
                    "Access-Control-Request-Headers",
                    "authorization, content-type, if-match, if-none-match",
                ),
        )
        .await;
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], ORIGIN);
    let allowed = header(&preflight, "access-control-allow-headers").to_lowercase();
    for header in ["authorization", "content-type", "if-match", "if-none-match"] {
        assert!(allowed.contains(header), "{allowed}");
    }

    let actual = app
        .send(
            app.request(Method::GET, "/books/A/T")
                .header("Origin", ORIGIN),
        )
        .await;
    let exposed = header(&actual, "access-control-expose-headers").to_lowercase();
    for header in ["etag", "location", "x-request-id"] {
        assert!(exposed.contains(header), "{exposed}");
    }
    let other = app
        .send(
            app.request(Method::GET, "/books/A/T")
                .header("Origin", "https://evil.example"),
        )
        .await;
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn the_openapi_document_and_docs_page_are_served() {
    let app = HttpOnlyApp::new().await;

    let document: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["paths"]["/books/{author}/{title}"]["get"].is_object());
    let docs = app.get("/docs/").await;
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.unwrap().contains("swagger"));
}

#[tokio::test]
async fn concurrent_migrations_converge_and_a_rerun_does_nothing() {
    let client = repository::build_client(&sdk_config(&engine_endpoint()).await);
    let table = format!("books-migrate-{}", uuid::Uuid::new_v4().simple());

    let (a, b) = tokio::join!(migrate::run(&client, &table), migrate::run(&client, &table));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.applied.len() + a.skipped.len(), 5);
    assert_eq!(b.applied.len() + b.skipped.len(), 5);

    let again = migrate::run(&client, &table).await.unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(
        again.skipped,
        [
            "0001_create_books_table",
            "0002_add_category_index",
            "0003_create_idempotency_table",
            "0004_create_catalogue_table",
            "0005_recount_catalogue",
        ]
    );
    let repo = repository::BookRepository::new(client, table);
    assert!(repo.is_ready().await.unwrap());
}

#[test]
fn the_committed_openapi_document_is_current() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap();
    let generated = bookstore::http::docs::openapi_json();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "openapi/openapi.json is stale: regenerate it with `cargo run -- openapi > openapi/openapi.json`"
    );
}

/// The router and the document come from the same `routes!` declarations; this checks the
/// other direction of that promise at runtime: every documented operation is routed (no
/// "no such route" 404, no 405), whatever the handler then answers.
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = spawn_app().await;
    let document: Value = serde_json::from_str(&bookstore::http::docs::openapi_json()).unwrap();
    let paths = document["paths"].as_object().unwrap();
    let mut checked = 0;
    for (path, item) in paths {
        let concrete = path
            .replace("{author}", "A")
            .replace("{title}", "T")
            .replace("{category}", "C")
            .replace("{format}", "F");
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = app.request(method.clone(), &concrete).send().await.unwrap();
            let status = response.status();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            // A HEAD answer has no body to tell the two 404s apart; its GET is checked too.
            if status == StatusCode::NOT_FOUND && method != Method::HEAD {
                let body: Value = response.json().await.unwrap();
                assert_ne!(body["detail"], "no such route", "{method} {path}");
            }
            checked += 1;
        }
    }
    assert!(checked > 0, "no operation documented");
}

#[tokio::test]
async fn seeding_again_keeps_books_users_changed() {
    let app = spawn_app().await;
    app.seed_tutorial().await;
    let path = "/books/John%20Grisham/The%20Rainmaker";
    let changed = app
        .write(Method::PUT, path, serde_json::json!({"category": "Legal"}))
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    app.authed(Method::DELETE, "/books/William%20Shakespeare/Hamlet")
        .send()
        .await
        .unwrap();

    let books = repository::seed::parse_books(repository::seed::TUTORIAL_BOOKS).unwrap();
    let report = app.repo.seed(&books).await.unwrap();

    // Only the deleted book comes back; the changed one is left as the user wrote it.
    assert_eq!((report.created, report.kept), (1, 4));
    let book: Value = app.get(path).await.json().await.unwrap();
    assert_eq!(
        (book["category"].as_str(), book["version"].as_u64()),
        (Some("Legal"), Some(2))
    );
}
