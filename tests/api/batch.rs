//! `POST /books/batch`: one transaction, all or nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{error_fields, problem, scripted_dynamodb, spawn_app, spawn_app_at};

fn book(author: &str, title: &str) -> Value {
    json!({"author": author, "title": title, "category": "Batch", "formats": {"Paperback": "P1"}})
}

#[tokio::test]
async fn a_batch_creates_and_replaces_and_counts_each() {
    let app = spawn_app().await;
    app.seed_tutorial().await;

    // 96 books and the 4 counts they change (Batcher, Batch, Suspense, Children) fill one
    // transaction: DynamoDB takes 100 items. One more new book would need 101.
    let books: Vec<Value> = (0..94)
        .map(|i| book("Batcher", &format!("B{i:03}")))
        .chain([
            book("John Grisham", "The Firm"),
            book("Dr. Seuss", "Green Eggs and Ham"),
        ])
        .collect();
    let mut one_more = books.clone();
    one_more.push(book("Batcher", "B999"));
    let refused = app
        .write(Method::POST, "/books/batch", json!({"books": one_more}))
        .await;
    let refused = problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error_fields(&refused), ["books"]);
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("101 items"),
        "{refused}"
    );
    assert_eq!(
        app.get("/books/Batcher/B000").await.status(),
        StatusCode::NOT_FOUND
    );

    let response = app
        .write(Method::POST, "/books/batch", json!({"books": books}))
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let outcome: Value = response.json().await.unwrap();
    assert_eq!(outcome, json!({"created": 94, "replaced": 2}));
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
    let new: Value = app.get("/books/Batcher/B093").await.json().await.unwrap();
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

/// The fake DynamoDB of `scripted_dynamodb` for a batch of three: the keys-only read finds
/// nothing, and the transaction is cancelled with `reasons` (one per book).
fn cancelled_batch(reasons: &'static str) -> impl Fn(&str) -> (u16, String) + Send + Sync {
    move |operation| match operation {
        "BatchGetItem" => (200, r#"{"Responses":{},"UnprocessedKeys":{}}"#.to_owned()),
        "TransactWriteItems" => (
            400,
            format!(
                r#"{{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled","CancellationReasons":{reasons}}}"#
            ),
        ),
        other => panic!("unexpected DynamoDB call {other}"),
    }
}

async fn batch_of_three_against(
    answer: impl Fn(&str) -> (u16, String) + Send + Sync + 'static,
) -> reqwest::Response {
    let app = spawn_app_at(&scripted_dynamodb(answer).await, false).await;
    let books: Vec<Value> = (0..3)
        .map(|i| book("Cancelled", &format!("B{i}")))
        .collect();
    app.write(Method::POST, "/books/batch", json!({ "books": books }))
        .await
}

#[tokio::test]
async fn a_batch_dynamodb_throttles_is_a_503_to_retry() {
    let response = batch_of_three_against(cancelled_batch(
        r#"[{"Code":"None"},{"Code":"ThrottlingError"},{"Code":"None"}]"#,
    ))
    .await;
    assert!(response.headers().contains_key("retry-after"));
    problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
}

#[tokio::test]
async fn a_batch_dynamodb_refuses_one_book_of_is_a_422_naming_it() {
    let response = batch_of_three_against(cancelled_batch(
        r#"[{"Code":"None"},{"Code":"None"},{"Code":"ValidationError","Message":"Item size has exceeded the maximum allowed size"}]"#,
    ))
    .await;
    let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error_fields(&body), ["books[2]"]);
    assert!(
        !body.to_string().contains("maximum allowed size"),
        "DynamoDB's own message is not passed on: {body}"
    );
}
