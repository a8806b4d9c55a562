//! One book: get, put, post, delete, and names that need percent-encoding.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{book_path, enc, etag, problem, spawn_app};

#[tokio::test]
async fn get_serves_a_tutorial_book_with_its_etag() {
    let app = spawn_app().await;
    app.seed_tutorial().await;

    let response = app.get("/books/John%20Grisham/The%20Rainmaker").await;

    assert_eq!(response.status(), StatusCode::OK);
    etag(&response, 1);
    let book: Value = response.json().await.unwrap();
    assert_eq!(book["category"], "Suspense");
    assert_eq!(
        book["formats"],
        json!({"Hardcover": "J4SUKVGU", "Paperback": "D7YF4FCX"})
    );
    assert_eq!(book["version"], 1);
    assert!(book["created_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn head_gives_the_etag_without_a_body() {
    let app = spawn_app().await;
    app.seed_tutorial().await;

    let response = app
        .request(Method::HEAD, "/books/Dr.%20Seuss/Green%20Eggs%20and%20Ham")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    etag(&response, 1);
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_missing_book_is_a_404_problem_naming_it() {
    let app = spawn_app().await;

    let response = app.get("/books/Nobody/Nothing").await;

    let body = problem(response, StatusCode::NOT_FOUND).await;
    assert_eq!(body["detail"], "no book titled 'Nothing' by 'Nobody'");
    assert_eq!(body["instance"], "/books/Nobody/Nothing");
}

#[tokio::test]
async fn put_creates_then_replaces_keeping_created_at() {
    let app = spawn_app().await;
    let path = book_path("Ann Author", "First");

    let created = app
        .write(
            Method::PUT,
            &path,
            json!({"category": "Drama", "formats": {"Hardcover": "H1"}}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["location"], "/books/Ann%20Author/First");
    let first_tag = etag(&created, 1);
    let first: Value = created.json().await.unwrap();
    assert_eq!(first["version"], 1);

    let replaced = app
        .write(Method::PUT, &path, json!({"category": "Suspense"}))
        .await;
    assert_eq!(replaced.status(), StatusCode::OK);
    assert_ne!(etag(&replaced, 2), first_tag);
    let second: Value = replaced.json().await.unwrap();
    assert_eq!(second["version"], 2);
    assert_eq!(second["category"], "Suspense");
    assert_eq!(
        second["formats"],
        json!({}),
        "no formats stores an empty map"
    );
    assert_eq!(second["created_at"], first["created_at"]);

    let stored: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(stored, second, "the response is the book as stored");
}

#[tokio::test]
async fn post_creates_once_then_conflicts() {
    let app = spawn_app().await;
    let book = json!({"author": "Ann", "title": "Yes/No", "category": "Drama"});

    let created = app.write(Method::POST, "/books", book.clone()).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["location"], "/books/Ann/Yes%2FNo");
    etag(&created, 1);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["formats"], json!({}));

    let again = app.write(Method::POST, "/books", book).await;
    problem(again, StatusCode::CONFLICT).await;
    let stored: Value = app.get("/books/Ann/Yes%2FNo").await.json().await.unwrap();
    assert_eq!(stored["version"], 1, "the conflict wrote nothing");
}

#[tokio::test]
async fn delete_removes_the_book_and_then_404s() {
    let app = spawn_app().await;
    app.seed_tutorial().await;
    let path = "/books/William%20Shakespeare/Hamlet";

    let deleted = app.authed(Method::DELETE, path).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    problem(app.get(path).await, StatusCode::NOT_FOUND).await;
    let again = app.authed(Method::DELETE, path).send().await.unwrap();
    problem(again, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn names_with_reserved_and_unicode_characters_round_trip() {
    let app = spawn_app().await;
    let author = "Zoë Ünicode 東京";
    let titles = [
        "Yes/No",
        "two words",
        "#hash",
        "what?",
        "100%",
        "a+b",
        "東".repeat(256).as_str(),
        "tab-free\u{a0}nbsp",
    ]
    .map(str::to_owned);
    for title in &titles {
        let path = book_path(author, title);
        let put = app
            .write(Method::PUT, &path, json!({"category": "Odd #?%+/"}))
            .await;
        assert_eq!(put.status(), StatusCode::CREATED, "{title}");
        assert_eq!(put.headers()["location"].to_str().unwrap(), path);
        let got: Value = app.get(&path).await.json().await.unwrap();
        assert_eq!(got["title"], title.as_str());
        assert_eq!(got["author"], author);
    }
    let page: Value = app
        .get(&format!("/authors/{}/books?limit=100", enc(author)))
        .await
        .json()
        .await
        .unwrap();
    let mut listed: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["title"].as_str().unwrap())
        .collect();
    listed.sort_unstable();
    let mut expected: Vec<&str> = titles.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(listed, expected);
    let category: Value = app
        .get(&format!("/categories/{}/books", enc("Odd #?%+/")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(category["items"].as_array().unwrap().len(), titles.len());
}

#[tokio::test]
async fn items_written_by_the_tutorial_scripts_are_served_and_writable() {
    let app = spawn_app().await;
    app.put_tutorial_item("Bare").await;

    let got = app.get("/books/Tutorial/Bare").await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.headers()["etag"], "\"0\"");
    let book: Value = got.json().await.unwrap();
    assert_eq!(book["version"], 0);
    assert_eq!(book["formats"], json!({}));
    assert!(book.get("created_at").is_none());

    // The map is missing, so `SET Formats.#n` cannot apply; the write still succeeds.
    let patched = app
        .write(
            Method::PATCH,
            "/books/Tutorial/Bare/formats",
            json!({"add": {"Audiobook": "8WE3KPTP"}}),
        )
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let book: Value = patched.json().await.unwrap();
    assert_eq!(book["version"], 1);
    assert_eq!(book["formats"], json!({"Audiobook": "8WE3KPTP"}));

    // And what the service wrote keeps the tutorial's attribute names and types.
    let raw = app.raw_item("Tutorial", "Bare").await;
    let AttributeValue::M(formats) = &raw["Formats"] else {
        panic!("Formats must be a map")
    };
    assert_eq!(formats["Audiobook"], AttributeValue::S("8WE3KPTP".into()));
    assert_eq!(raw["Version"], AttributeValue::N("1".into()));
    assert_eq!(raw["Category"], AttributeValue::S("Suspense".into()));
}

#[tokio::test]
async fn put_tells_created_from_replaced_on_every_engine() {
    // dynoxide answers ALL_OLD for a missing item with the key attributes, DynamoDB with none;
    // both must read as "created". A tutorial item (key and Category) must read as "replaced".
    let app = spawn_app().await;
    let created = app
        .write(Method::PUT, "/books/Engine/New", json!({"category": "C"}))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let again = app
        .write(Method::PUT, "/books/Engine/New", json!({"category": "D"}))
        .await;
    assert_eq!(again.status(), StatusCode::OK);

    let tutorial_item = HashMap::from([
        ("Author".to_owned(), AttributeValue::S("Engine".into())),
        ("Title".to_owned(), AttributeValue::S("Tutorial".into())),
        ("Category".to_owned(), AttributeValue::S("Suspense".into())),
    ]);
    app.repo
        .client()
        .put_item()
        .table_name(app.repo.table())
        .set_item(Some(tutorial_item))
        .send()
        .await
        .unwrap();
    let replaced = app
        .write(
            Method::PUT,
            "/books/Engine/Tutorial",
            json!({"category": "C"}),
        )
        .await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let book: Value = replaced.json().await.unwrap();
    assert_eq!(book["version"], 1);
}

#[tokio::test]
async fn deleting_a_missing_book_is_404_on_every_engine() {
    // The same ALL_OLD difference as above, on DeleteItem.
    let app = spawn_app().await;
    let response = app
        .authed(Method::DELETE, "/books/Engine/Never%20Written")
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::NOT_FOUND).await;
}
