//! Fault and load: concurrent mixed writes while the engine is paused twice and killed once,
//! then proof that nothing acknowledged was lost and nothing was a 500.
//!
//! The test starts its own dynoxide in a process of its own, with its tables in a SQLite file, so
//! that it can SIGSTOP and SIGCONT it and kill it and start it again on the same data. The binary
//! is `examples/dynamodb_engine.rs`, which `cargo test` builds beside this test (or the one
//! `BOOKSTORE_TEST_DYNOXIDE` names). `scripts/test.sh` runs it with `--show-output` for its
//! closing line.

// The harness is shared with tests/api; this target uses only part of it.
#[allow(dead_code)]
#[path = "../api/support.rs"]
mod support;

use std::{
    collections::{BTreeMap, HashSet},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use support::{TestApp, spawn_app_at};

/// Writers at once.
const CONNECTIONS: usize = 32;
/// Writes in all, spread over [`BOOKS`] books so that writers keep racing on each.
const WRITES: usize = 2_400;
const BOOKS: usize = 8;

/// The engine, in a child process over a file.
struct Engine {
    binary: String,
    port: u16,
    db: std::path::PathBuf,
    child: Child,
}

impl Engine {
    fn start(binary: &str, db: std::path::PathBuf) -> Self {
        let port = support::free_port();
        let child = spawn_engine(binary, port, &db);
        Self {
            binary: binary.to_owned(),
            port,
            db,
            child,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} failed");
    }

    /// SIGKILL, then the same binary on the same port and file.
    fn kill_and_restart(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.child = spawn_engine(&self.binary, self.port, &self.db);
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The engine binary: `BOOKSTORE_TEST_DYNOXIDE`, else the `dynamodb_engine` example that
/// `cargo test` builds into this target directory (`target/<profile>/examples`, beside `deps`
/// where this test runs from); `None`, with the reason printed, when there is none.
fn engine_binary() -> Option<String> {
    if let Ok(binary) = std::env::var("BOOKSTORE_TEST_DYNOXIDE") {
        return Some(binary);
    }
    let example = std::env::current_exe()
        .ok()
        .and_then(|test| Some(test.parent()?.parent()?.join("examples/dynamodb_engine")))
        .filter(|path| path.exists());
    match example {
        Some(path) => Some(path.display().to_string()),
        None => {
            support::skip(
                "no engine binary to pause and kill: `cargo test` builds examples/dynamodb_engine \
                 (not `cargo test --test nothing_lost` alone), or set BOOKSTORE_TEST_DYNOXIDE",
            );
            None
        }
    }
}

fn spawn_engine(binary: &str, port: u16, db: &std::path::Path) -> Child {
    let child = Command::new(binary)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--db-path")
        .arg(db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start dynoxide at {binary}: {e}"));
    // Ready once it accepts connections.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "dynoxide did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// One write as the client saw it.
#[derive(Debug, Clone)]
struct Outcome {
    book: usize,
    kind: &'static str,
    started: Instant,
    ended: Instant,
    status: StatusCode,
    /// The ETag of a 2xx that returned a book.
    etag: Option<String>,
    version: Option<u64>,
}

fn path(book: usize) -> String {
    format!("/books/Nothing%20Lost/Book%20{book}")
}

/// The `i`th write: a PUT (a create or a category change), a POST, a format PATCH, a change
/// of one format, a category change by merge patch, or a DELETE.
async fn write(app: &TestApp, i: usize) -> Outcome {
    let book = (i * 7 + i / BOOKS) % BOOKS;
    let p = path(book);
    let (kind, request) = match i % 8 {
        0 | 4 => (
            "put",
            app.authed(Method::PUT, &p)
                .json(&json!({"category": format!("C{}", i % 3)})),
        ),
        1 => (
            "patch",
            app.authed(Method::PATCH, &format!("{p}/formats"))
                .json(&json!({"add": {format!("F{}", i % 5): format!("ID{i}")}, "remove": [format!("F{}", (i + 1) % 5)]})),
        ),
        5 => (
            "create",
            app.authed(Method::POST, "/books").json(&json!({
                "author": "Nothing Lost", "title": format!("Book {book}"), "category": format!("C{}", i % 3)
            })),
        ),
        2 => (
            "format",
            app.authed(Method::PUT, &format!("{p}/formats/F{}", i % 4))
                .json(&json!({"id": format!("ID{i}")})),
        ),
        6 => (
            "merge",
            app.authed(Method::PATCH, &p)
                .header("content-type", "application/merge-patch+json")
                .body(format!(r#"{{"category": "C{}"}}"#, i % 3)),
        ),
        _ => ("delete", app.authed(Method::DELETE, &p)),
    };
    let started = Instant::now();
    let response = request.send().await.expect("the service always answers");
    let ended = Instant::now();
    let status = response.status();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    let version = if status.is_success() && kind != "delete" {
        let body: Value = response.json().await.unwrap();
        body["version"].as_u64()
    } else {
        None
    };
    Outcome {
        book,
        kind,
        started,
        ended,
        status,
        etag: etag.filter(|_| status.is_success()),
        version,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_when_the_engine_pauses_and_dies() {
    let Some(binary) = engine_binary() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("nothing-lost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut engine = Engine::start(&binary, dir.join("engine.db"));
    let app = Arc::new(spawn_app_at(&engine.endpoint(), true).await);

    let next = Arc::new(AtomicUsize::new(0));
    let outcomes = Arc::new(Mutex::new(Vec::with_capacity(WRITES)));
    let writers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (app, next, outcomes) = (app.clone(), next.clone(), outcomes.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= WRITES {
                        return;
                    }
                    let outcome = write(&app, i).await;
                    outcomes.lock().unwrap().push(outcome);
                }
            })
        })
        .collect();

    // The faults, while the writers run: two pauses, then a kill and a restart on the same file.
    let done = |n: usize| next.load(Ordering::SeqCst) >= n;
    let mut pauses = 0;
    for at in [WRITES / 5, WRITES * 2 / 5] {
        while !done(at) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        engine.signal("-STOP");
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        engine.signal("-CONT");
        pauses += 1;
    }
    while !done(WRITES * 3 / 5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    engine.kill_and_restart();
    for writer in writers {
        writer.await.unwrap();
    }
    let outcomes = outcomes.lock().unwrap().clone();

    // Every answer is one the contract allows; never a 500.
    let allowed = [200, 201, 204, 404, 409, 503];
    assert!(
        outcomes
            .iter()
            .any(|o| o.kind == "create" && o.status == StatusCode::CREATED),
        "no create succeeded"
    );
    for o in &outcomes {
        assert!(
            allowed.contains(&o.status.as_u16()),
            "{} of book {} answered {}",
            o.kind,
            o.book,
            o.status
        );
    }
    // No two acknowledged writes returned the same tag.
    let mut tags = HashSet::new();
    for o in outcomes.iter().filter(|o| o.etag.is_some()) {
        if !tags.insert(o.etag.clone().unwrap()) {
            let twins: Vec<_> = outcomes.iter().filter(|t| t.etag == o.etag).collect();
            panic!("tag {:?} acknowledged twice: {twins:#?}", o.etag);
        }
    }
    for book in 0..BOOKS {
        let ours: Vec<&Outcome> = outcomes.iter().filter(|o| o.book == book).collect();
        let stored = app.get(&path(book)).await;
        match stored.status() {
            StatusCode::OK => {
                let tag = stored.headers()["etag"].to_str().unwrap().to_owned();
                let incarnation = tag.trim_matches('"').split('.').nth(1).unwrap().to_owned();
                let body: Value = stored.json().await.unwrap();
                let version = body["version"].as_u64().unwrap();
                // The stored book is at least as new as every write acknowledged on it.
                let acked_here = ours
                    .iter()
                    .filter(|o| o.etag.as_deref().is_some_and(|t| t.contains(&incarnation)));
                let highest = acked_here.filter_map(|o| o.version).max().unwrap_or(0);
                assert!(
                    version >= highest,
                    "book {book}: stored version {version} < acknowledged {highest}"
                );
            }
            StatusCode::NOT_FOUND => {}
            other => panic!("book {book}: GET answered {other}"),
        }
    }
    // An acknowledged DELETE that no other write could have followed leaves the book absent.
    for book in 0..BOOKS {
        let ours: Vec<&Outcome> = outcomes.iter().filter(|o| o.book == book).collect();
        let last_delete = ours
            .iter()
            .filter(|o| o.kind == "delete" && o.status == StatusCode::NO_CONTENT)
            .max_by_key(|o| o.started);
        if let Some(d) = last_delete {
            // A write answered 503 has an unknown outcome (it may have reached the engine and
            // be applied when it resumes), so it may follow the DELETE whenever it was sent.
            let followed = ours.iter().any(|o| {
                o.kind != "delete"
                    && (o.ended > d.started || o.status == StatusCode::SERVICE_UNAVAILABLE)
            });
            if !followed {
                assert_eq!(
                    app.get(&path(book)).await.status(),
                    StatusCode::NOT_FOUND,
                    "book {book} came back after its last DELETE"
                );
            }
        }
    }
    // The catalogue agrees with the table: every book counted once in its category and once
    // under its author, whatever was cut short by the pauses and the kill.
    let mut books = 0u64;
    for book in 0..BOOKS {
        if app.get(&path(book)).await.status() == StatusCode::OK {
            books += 1;
        }
    }
    let total = |listing: &'static str| {
        let app = app.clone();
        async move {
            let page: Value = app
                .get(&format!("{listing}?limit=100"))
                .await
                .json()
                .await
                .unwrap();
            assert!(page["next_cursor"].is_null());
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["books"].as_u64().unwrap())
                .sum::<u64>()
        }
    };
    assert_eq!(total("/categories").await, books, "category counts");
    assert_eq!(total("/authors").await, books, "author counts");

    // And a final round: each book deleted once more, on a healthy engine, must be gone.
    for book in 0..BOOKS {
        let status = app
            .authed(Method::DELETE, &path(book))
            .send()
            .await
            .unwrap()
            .status();
        assert!(matches!(status.as_u16(), 204 | 404), "{status}");
        assert_eq!(app.get(&path(book)).await.status(), StatusCode::NOT_FOUND);
    }

    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for o in &outcomes {
        *by_status.entry(o.status.as_u16()).or_default() += 1;
    }
    let acknowledged = outcomes.iter().filter(|o| o.status.is_success()).count();
    let unavailable = by_status.get(&503).copied().unwrap_or(0);
    drop(engine);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "nothing lost: {} writes, {acknowledged} acknowledged, {unavailable} answered 503, \
         {pauses} engine pauses and 1 engine restart survived; statuses {by_status:?}",
        outcomes.len()
    );
}
