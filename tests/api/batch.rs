//! `POST /books/batch`: one transaction, all or nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{error_fields, problem, spawn_app};

fn book(author: &str, title: &str) -> Value {
    json!({"author": author, "title": title, "category": "Batch", "formats": {"Paperback": "P1"}})
}

#[tokio::test]
async fn a_batch_creates_and_replaces_and_counts_each() {
    let app = spawn_app().await;
    app.seed_tutorial().await;

    let books: Vec<Value> = (0..98)
        .map(|i| book("Batcher", &format!("B{i:03}")))
        .chain([
            book("John Grisham", "The Firm"),
            book("Dr. Seuss", "Green Eggs and Ham"),
        ])
        .collect();
    let response = app
        .write(Method::POST, "/books/batch", json!({"books": books}))
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let outcome: Value = response.json().await.unwrap();
    assert_eq!(outcome, json!({"created": 98, "replaced": 2}));
    let firm: Value = app
        .get("/books/John%20Grisham/The%20Firm")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (firm["version"].as_u64(), firm["category"].as_str()),
        (Some(2), Some("Batch"))
    );
    let new: Value = app.get("/books/Batcher/B097").await.json().await.unwrap();
    assert_eq!(new["version"], 1);
}

#[tokio::test]
async fn an_invalid_batch_writes_nothing() {
    let app = spawn_app().await;

    let books = json!({"books": [book("A", "ok"), {"author": "A", "title": "", "category": "C"}, book("A", "ok2")]});
    let response = app.write(Method::POST, "/books/batch", books).await;
    assert_eq!(
        error_fields(&problem(response, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["books[1].title"]
    );

    let duplicates = json!({"books": [book("A", "same"), book("B", "other"), book("A", "same")]});
    let response = app.write(Method::POST, "/books/batch", duplicates).await;
    assert_eq!(
        error_fields(&problem(response, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["books[2]"]
    );

    for count in [0, 101] {
        let books: Vec<Value> = (0..count).map(|i| book("A", &format!("T{i}"))).collect();
        let response = app
            .write(Method::POST, "/books/batch", json!({"books": books}))
            .await;
        assert_eq!(
            error_fields(&problem(response, StatusCode::UNPROCESSABLE_ENTITY).await),
            ["books"]
        );
    }

    let page: Value = app.get("/authors/A/books").await.json().await.unwrap();
    assert_eq!(
        page["items"],
        json!([]),
        "no book of a refused batch was written"
    );
}
