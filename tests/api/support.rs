//! The test harness: a fresh table in the DynamoDB engine and the real app on a real socket.
//!
//! The engine is dynoxide, started in this test process on first use (a dev-dependency), so
//! `cargo test` needs nothing installed or running. `BOOKSTORE_TEST_DYNAMODB_ENDPOINT` points
//! the suite at another engine instead: `scripts/test.sh` runs it again on moto_server that way.
//! The app is built by `Application::build`, exactly as `bookstore serve` builds it.

use std::{collections::BTreeMap, net::SocketAddr, sync::OnceLock, time::Duration};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use bookstore::{
    application::Application,
    cli::args::{Cli, Command, ServeArgs},
    repository::{self, BookRepository, migrate},
    telemetry,
};
use clap::Parser;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

/// The bearer token every test app accepts.
pub(crate) const TOKEN: &str = "test-token";
/// A second token every test app accepts, for what differs between callers.
pub(crate) const OTHER_TOKEN: &str = "other-test-token";
/// The CORS origin every test app allows.
pub(crate) const ORIGIN: &str = "https://shop.example";
/// A tutorial book (`seed_tutorial` puts it in the table, category `Drama`), percent-encoded.
pub(crate) const HAMLET: &str = "/books/William%20Shakespeare/Hamlet";
/// The service's binary, as the container runs it.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_bookstore");

/// Where the engine is: `BOOKSTORE_TEST_DYNAMODB_ENDPOINT` when set, else a dynoxide this test
/// process starts once, in memory, on a port of its own.
pub(crate) fn engine_endpoint() -> String {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT
        .get_or_init(|| {
            std::env::var("BOOKSTORE_TEST_DYNAMODB_ENDPOINT")
                .unwrap_or_else(|_| start_in_process_engine())
        })
        .clone()
}

/// Starts dynoxide's server on its own thread and runtime, so it outlives every test's runtime
/// (each `#[tokio::test]` has one, dropped when the test ends). The socket is bound before this
/// returns: connections made before the server accepts wait in the backlog.
fn start_in_process_engine() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port for dynoxide");
    listener.set_nonblocking(true).unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::Builder::new()
        .name("dynamodb-engine".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime for dynoxide");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let db = dynoxide::Database::memory().expect("an in-memory dynoxide database");
                dynoxide::server::serve_with_shutdown(listener, db, std::future::pending()).await
            })
        })
        .expect("start the dynoxide thread");
    endpoint
}

/// Whether `scripts/test.sh` runs the suite: there a test that cannot find what it needs
/// (Python with boto3, an engine binary) fails instead of skipping.
pub(crate) fn everything_required() -> bool {
    std::env::var_os("BOOKSTORE_TEST_REQUIRE_ALL").is_some()
}

/// Says why a test does not run here, or fails with that reason under `scripts/test.sh`.
pub(crate) fn skip(why: &str) {
    assert!(!everything_required(), "{why}");
    eprintln!("SKIPPED: {why} (scripts/test.sh installs it and runs this test)");
}

/// An SDK configuration for the engine at `endpoint`, with throwaway credentials.
pub(crate) async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await
}

/// The service's client for `endpoint`, with longer timeouts on moto alone.
///
/// moto is Python serving every request under one interpreter lock: while the suite runs in
/// parallel on two cores, a 100-book transaction there can outlast the 1.5 s attempt timeout,
/// which DynamoDB (milliseconds) and dynoxide never come near, and the answer is a 503. The
/// fault tests, which point `endpoint` at a proxy or a fake, keep the service's own timeouts.
async fn client_for(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let sdk = sdk_config(endpoint).await;
    let on_moto = std::env::var("BOOKSTORE_TEST_ENGINE").as_deref() == Ok("moto");
    if on_moto && endpoint == engine_endpoint() {
        let limits = repository::ClientTimeouts {
            attempt: Duration::from_secs(5),
            operation: Duration::from_millis(5_500),
            ..Default::default()
        };
        repository::build_client_with(&sdk, limits)
    } else {
        repository::build_client(&sdk)
    }
}

/// A running app over its own freshly migrated table.
pub(crate) struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The repository over the app's table, for arranging and checking state directly.
    pub repo: BookRepository,
    /// An HTTP client.
    pub http: reqwest::Client,
}

