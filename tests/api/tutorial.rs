//! The tutorial's own boto3 calls read and update what the service wrote, and the service
//! serves what they changed.

use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{engine_endpoint, spawn_app};

/// The Python with boto3: `BOOKSTORE_TEST_PYTHON`, else the engine's venv that
/// `scripts/test.sh` installs; `None`, with the reason printed, when neither is there.
fn python() -> Option<String> {
    let python = std::env::var("BOOKSTORE_TEST_PYTHON").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/venv-engine/bin/python").to_owned()
    });
    if std::path::Path::new(&python).exists() {
        Some(python)
    } else {
        crate::support::skip(&format!(
            "the tutorial's boto3 scripts need Python with boto3, and {python} does not exist"
        ));
        None
    }
}

#[tokio::test]
async fn the_tutorial_scripts_work_on_a_table_this_service_writes() {
    let Some(python) = python() else { return };
    let app = spawn_app().await;
    let rainmaker = "/books/John%20Grisham/The%20Rainmaker";
    let put = app
        .write(Method::PUT, rainmaker, json!({"category": "Suspense", "formats": {"Hardcover": "J4SUKVGU", "Paperback": "D7YF4FCX"}}))
        .await;
    assert_eq!(put.status(), StatusCode::CREATED);

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/tutorial/tutorial_scripts.py"
    );
    let output = Command::new(&python)
        .args([script, &engine_endpoint(), app.repo.table()])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();

    let item = &seen["get_item"];
    assert_eq!(item["Category"], "Suspense");
    assert_eq!(
        item["Formats"],
        json!({"Hardcover": "J4SUKVGU", "Paperback": "D7YF4FCX"})
    );
    assert_eq!(item["Version"], 1);
    assert_eq!(seen["query_author"].as_array().unwrap().len(), 1);
    assert_eq!(seen["query_category"][0]["Title"], "The Rainmaker");
    assert_eq!(seen["update_item"]["Formats"]["Audiobook"], "8WE3KPTP");

    // The tutorial's update is served as is (another tool's write does not bump the version) ...
    let book: Value = app.get(rainmaker).await.json().await.unwrap();
    assert_eq!(book["formats"]["Audiobook"], "8WE3KPTP");
    assert_eq!(book["version"], 1);
    // ... and the service's next write builds on it.
    let patched = app
        .write(
            Method::PATCH,
            &format!("{rainmaker}/formats"),
            json!({"remove": ["Paperback"]}),
        )
        .await;
    let book: Value = patched.json().await.unwrap();
    assert_eq!(
        book["formats"],
        json!({"Hardcover": "J4SUKVGU", "Audiobook": "8WE3KPTP"})
    );
    assert_eq!(book["version"], 2);
}
