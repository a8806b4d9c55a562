//! The real binary and real outages: start-up checks, SIGTERM draining, DynamoDB going away.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{
    Proxy, assert_serve_refuses, free_port, problem, sdk_config, serve_command, spawn_app_at,
};
use bookstore::repository::{self, BookRepository, migrate};

/// `serve` on a free local port over `table` at `endpoint`, once `/health/live` answers; also
/// returns the base URL.
async fn serve_started(table: &str, endpoint: &str) -> (std::process::Child, String) {
    serve_started_with(table, endpoint, &[("RUST_LOG", "warn")], Stdio::null()).await
}

/// [`serve_started`] with more variables, and its log (standard output) sent to `log`.
async fn serve_started_with(
    table: &str,
    endpoint: &str,
    vars: &[(&str, &str)],
    log: Stdio,
) -> (std::process::Child, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let child = serve_command(&[
        ("BOOKSTORE_ADDR", &addr),
        ("BOOKSTORE_TABLE", table),
        ("BOOKSTORE_API_TOKENS", "t"),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ])
    .envs(vars.iter().copied())
    .stdout(log)
    .spawn()
    .unwrap();
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    while http
        .get(format!("{base}/health/live"))
        .send()
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (child, base)
}

#[test]
fn serve_refuses_to_start_without_an_auth_choice_and_says_why() {
    let output = serve_command(&[("BOOKSTORE_ADDR", "127.0.0.1:0")])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("BOOKSTORE_API_TOKENS") && stderr.contains("BOOKSTORE_AUTH=none"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one clear line: {stderr}");
}

#[test]
fn invalid_settings_stop_start_up_naming_the_variable() {
    assert_serve_refuses(
        &[("BOOKSTORE_API_TOKENS", "t")],
        &[
            ("BOOKSTORE_ADDR", "not-an-address"),
            ("BOOKSTORE_TABLE", "bad name!"),
            ("BOOKSTORE_AUTH", "off"),
            (
                "BOOKSTORE_CORS_ORIGINS",
                "https://ok.example,bad\u{7f}origin",
            ),
        ],
    );
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish_then_exits_0() {
    // A table the binary can use, then a proxy that makes every DynamoDB call take ~0.7 s.
    let engine = crate::support::engine_endpoint();
    let client = repository::build_client(&sdk_config(&engine).await);
    let table = format!("books-sigterm-{}", uuid::Uuid::new_v4().simple());
    migrate::run(&client, &table).await.unwrap();
    let repo = BookRepository::new(client, table.clone());
    repo.seed(&repository::seed::parse_books(repository::seed::TUTORIAL_BOOKS).unwrap())
        .await
        .unwrap();
    let proxy = Proxy::start(Duration::from_millis(700)).await;

    let (mut child, base) = serve_started(&table, &proxy.endpoint).await;
    let http = reqwest::Client::new();

    let slow = tokio::spawn(
        http.get(format!("{base}/books/John%20Grisham/The%20Rainmaker"))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());

    let response = slow
        .await
        .unwrap()
        .expect("the in-flight request was answered");
    assert_eq!(response.status(), StatusCode::OK);
    let book: Value = response.json().await.unwrap();
    assert_eq!(book["title"], "The Rainmaker");
    let exit = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(exit.code(), Some(0));
}

#[tokio::test]
async fn a_dynamodb_outage_gives_503s_and_the_service_recovers_by_itself() {
    let proxy = Proxy::start(Duration::ZERO).await;
    let app = spawn_app_at(&proxy.endpoint, true).await;
    app.seed_tutorial().await;
    let rainmaker = "/books/John%20Grisham/The%20Rainmaker";
    assert_eq!(app.get(rainmaker).await.status(), StatusCode::OK);

    proxy.set_up(false);
    for _ in 0..3 {
        let started = Instant::now();
        let response = app.get(rainmaker).await;
        assert_eq!(response.headers()["retry-after"], "1");
        problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    proxy.set_up(true);
    let response = app.get(rainmaker).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "recovered without a restart"
    );
}

/// The binary turns transparent huge pages off for itself (`src/main.rs`), whatever the host's
/// THP mode: with them, mimalloc's arenas cost about 8 MiB more resident memory.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_binary_runs_without_transparent_huge_pages() {
    let (mut child, _) = serve_started("Books", &crate::support::engine_endpoint()).await;
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let thp = status
        .lines()
        .find_map(|line| line.strip_prefix("THP_enabled:"))
        .map(str::trim);
    assert_eq!(thp, Some("0"), "{status}");
}

#[tokio::test]
async fn a_dynamodb_failure_is_logged_once_with_its_cause_and_the_request_id() {
    let endpoint = crate::support::always_failing_dynamodb(400, "ValidationException").await;
    let (child, base) = serve_started_with("Books", &endpoint, &[], Stdio::piped()).await;
    let http = reqwest::Client::new();
    let failed = http
        .get(format!("{base}/books/A/T"))
        .header("X-Request-Id", "log-once-1")
        .send()
        .await
        .unwrap();
    problem(failed, StatusCode::INTERNAL_SERVER_ERROR).await;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stdout);

    // One line says it, with DynamoDB's code, in the request's span; no other line repeats it.
    let mentions: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("ValidationException"))
        .collect();
    assert_eq!(mentions.len(), 1, "{log}");
    let line: Value = serde_json::from_str(mentions[0]).unwrap();
    assert_eq!(line["level"], "ERROR", "{line}");
    assert_eq!(line["span"]["request_id"], "log-once-1", "{line}");
    assert!(
        line["error"].as_str().unwrap().contains("GetItem"),
        "{line}"
    );
}
