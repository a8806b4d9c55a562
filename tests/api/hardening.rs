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
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::Semaphore,
};

use crate::support::{
    HttpOnlyApp, assert_serve_refuses, book_path, free_port, problem, serve_command, spawn_app,
    spawn_app_at, spawn_app_with,
};

#[tokio::test]
async fn only_well_formed_request_ids_are_kept() {
    let app = HttpOnlyApp::new().await;
    let echoed = |id: String| {
        let request = app
            .request(Method::GET, "/health/live")
            .header("X-Request-Id", id);
        let app = &app;
        async move {
            let response = app.send(request).await;
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

/// A fake DynamoDB that holds every call until `gate` gets permits, then answers `{}` (for
/// GetItem: no such item); counts the calls that arrived.
async fn gated_dynamodb() -> (String, Arc<AtomicUsize>, Arc<Semaphore>) {
    let arrived = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(0));
    let (count, wait) = (arrived.clone(), gate.clone());
    let answer = move || {
        let (count, wait) = (count.clone(), wait.clone());
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            let _permit = wait.acquire().await.unwrap();
            ([("content-type", "application/x-amz-json-1.0")], "{}")
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().route("/", axum::routing::post(answer));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (endpoint, arrived, gate)
}

#[tokio::test]
async fn past_the_in_flight_cap_requests_get_an_immediate_503() {
    let (endpoint, arrived, gate) = gated_dynamodb().await;
    let base = spawn_app_with(&endpoint, false, &["--max-in-flight", "2"])
        .await
        .base;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let book = format!("{base}/books/A/T");
    let held: Vec<_> = (0..2)
        .map(|_| tokio::spawn(http.get(&book).send()))
        .collect();
    let waited = std::time::Instant::now();
    while arrived.load(Ordering::SeqCst) < 2 {
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "the calls never arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Both slots are taken by requests waiting on DynamoDB: the next one is shed, not queued.
    let shed = http.get(&book).send().await.unwrap();
    assert_eq!(shed.headers()["retry-after"], "1");
    let shed = problem(shed, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(shed["detail"], "the service is at capacity, retry shortly");
    // Probes bypass the cap, so a busy task is not taken for a dead one.
    let live = http
        .get(format!("{base}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);

    gate.add_permits(1_000);
    for request in held {
        request.await.unwrap().unwrap();
    }
    let after = http.get(&book).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::NOT_FOUND, "slots are freed");
}

/// The real binary serving with `vars` (no DynamoDB needed for what these tests ask);
/// killed when dropped.
struct Binary {
    child: std::process::Child,
    addr: String,
}

impl Binary {
    async fn start(vars: &[(&str, &str)]) -> Self {
        let mut command = serve_command(&[
            ("BOOKSTORE_AUTH", "none"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            // Quiet, but for the line that says where it listens.
            ("RUST_LOG", "warn,bookstore::application=info"),
        ]);
        command.envs(vars.iter().copied());
        let crate::support::Listening { child, addr, .. } =
            crate::support::spawn_listening(&mut command);
        Self { child, addr }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Generous: what is checked is that the server closes the connection at all.
const CLOSE_BOUND: Duration = Duration::from_secs(30);

/// Reads until the server closes the connection (or resets it); `Err` if it is still open after
/// [`CLOSE_BOUND`].
async fn closed_by_server(stream: &mut TcpStream) -> Result<(), tokio::time::error::Elapsed> {
    tokio::time::timeout(CLOSE_BOUND, async {
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink).await;
    })
    .await
}

/// Reads one response with a `Content-Length` body off a keep-alive connection.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(CLOSE_BOUND, stream.read(&mut chunk))
            .await
            .expect("a response in time")
            .unwrap();
        assert!(n > 0, "closed before a full response: {bytes:?}");
        bytes.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .expect("a content-length");
            if bytes.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn connections_without_complete_headers_are_closed() {
    let server = Binary::start(&[
        ("BOOKSTORE_HEADER_READ_TIMEOUT_SECS", "1"),
        ("BOOKSTORE_IDLE_TIMEOUT_SECS", "600"),
    ])
    .await;

    let mut silent = TcpStream::connect(&server.addr).await.unwrap();
    assert!(
        closed_by_server(&mut silent).await.is_ok(),
        "a silent connection stayed open"
    );

    let mut half = TcpStream::connect(&server.addr).await.unwrap();
    half.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(
        closed_by_server(&mut half).await.is_ok(),
        "half the headers held the connection"
    );

    // A byte at a time does not restart the clock.
    let trickle = TcpStream::connect(&server.addr).await.unwrap();
    let (mut read, mut write) = trickle.into_split();
    let writer = tokio::spawn(async move {
        for byte in b"GET /health/live HTTP/1.1\r\nX-Slow: "
            .iter()
            .chain([b'a'; 200].iter())
        {
            if write.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let closed = tokio::time::timeout(CLOSE_BOUND, async {
        let mut sink = Vec::new();
        let _ = read.read_to_end(&mut sink).await;
    })
    .await;
    assert!(closed.is_ok(), "a trickling client held the connection");
    writer.abort();

    // A complete request is still answered.
    let mut whole = TcpStream::connect(&server.addr).await.unwrap();
    whole
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(read_response(&mut whole).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let server = Binary::start(&[
        ("BOOKSTORE_HEADER_READ_TIMEOUT_SECS", "1"),
        ("BOOKSTORE_IDLE_TIMEOUT_SECS", "10"),
    ])
    .await;
    let mut stream = TcpStream::connect(&server.addr).await.unwrap();
    let request = b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n";
    stream.write_all(request).await.unwrap();
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));

    // Idle for longer than the header-read timeout: still open, as the ALB expects.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stream.write_all(request).await.unwrap();
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));

    assert!(
        closed_by_server(&mut stream).await.is_ok(),
        "an idle connection stayed open"
    );
}

#[tokio::test]
async fn metrics_can_move_off_the_api_port() {
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let server = Binary::start(&[("BOOKSTORE_METRICS_ADDR", &metrics_addr)]).await;
    let http = reqwest::Client::new();

    let on_api = http
        .get(format!("http://{}/metrics", server.addr))
        .send()
        .await
        .unwrap();
    problem(on_api, StatusCode::NOT_FOUND).await;
    let scraped = http
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    let text = scraped.text().await.unwrap();
    assert!(text.contains("http_requests_total{"), "{text}");
}

#[test]
fn invalid_limits_stop_start_up_naming_the_variable() {
    assert_serve_refuses(
        &[
            ("BOOKSTORE_AUTH", "none"),
            ("BOOKSTORE_ADDR", "127.0.0.1:0"),
        ],
        &[
            ("BOOKSTORE_HEADER_READ_TIMEOUT_SECS", "0"),
            ("BOOKSTORE_IDLE_TIMEOUT_SECS", "0"),
            ("BOOKSTORE_IDLE_TIMEOUT_SECS", "x"),
            ("BOOKSTORE_MAX_IN_FLIGHT", "0"),
            ("BOOKSTORE_METRICS_ADDR", "not-an-address"),
        ],
    );
}

#[tokio::test]
async fn large_responses_are_compressed_as_the_client_allows() {
    use std::io::Read as _;

    let app = spawn_app().await;
    let fetch = |path: &'static str, encoding: &'static str| {
        let request = app
            .request(Method::GET, path)
            .header("Accept-Encoding", encoding);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let headers = response.headers().clone();
            (headers, response.bytes().await.unwrap().to_vec())
        }
    };
    // Every value, joined: CORS adds its own `Vary` values next to compression's.
    let header = |headers: &reqwest::header::HeaderMap, name: &str| {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_ascii_lowercase())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    };

    let (headers, plain) = fetch("/openapi.json", "identity").await;
    assert_eq!(header(&headers, "content-encoding"), None);
    assert!(plain.len() >= 1024);
    let document: Value = serde_json::from_slice(&plain).unwrap();

    let (headers, gzipped) = fetch("/openapi.json", "gzip").await;
    assert_eq!(
        header(&headers, "content-encoding").as_deref(),
        Some("gzip")
    );
    assert!(
        header(&headers, "vary")
            .unwrap()
            .contains("accept-encoding")
    );
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(&gzipped[..])
        .read_to_end(&mut text)
        .unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&text).unwrap(), document);
    assert!(gzipped.len() < plain.len());

    let (headers, brotli) = fetch("/openapi.json", "br;q=1, gzip;q=0.5").await;
    assert_eq!(header(&headers, "content-encoding").as_deref(), Some("br"));
    assert!(
        header(&headers, "vary")
            .unwrap()
            .contains("accept-encoding")
    );
    let mut text = Vec::new();
    brotli::Decompressor::new(&brotli[..], 4096)
        .read_to_end(&mut text)
        .unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&text).unwrap(), document);

    // Under 1 KiB: compressing costs more than it saves.
    let (headers, small) = fetch("/health/live", "gzip, br").await;
    assert_eq!(header(&headers, "content-encoding"), None);
    assert_eq!(
        serde_json::from_slice::<Value>(&small).unwrap()["status"],
        "ok"
    );
}

/// A PUT of `body` declared as `length` bytes, written raw so that it can stall half-way.
fn put_head(app_base: &str, length: usize) -> (String, String) {
    let addr = app_base.trim_start_matches("http://").to_owned();
    let head = format!(
        "PUT {} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n",
        book_path("Slow", "Upload"),
        crate::support::TOKEN,
    );
    (addr, head)
}

#[tokio::test]
async fn a_stalled_upload_is_a_408_not_a_503() {
    let app = spawn_app().await;
    let body = br#"{"category": "Tests"}"#;
    let (addr, head) = put_head(&app.base, body.len() + 50);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();

    let response = read_response(&mut stream).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("application/problem+json"), "{response}");
    assert!(response.contains(r#""status":408"#), "{response}");
}

#[tokio::test]
async fn a_slow_upload_that_arrives_in_time_gets_the_full_work_deadline() {
    let app = spawn_app().await;
    let body = br#"{"category": "Tests"}"#;
    let (addr, head) = put_head(&app.base, body.len());
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    // Past the 6 s work deadline, inside the 10 s body-read timeout.
    tokio::time::sleep(Duration::from_millis(6_500)).await;
    stream.write_all(&body[10..]).await.unwrap();

    let response = read_response(&mut stream).await;
    assert!(
        response.starts_with("HTTP/1.1 201") || response.starts_with("HTTP/1.1 200"),
        "{response}"
    );
}
