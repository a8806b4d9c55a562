//! Concurrent conditional writes to one book: the tests that need the engine to serialise them.
//!
//! DynamoDB applies each write's condition and update atomically, one write at a time per item,
//! and the service's optimistic concurrency rests on that. dynoxide does the same; moto does not
//! guarantee it (black-box races against it have had two winners), so `scripts/test.sh` runs this
//! target on dynoxide only, and the rest of the suite (tests/api) on both engines. Against real
//! DynamoDB every test here must pass.
//!
//! The catalogue's counts need more: transactions isolated from each other. moto runs requests in
//! threads, and a transaction it cancels restores every table it touched from a copy taken when it
//! began (moto/dynamodb/models/__init__.py, `transact_write_items`), undoing what other requests
//! wrote meanwhile: the concurrent-counts test below lost an author's increment there.

// The harness is shared with tests/api; this target uses only part of it.
#[allow(dead_code)]
#[path = "../api/support.rs"]
mod support;

use std::collections::BTreeSet;

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use support::{HAMLET, TestApp, assert_counts, book_path, counts, spawn_app};

/// The test app, after refusing to run on an engine known not to serialise conditional writes
/// (rather than fail at random there).
async fn spawn_serialising_app() -> TestApp {
    if std::env::var("BOOKSTORE_TEST_ENGINE").as_deref() == Ok("moto") {
        panic!(
            "tests/serialised_writes needs an engine that serialises conditional writes to one \
             item (dynoxide or DynamoDB); moto does not. scripts/test.sh runs it on dynoxide."
        );
    }
    spawn_app().await
}

#[tokio::test]
async fn racing_if_none_match_creates_have_exactly_one_winner() {
    let app = spawn_serialising_app().await;
    let path = "/books/Race/Created%20Once";

    let creators = (0..20).map(|i| {
        let app = &app;
        async move {
            app.authed(Method::PUT, path)
                .header("If-None-Match", "*")
                .json(&json!({"category": format!("C{i}")}))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = join_all(creators).await;

    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::PRECONDITION_FAILED)
        .count();
    assert_eq!((created, refused), (1, 19), "{statuses:?}");
    let book: Value = app.get(path).await.json().await.unwrap();
    assert_eq!(book["version"], 1);
}

#[tokio::test]
async fn racing_plain_puts_each_get_their_own_version() {
    let app = spawn_serialising_app().await;
    let path = "/books/Race/Rewritten";

    let writers = (0..20).map(|i| {
        let app = &app;
        async move {
            let response = app
                .write(Method::PUT, path, json!({"category": format!("C{i}")}))
                .await;
            let status = response.status();
            let book: Value = response.json().await.unwrap();
            (status, book["version"].as_u64().unwrap())
        }
    });
    let results = join_all(writers).await;

    let created = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|(s, _)| *s == StatusCode::CREATED || *s == StatusCode::OK),
        "{results:?}"
    );
    let versions: BTreeSet<u64> = results.iter().map(|(_, v)| *v).collect();
    assert_eq!(versions, (1..=20).collect(), "{results:?}");
    let book: Value = app.get(path).await.json().await.unwrap();
    assert_eq!(book["version"], 20);
}

#[tokio::test]
async fn racing_if_match_writers_have_exactly_one_winner() {
    let app = spawn_serialising_app().await;
    app.seed_tutorial().await;
    let tag = app.get(HAMLET).await.headers()["etag"].clone();

    let writers = (0..12).map(|i| {
        let (app, tag) = (&app, tag.clone());
        async move {
            let response = if i % 2 == 0 {
                app.authed(Method::PUT, HAMLET)
                    .json(&json!({"category": format!("C{i}")}))
            } else {
                app.authed(Method::PUT, &format!("{HAMLET}/formats/F{i}"))
                    .json(&json!({"id": "X"}))
            }
            .header("If-Match", tag)
            .send()
            .await
            .unwrap();
            response.status()
        }
    });
    let statuses = join_all(writers).await;

    let winners = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let losers = statuses
        .iter()
        .filter(|s| **s == StatusCode::PRECONDITION_FAILED)
        .count();
    assert_eq!((winners, losers), (1, 11), "{statuses:?}");
    let book: Value = app.get(HAMLET).await.json().await.unwrap();
    assert_eq!(book["version"], 2);
}

#[tokio::test]
async fn racing_merge_patches_never_pass_the_format_cap() {
    let app = spawn_serialising_app().await;
    let path = "/books/Busy/Merged";
    let formats: serde_json::Map<String, Value> =
        (0..30).map(|i| (format!("F{i:02}"), json!("X"))).collect();
    app.write(
        Method::PUT,
        path,
        json!({"category": "C", "formats": formats}),
    )
    .await;

    let patches = (0..6).map(|i| {
        let app = &app;
        async move {
            let body = json!({"category": format!("C{i}"), "formats": {format!("N{i}"): "Y"}});
            app.authed(Method::PATCH, path)
                .header("content-type", "application/merge-patch+json")
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = join_all(patches).await;

    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY)
        .count();
    assert_eq!((ok, refused), (2, 4), "{statuses:?}");
    let book: Value = app.get(path).await.json().await.unwrap();
    assert_eq!(book["formats"].as_object().unwrap().len(), 32);
    assert_eq!(book["version"], 3);
}

#[tokio::test]
async fn concurrent_format_updates_lose_nothing() {
    let app = spawn_serialising_app().await;
    let path = "/books/Busy/Book";
    app.write(Method::PUT, path, json!({"category": "C"})).await;

    let writes = (0..20).map(|i| {
        let app = &app;
        async move {
            app.write(
                Method::PUT,
                &format!("{path}/formats/F{i}"),
                json!({"id": format!("ID{i}")}),
            )
            .await
        }
    });
    for response in join_all(writes).await {
        assert_eq!(response.status(), StatusCode::OK);
    }

    let book: Value = app.get(path).await.json().await.unwrap();
    assert_eq!(book["formats"].as_object().unwrap().len(), 20);
    assert_eq!(book["version"], 21);
}

#[tokio::test]
async fn concurrent_writes_on_one_category_keep_it_exact() {
    let app = spawn_serialising_app().await;
    let writes = (0..24).map(|i| {
        let app = &app;
        async move {
            let path = book_path(&format!("Writer {}", i % 4), &format!("Book {i}"));
            let created = app
                .write(Method::PUT, &path, json!({"category": "Hot"}))
                .await;
            assert_eq!(created.status(), StatusCode::CREATED);
            if i % 3 == 0 {
                let moved = app
                    .write(Method::PUT, &path, json!({"category": "Cold"}))
                    .await;
                assert_eq!(moved.status(), StatusCode::OK);
            }
            if i % 4 == 0 {
                let deleted = app.authed(Method::DELETE, &path).send().await.unwrap();
                assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
            }
        }
    });
    futures_util::future::join_all(writes).await;
    // 24 books, 6 deleted (i % 4 == 0); of the 8 moved (i % 3 == 0), 2 also deleted (0, 12).
    assert_counts(&app, "/categories", &[("Cold", 6), ("Hot", 12)]).await;
    assert_eq!(counts(&app, "/authors").await.values().sum::<u64>(), 18);
}