/// Spawns the app over a new table named after the test, in the engine the suite runs against.
pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_at(&engine_endpoint(), true).await
}

/// Spawns the app against `endpoint`, creating and migrating a fresh table when `migrate` is set.
pub(crate) async fn spawn_app_at(endpoint: &str, migrate_table: bool) -> TestApp {
    spawn_app_with(endpoint, migrate_table, &[]).await
}

/// [`spawn_app_at`] with more `serve` flags (e.g. `["--max-in-flight", "2"]`).
pub(crate) async fn spawn_app_with(endpoint: &str, migrate_table: bool, flags: &[&str]) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        telemetry::init_logging();
    }
    let client = client_for(endpoint).await;
    let table = format!("books-test-{}", uuid::Uuid::new_v4().simple());
    if migrate_table {
        migrate::run(&client, &table).await.unwrap_or_else(|e| {
            panic!("cannot migrate a table in the DynamoDB engine at {endpoint}: {e}")
        });
    }
    serve_app(client, &test_settings(&table, flags)).await
}

/// The settings every test app runs with, as `bookstore serve` parses them from its flags, plus
/// `flags`.
pub(crate) fn test_settings(table: &str, flags: &[&str]) -> ServeArgs {
    let tokens = format!("{TOKEN},{OTHER_TOKEN}");
    let argv = [
        "bookstore",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--table",
        table,
        "--api-tokens",
        &tokens,
        "--cors-origins",
        ORIGIN,
    ];
    let argv = argv.iter().chain(flags);
    match Cli::try_parse_from(argv)
        .expect("valid test settings")
        .command
    {
        Command::Serve(settings) => settings,
        _ => unreachable!("the test settings are serve's"),
    }
}

/// Builds the app with `settings` and `client`, as `bookstore serve` does, on a new socket.
async fn serve_app(client: aws_sdk_dynamodb::Client, settings: &ServeArgs) -> TestApp {
    let app = Application::build(settings, client)
        .await
        .expect("the test app builds");
    let addr: SocketAddr = app.local_addr().unwrap();
    let repo = app.repository().clone();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestApp {
        base: format!("http://{addr}"),
        repo,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
    }
}

impl TestApp {
    /// Another app over this one's table, reaching the engine at `endpoint`: a second task of
    /// the service, sharing nothing with this one but the tables.
    pub(crate) async fn sibling(&self, endpoint: &str) -> TestApp {
        serve_app(
            client_for(endpoint).await,
            &test_settings(self.repo.table(), &[]),
        )
        .await
    }

    /// A request to `path` (already percent-encoded), without a token.
    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// A request with the bearer token.
    pub(crate) fn authed(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path).bearer_auth(TOKEN)
    }

    /// GET a path.
    /// A CORS preflight from [`ORIGIN`] for `method` on `path`, asking to send `headers`.
    pub(crate) async fn preflight(&self, method: &str, path: &str, headers: &str) -> Response {
        self.request(Method::OPTIONS, path)
            .header("Origin", ORIGIN)
            .header("Access-Control-Request-Method", method)
            .header("Access-Control-Request-Headers", headers)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.unwrap()
    }

    /// A write with a JSON body and the token.
    pub(crate) async fn write(&self, method: Method, path: &str, body: Value) -> Response {
        self.authed(method, path).json(&body).send().await.unwrap()
    }

    /// A request with one precondition header (`If-Match` / `If-None-Match`), an optional JSON
    /// body and the token (reads ignore it).
    pub(crate) async fn conditional(
        &self,
        method: Method,
        path: &str,
        (header, value): (&str, &str),
        body: Option<Value>,
    ) -> Response {
        let mut request = self.authed(method, path).header(header, value);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// The item as stored, read with the raw client: what the tutorial's scripts would see.
    pub(crate) async fn raw_item(
        &self,
        author: &str,
        title: &str,
    ) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
        use aws_sdk_dynamodb::types::AttributeValue;
        self.repo
            .client()
            .get_item()
            .table_name(self.repo.table())
            .key("Author", AttributeValue::S(author.into()))
            .key("Title", AttributeValue::S(title.into()))
            .send()
            .await
            .unwrap()
            .item
            .unwrap_or_else(|| panic!("no item for {author} / {title}"))
    }

    /// Writes `Tutorial` / `title` (category `Suspense`) exactly as the tutorial's boto3 insert
    /// script does: no Version, timestamps or Formats.
    pub(crate) async fn put_tutorial_item(&self, title: &str) {
        use aws_sdk_dynamodb::types::AttributeValue;
        let item = std::collections::HashMap::from([
            ("Author".to_owned(), AttributeValue::S("Tutorial".into())),
            ("Title".to_owned(), AttributeValue::S(title.into())),
            ("Category".to_owned(), AttributeValue::S("Suspense".into())),
        ]);
        self.repo
            .client()
            .put_item()
            .table_name(self.repo.table())
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }

    /// Puts the tutorial's five books in the table with the real seed code.
    pub(crate) async fn seed_tutorial(&self) {
        let books = repository::seed::parse_books(repository::seed::TUTORIAL_BOOKS).unwrap();
        self.repo.seed(&books).await.unwrap();
    }
}

