//! The HTTP hardening contract: request ids, security headers, bounded metrics labels,
//! readiness, compression, slow uploads, slow clients and load shedding.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::http::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{book_path, problem, spawn_app, spawn_app_at};

#[tokio::test]
async fn only_well_formed_request_ids_are_kept() {
    let app = spawn_app().await;
    let echoed = |id: String| {
        let request = app
            .request(Method::GET, "/health/live")
            .header("X-Request-Id", id);
        async move {
            let response = request.send().await.unwrap();
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };

    for kept in ["a", "abc-123", "Root-1-5e1b:x.y_z", &"k".repeat(128)] {
        assert_eq!(echoed(kept.to_owned()).await, kept);
    }
    for replaced in [
        "x".repeat(5000),
        " ".repeat(40),
        "a b".to_owned(),
        "k".repeat(129),
        "id\"},{\"forged\":1".to_owned(),
        "a\tb".to_owned(),
    ] {
        let id = echoed(replaced.clone()).await;
        assert_ne!(id, replaced);
        assert_eq!(id.len(), 36, "a fresh UUID replaces {replaced:?}");
    }
}

#[tokio::test]
async fn made_up_methods_share_one_metrics_label() {
    let app = spawn_app().await;
    for i in 0..20 {
        let method = Method::from_bytes(format!("BREW{i}X").as_bytes()).unwrap();
        let response = app.request(method, "/books/A/T").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        let method = Method::from_bytes(format!("PURGE{i}").as_bytes()).unwrap();
        let response = app
            .request(method, &format!("/no/such/{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    let text = app.get("/metrics").await.text().await.unwrap();
    let series = |needle: &str| {
        text.lines()
            .filter(|l| l.starts_with("http_requests_total{") && l.contains(needle))
            .count()
    };
    assert_eq!(series("method=\"BREW"), 0, "{text}");
    assert_eq!(series("method=\"PURGE"), 0, "{text}");
    assert_eq!(series("/no/such/"), 0, "raw paths are never labels");
    assert!(series("method=\"other\",route=\"/books/{author}/{title}\",status=\"405\"") == 1);
    assert!(series("method=\"other\",route=\"unmatched\",status=\"404\"") == 1);
}

#[tokio::test]
async fn security_headers_on_every_response() {
    let app = spawn_app().await;

    for path in ["/health/live", "/books/No/Such", "/no/such/route", "/docs/"] {
        let response = app.get(path).await;
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
        assert!(response.headers().get("cache-control").is_none(), "{path}");
    }

    let docs = app.get("/docs/").await;
    let csp = docs.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(
        !csp.contains("http") && !csp.contains('*'),
        "only its own origin: {csp}"
    );
    assert!(
        app.get("/health/live")
            .await
            .headers()
            .get("content-security-policy")
            .is_none()
    );

    // The token typed into "Authorize" is not kept in localStorage.
    let initializer = app
        .get("/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        initializer.contains("\"persistAuthorization\": false"),
        "{initializer}"
    );

    let path = book_path("Security", "Headers");
    let body = json!({"category": "Tests", "formats": {}});
    let written = app.write(Method::PUT, &path, body.clone()).await;
    assert!(written.status().is_success());
    let denied = app
        .request(Method::PUT, &path)
        .json(&body)
        .send()
        .await
        .unwrap();
    let deleted = app.authed(Method::DELETE, &path).send().await.unwrap();
    let missing = app.authed(Method::DELETE, &path).send().await.unwrap();
    let created = app
        .write(
            Method::POST,
            "/books",
            json!({"author": "S", "title": "H", "category": "C", "formats": {}}),
        )
        .await;
    let patched = app
        .write(Method::PATCH, &format!("{path}/formats"), json!({}))
        .await;
    for (name, response) in [
        ("PUT", written),
        ("PUT 401", denied),
        ("DELETE", deleted),
        ("DELETE 404", missing),
        ("POST", created),
        ("PATCH error", patched),
    ] {
        assert_eq!(response.headers()["cache-control"], "no-store", "{name}");
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{name}"
        );
    }
    let read = app.get(&path).await;
    problem(read, StatusCode::NOT_FOUND).await;
}

/// A fake DynamoDB that answers DescribeTable with the given table and `CategoryIndex` statuses
/// after `delay`, and counts the calls.
async fn fake_describe_table(
    table_status: &'static str,
    index_status: Option<&'static str>,
    delay: Duration,
) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let answer = move |headers: HeaderMap| {
        let counter = counter.clone();
        async move {
            let target = headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            assert_eq!(target, "DynamoDB_20120810.DescribeTable");
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            let indexes: Vec<Value> = index_status
                .map(|s| json!({"IndexName": "CategoryIndex", "IndexStatus": s}))
                .into_iter()
                .collect();
            let body = json!({"Table": {
                "TableName": "Books", "TableStatus": table_status,
                "GlobalSecondaryIndexes": indexes,
            }});
            (
                [("content-type", "application/x-amz-json-1.0")],
                body.to_string(),
            )
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().route("/", axum::routing::post(answer));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (endpoint, calls)
}

#[tokio::test]
async fn readiness_holds_while_the_table_can_serve() {
    for (table, index, ready) in [
        ("ACTIVE", Some("ACTIVE"), true),
        ("UPDATING", Some("ACTIVE"), true),
        ("ACTIVE", Some("UPDATING"), true),
        ("UPDATING", Some("UPDATING"), true),
        ("ACTIVE", Some("CREATING"), false),
        ("ACTIVE", Some("DELETING"), false),
        ("ACTIVE", None, false),
        ("DELETING", Some("ACTIVE"), false),
        ("CREATING", Some("CREATING"), false),
    ] {
        let (endpoint, _) = fake_describe_table(table, index, Duration::ZERO).await;
        let app = spawn_app_at(&endpoint, false).await;
        let response = app.get("/health/ready").await;
        let expected = if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        assert_eq!(
            response.status(),
            expected,
            "table {table}, index {index:?}"
        );
    }
}

#[tokio::test]
async fn concurrent_readiness_probes_share_one_describe_table() {
    let (endpoint, calls) =
        fake_describe_table("ACTIVE", Some("ACTIVE"), Duration::from_millis(500)).await;
    let app = spawn_app_at(&endpoint, false).await;

    let probes = (0..20).map(|_| app.get("/health/ready"));
    for response in futures_util::future::join_all(probes).await {
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