/// `bookstore serve` with only the given variables (and PATH): what an operator's task
/// definition sets.
pub(crate) fn serve_command(vars: &[(&str, &str)]) -> std::process::Command {
    let mut command = std::process::Command::new(BIN);
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(vars.iter().copied());
    command
}

/// Asserts that `serve` with `vars` plus each one of `refused` exits at once, naming it.
pub(crate) fn assert_serve_refuses(vars: &[(&str, &str)], refused: &[(&str, &str)]) {
    for &(name, value) in refused {
        let mut vars = vars.to_vec();
        vars.push((name, value));
        let output = serve_command(&vars).output().unwrap();
        assert!(!output.status.success(), "{name}={value} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(name), "{name}: {stderr}");
    }
}

/// A formats map of `n` entries (`F00: ID0`, ...).
pub(crate) fn formats(n: usize) -> Value {
    Value::Object(
        (0..n)
            .map(|i| (format!("F{i:02}"), Value::String(format!("ID{i}"))))
            .collect(),
    )
}

/// The app as a tower service: no socket, and a DynamoDB endpoint that refuses connections.
/// For what the HTTP layer answers on its own (400, 404, 405, 413, 415, 422, CORS, headers);
/// anything that reaches DynamoDB is a 503 here.
pub(crate) struct HttpOnlyApp {
    router: axum::Router,
    http: reqwest::Client,
}

impl HttpOnlyApp {
    /// Built by `Application::build` with the test settings, as every test app is.
    pub(crate) async fn new() -> Self {
        // Port 9 (discard) on loopback: nothing listens, so a call fails at once.
        let client = repository::build_client(&sdk_config("http://127.0.0.1:9").await);
        let app = Application::build(&test_settings("Books", &[]), client)
            .await
            .expect("the test app builds");
        Self {
            router: app.router(),
            http: reqwest::Client::new(),
        }
    }

    /// A request to `path` (already percent-encoded), without a token; send it with [`Self::send`].
    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("http://app.test{path}"))
    }

    /// A request with the bearer token.
    pub(crate) fn authed(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path).bearer_auth(TOKEN)
    }

    /// Calls the app with `request`, as a client on a socket would see the answer.
    pub(crate) async fn send(&self, request: RequestBuilder) -> Response {
        use tower::ServiceExt as _;
        let request = axum::http::Request::try_from(request.build().unwrap()).unwrap();
        let request = request.map(|body| {
            axum::body::Body::from(body.as_bytes().map(<[u8]>::to_vec).unwrap_or_default())
        });
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        Response::from(axum::http::Response::from_parts(parts, body))
    }

    /// GET a path.
    pub(crate) async fn get(&self, path: &str) -> Response {
        self.send(self.request(Method::GET, path)).await
    }

    /// A write with a JSON body and the token.
    pub(crate) async fn write(&self, method: Method, path: &str, body: Value) -> Response {
        self.send(self.authed(method, path).json(&body)).await
    }
}

/// `/books/{author}/{title}` with both segments percent-encoded.
/// A response header as text; panics when it is missing or not visible ASCII.
pub(crate) fn header(response: &Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_owned()
}

pub(crate) fn book_path(author: &str, title: &str) -> String {
    format!("/books/{}/{}", enc(author), enc(title))
}

/// Percent-encodes one path segment (everything but unreserved characters).
pub(crate) fn enc(segment: &str) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    const SET: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    utf8_percent_encode(segment, SET).to_string()
}

/// A response's ETag, checked to be the strong tag of `version` (`"<version>.<incarnation>"`).
pub(crate) fn etag(response: &Response, version: u64) -> String {
    let tag = response.headers()["etag"].to_str().unwrap().to_owned();
    let shape = regex::Regex::new(&format!(r#"^"{version}\.[0-9a-f]{{16}}"$"#)).unwrap();
    assert!(
        shape.is_match(&tag),
        "ETag {tag} is not version {version}'s"
    );
    tag
}

/// Reads a problem response, checking its media type and status.
pub(crate) async fn problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status, "unexpected status");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["type"], "about:blank");
    assert!(body["detail"].is_string());
    body
}

/// The fields a 422 names.
pub(crate) fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .expect("a 422 lists its errors")
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

/// A TCP proxy in front of the engine that can delay requests or play dead, to test how the
/// service behaves when DynamoDB is slow or down, without touching the engine itself.
pub(crate) struct Proxy {
    /// `http://127.0.0.1:<port>`, to use as the DynamoDB endpoint.
    pub endpoint: String,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    /// Starts a proxy to the suite's engine that holds each client chunk for `delay`.
    pub(crate) async fn start(delay: Duration) -> Self {
        use std::sync::{
            Arc, Mutex,
            atomic::{AtomicBool, Ordering},
        };
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let target = engine_endpoint()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let up = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (is_up, tracked) = (up.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !is_up.load(Ordering::SeqCst) {
                    drop(client); // Down: hang up at once.
                    continue;
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let upstream = async {
                        let mut buffer = vec![0u8; 64 * 1024];
                        loop {
                            let n = client_read.read(&mut buffer).await?;
                            if n == 0 {
                                return server_write.shutdown().await;
                            }
                            tokio::time::sleep(delay).await;
                            server_write.write_all(&buffer[..n]).await?;
                        }
                    };
                    let downstream = tokio::io::copy(&mut server_read, &mut client_write);
                    let _ = tokio::join!(upstream, downstream);
                });
                tracked.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            endpoint,
            up,
            connections,
        }
    }

    /// Plays dead (every open connection cut, new ones hung up on) or comes back.
    pub(crate) fn set_up(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
        if !up {
            for connection in self.connections.lock().unwrap().drain(..) {
                connection.abort();
            }
        }
    }
}

/// A free port on 127.0.0.1 (bound and released; good enough for tests).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fake DynamoDB endpoint that answers every call with one canned error, as DynamoDB does when
/// it throttles: HTTP 400 with the error's `__type`.
pub(crate) async fn always_failing_dynamodb(status: u16, error_type: &'static str) -> String {
    let body = format!(
        r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{error_type}","message":"canned"}}"#
    );
    scripted_dynamodb(move |_| (status, body.clone())).await
}

/// A fake DynamoDB endpoint that answers each call by its operation (`X-Amz-Target` without
/// the `DynamoDB_20120810.` prefix) with `answer(operation)`: an HTTP status and a JSON body.
/// For error mappings no real engine can be made to produce (a throttled transaction).
pub(crate) async fn scripted_dynamodb(
    answer: impl Fn(&str) -> (u16, String) + Send + Sync + 'static,
) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let answer = std::sync::Arc::new(answer);
        while let Ok((socket, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut socket = BufReader::new(socket);
                loop {
                    let (mut target, mut length) = (String::new(), 0usize);
                    loop {
                        let mut line = String::new();
                        if socket.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let line = line.trim_end();
                        if line.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            match name.to_ascii_lowercase().as_str() {
                                "x-amz-target" => target = value.trim().to_owned(),
                                "content-length" => length = value.trim().parse().unwrap_or(0),
                                _ => {}
                            }
                        }
                    }
                    let mut body = vec![0u8; length];
                    if socket.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let operation = target.trim_start_matches("DynamoDB_20120810.");
                    let (status, body) = answer(operation);
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if socket
                        .get_mut()
                        .write_all(response.as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    endpoint
}

/// Every name of `listing` (`/categories` or `/authors`) with its count, walked page by page.
pub(crate) async fn counts(app: &TestApp, listing: &str) -> BTreeMap<String, u64> {
    walk(app, listing, "", 7).await.into_iter().collect()
}

/// The names of a listing in the order the pages give them, checking each page's shape.
pub(crate) async fn walk(
    app: &TestApp,
    listing: &str,
    query: &str,
    limit: u32,
) -> Vec<(String, u64)> {
    let path = match query.strip_prefix('&') {
        Some(query) => format!("{listing}?{query}"),
        None => listing.to_owned(),
    };
    every_item(app, &path, &[limit])
        .await
        .iter()
        .map(|item| {
            let books = item["books"].as_u64().unwrap();
            assert!(books >= 1, "{item}");
            (item["name"].as_str().unwrap().to_owned(), books)
        })
        .collect()
}

/// Every item of the paginated listing at `path` (with or without a query string), following
/// `next_cursor` with the `limits` in turn: each page answers 200 with at most its limit, and
/// only the first may be empty.
pub(crate) async fn every_item(app: &TestApp, path: &str, limits: &[u32]) -> Vec<Value> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for page_number in 0..1_000 {
        let limit = limits[page_number % limits.len()];
        let mut url = format!("{path}{separator}limit={limit}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={}", enc(c)));
        }
        let response = app.get(&url).await;
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let mut page: Value = response.json().await.unwrap();
        let items = page["items"].as_array_mut().unwrap();
        assert!(items.len() <= limit as usize, "{url}");
        assert!(
            page_number == 0 || !items.is_empty(),
            "{url}: only the first page may be empty"
        );
        all.append(items);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return all,
        }
    }
    panic!("{path} never ended");
}

/// The counts `pairs` name, as [`counts`] returns them.
pub(crate) fn counted(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect()
}

/// What `listing` counts, compared with `expected` (name, count), with the listing in the message.
pub(crate) async fn assert_counts(app: &TestApp, listing: &str, expected: &[(&str, u64)]) {
    assert_eq!(counts(app, listing).await, counted(expected), "{listing}");
}

/// A `bookstore serve` child started by [`spawn_listening`], with every line of its log.
pub(crate) struct Listening {
    /// The process.
    pub(crate) child: std::process::Child,
    /// `host:port` it listens on.
    pub(crate) addr: String,
    /// Its standard output (the JSON log), line by line, as it arrives.
    #[allow(dead_code, reason = "read by tests/tracing, which shares this file")]
    pub(crate) logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// Spawns `command` (a `bookstore serve`) on a port the kernel picks and returns once it listens,
/// with the address read from its `listening` log line (so its filter must let `info` of
/// `bookstore::application` through).
///
/// Picking a free port first and handing it over races with every other test doing the same at
/// once: between the pick and the child's bind, another test's pick can listen there for a
/// moment, so a readiness probe answered by the wrong socket passes and the first request is
/// refused (seen with the tests running 8 at a time).
pub(crate) fn spawn_listening(command: &mut std::process::Command) -> Listening {
    use std::io::{BufRead, BufReader};
    let mut child = command
        .env("BOOKSTORE_ADDR", "127.0.0.1:0")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn bookstore serve");
    let stdout = child.stdout.take().unwrap();
    let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (found, addr) = std::sync::mpsc::channel();
    let sink = logs.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(entry) = serde_json::from_str::<Value>(&line)
                && entry["message"] == "listening"
                && let Some(listening) = entry["addr"].as_str()
            {
                let _ = found.send(listening.to_owned());
            }
            sink.lock().unwrap().push(line);
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let addr = loop {
        match addr.recv_timeout(Duration::from_millis(50)) {
            Ok(addr) => break addr,
            Err(_) => {
                assert!(
                    child.try_wait().unwrap().is_none(),
                    "the service exited: {:?}",
                    logs.lock().unwrap()
                );
                assert!(
                    std::time::Instant::now() < deadline,
                    "the service did not log `listening`: {:?}",
                    logs.lock().unwrap()
                );
            }
        }
    };
    Listening { child, addr, logs }
}
