//! `GET /categories` and `GET /authors`: names with exact book counts, and `bookstore recount`.

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{
    TestApp, assert_counts, book_path, counts, enc, engine_endpoint, problem, spawn_app, walk,
};

/// `PUT /books/{author}/{title}` with only a category: a create, or a replace that may move it.
async fn put_category(
    app: &TestApp,
    author: &str,
    title: &str,
    category: &str,
) -> reqwest::Response {
    app.write(
        Method::PUT,
        &book_path(author, title),
        json!({"category": category}),
    )
    .await
}

async fn create(app: &TestApp, author: &str, title: &str, category: &str) {
    let response = app
        .write(
            Method::POST,
            "/books",
            json!({"author": author, "title": title, "category": category}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// A book written straight into the table, as the tutorial's scripts or the console would.
async fn raw_put(app: &TestApp, author: &str, title: &str, category: &str) {
    app.repo
        .client()
        .put_item()
        .table_name(app.repo.table())
        .item("Author", AttributeValue::S(author.into()))
        .item("Title", AttributeValue::S(title.into()))
        .item("Category", AttributeValue::S(category.into()))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn every_membership_change_moves_the_counts() {
    let app = spawn_app().await;

    create(&app, "Ann", "One", "Suspense").await;
    let put = put_category(&app, "Bob", "Two", "Drama").await;
    assert_eq!(put.status(), StatusCode::CREATED);
    assert_counts(&app, "/categories", &[("Drama", 1), ("Suspense", 1)]).await;
    assert_counts(&app, "/authors", &[("Ann", 1), ("Bob", 1)]).await;

    // A category change by PUT, then one by merge patch, each with a precondition that holds.
    let moved = put_category(&app, "Ann", "One", "Drama").await;
    assert_eq!(moved.status(), StatusCode::OK);
    let tag = moved.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(moved.json::<Value>().await.unwrap()["version"], 2);
    assert_counts(&app, "/categories", &[("Drama", 2)]).await;
    let patched = app
        .authed(Method::PATCH, &book_path("Ann", "One"))
        .header("content-type", "application/merge-patch+json")
        .header("if-match", &tag)
        .body(r#"{"category": "Poetry", "formats": {"Paperback": "P1"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    let book: Value = patched.json().await.unwrap();
    assert_eq!(
        (&book["category"], &book["formats"], &book["version"]),
        (&json!("Poetry"), &json!({"Paperback": "P1"}), &json!(3))
    );
    assert_eq!(
        app.get(&book_path("Ann", "One"))
            .await
            .json::<Value>()
            .await
            .unwrap(),
        book,
        "the book a category-changing patch returns is the one stored"
    );
    assert_counts(&app, "/categories", &[("Drama", 1), ("Poetry", 1)]).await;

    // A batch: one new book, one moved, one replaced in place; merged per name.
    let batch = json!({"books": [
        {"author": "Bob", "title": "Three", "category": "Poetry"},
        {"author": "Bob", "title": "Two", "category": "Poetry"},
        {"author": "Ann", "title": "One", "category": "Poetry"},
    ]});
    let response = app.write(Method::POST, "/books/batch", batch).await;
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"created": 1, "replaced": 2})
    );
    assert_counts(&app, "/categories", &[("Poetry", 3)]).await;
    assert_counts(&app, "/authors", &[("Ann", 1), ("Bob", 2)]).await;

    let deleted = app
        .authed(Method::DELETE, &book_path("Bob", "Three"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_counts(&app, "/categories", &[("Poetry", 2)]).await;
    assert_counts(&app, "/authors", &[("Ann", 1), ("Bob", 1)]).await;
}

#[tokio::test]
async fn writes_that_change_no_membership_leave_the_counts_alone() {
    let app = spawn_app().await;
    create(&app, "Ann", "One", "Suspense").await;
    let before = (
        counts(&app, "/categories").await,
        counts(&app, "/authors").await,
    );
    let path = book_path("Ann", "One");

    let writes = [
        app.write(
            Method::PATCH,
            &format!("{path}/formats"),
            json!({"add": {"Hardcover": "H1"}}),
        )
        .await,
        app.write(
            Method::PUT,
            &format!("{path}/formats/Paperback"),
            json!({"id": "P1"}),
        )
        .await,
        app.authed(Method::DELETE, &format!("{path}/formats/Hardcover"))
            .send()
            .await
            .unwrap(),
        app.write(
            Method::PUT,
            &path,
            json!({"category": "Suspense", "formats": {"Audiobook": "A1"}}),
        )
        .await,
        app.authed(Method::PATCH, &path)
            .header("content-type", "application/merge-patch+json")
            .body(r#"{"category": "Suspense", "formats": {"Ebook": "E1"}}"#)
            .send()
            .await
            .unwrap(),
    ];
    for response in writes {
        assert_eq!(response.status(), StatusCode::OK);
    }
    // Refused writes change nothing either.
    let exists = app
        .write(
            Method::POST,
            "/books",
            json!({"author": "Ann", "title": "One", "category": "Drama"}),
        )
        .await;
    assert_eq!(exists.status(), StatusCode::CONFLICT);
    let stale = app
        .conditional(
            Method::PUT,
            &path,
            ("If-Match", "\"1.0000000000000000\""),
            Some(json!({"category": "Drama"})),
        )
        .await;
    let stale = problem(stale, StatusCode::PRECONDITION_FAILED).await;
    assert_eq!(stale["current"]["category"], "Suspense");
    let missing = app
        .authed(Method::DELETE, &book_path("Ann", "Nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let invalid = app
        .write(
            Method::POST,
            "/books",
            json!({"author": "Ann", "title": "Two", "category": " Spaced"}),
        )
        .await;
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let book: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(book["version"], 6);
    assert_eq!(
        (
            counts(&app, "/categories").await,
            counts(&app, "/authors").await
        ),
        before
    );
}

#[tokio::test]
async fn a_name_with_no_books_left_disappears() {
    let app = spawn_app().await;
    create(&app, "Ann", "One", "Suspense").await;
    create(&app, "Bob", "Two", "Drama").await;

    let moved = put_category(&app, "Ann", "One", "Drama").await;
    assert_eq!(moved.status(), StatusCode::OK);
    let deleted = app
        .authed(Method::DELETE, &book_path("Bob", "Two"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    assert_counts(&app, "/categories", &[("Drama", 1)]).await;
    assert_counts(&app, "/authors", &[("Ann", 1)]).await;
    // A prefix that only matches the emptied name is an empty page.
    let page: Value = app
        .get("/categories?name_prefix=Sus")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page, json!({"items": [], "next_cursor": null}));
    // And a name that comes back counts from one again.
    create(&app, "Bob", "Three", "Suspense").await;
    assert_counts(&app, "/categories", &[("Drama", 1), ("Suspense", 1)]).await;
}

#[tokio::test]
async fn cursor_walks_return_every_name_once_in_both_orders() {
    let app = spawn_app().await;
    // Byte order puts "Zed" before "a..." and "Émile" after everything ASCII.
    let names = [
        "Zed", "abc", "Émile", "Ab", "A b", "Ab c", "東京", "Abd", "B", "Ab%2F",
    ];
    let books: Vec<Value> = names
        .iter()
        .enumerate()
        .flat_map(|(i, name)| {
            (0..=i % 3)
                .map(move |n| json!({"author": name, "title": format!("T{n}"), "category": name}))
        })
        .collect();
    let response = app
        .write(Method::POST, "/books/batch", json!({"books": books}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let mut sorted: Vec<&str> = names.to_vec();
    sorted.sort_unstable(); // str's Ord is UTF-8 byte order, as DynamoDB's.
    for listing in ["/categories", "/authors"] {
        for limit in [1, 3, 100] {
            let asc: Vec<String> = walk(&app, listing, "", limit)
                .await
                .into_iter()
                .map(|(n, _)| n)
                .collect();
            assert_eq!(asc, sorted, "{listing} limit {limit}");
            let desc: Vec<String> = walk(&app, listing, "&order=desc", limit)
                .await
                .into_iter()
                .map(|(n, _)| n)
                .collect();
            let mut reversed = sorted.clone();
            reversed.reverse();
            assert_eq!(desc, reversed, "{listing} desc limit {limit}");
        }
        let prefixed: Vec<(String, u64)> = walk(&app, listing, "&name_prefix=Ab", 2).await;
        assert_eq!(
            prefixed,
            [
                ("Ab".into(), 1),
                ("Ab c".into(), 3),
                ("Ab%2F".into(), 1),
                ("Abd".into(), 2)
            ],
            "{listing}"
        );
    }
    // An empty prefix means none.
    assert_eq!(
        walk(&app, "/categories", "&name_prefix=", 100).await.len(),
        names.len()
    );
}

#[tokio::test]
async fn foreign_and_malformed_cursors_are_a_400() {
    let app = spawn_app().await;
    for (i, name) in ["A", "B", "C"].iter().enumerate() {
        create(&app, name, &format!("T{i}"), name).await;
    }
    let first: Value = app.get("/categories?limit=1").await.json().await.unwrap();
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let ok = app
        .get(&format!("/categories?limit=1&cursor={}", enc(&cursor)))
        .await;
    assert_eq!(ok.status(), StatusCode::OK);

    create(&app, "A", "T9", "A").await;
    let author_books: Value = app
        .get("/authors/A/books?limit=1")
        .await
        .json()
        .await
        .unwrap();
    let book_cursor = author_books["next_cursor"].as_str().unwrap().to_owned();
    let other_order = format!("/categories?order=desc&cursor={}", enc(&cursor));
    let other_listing = format!("/authors?cursor={}", enc(&cursor));
    let other_prefix = format!("/categories?name_prefix=A&cursor={}", enc(&cursor));
    let from_books = format!("/categories?cursor={}", enc(&book_cursor));
    let to_books = format!("/authors/A/books?cursor={}", enc(&cursor));
    for path in [
        other_order,
        other_listing,
        other_prefix,
        from_books,
        to_books,
        "/categories?cursor=not-a-cursor!".to_owned(),
        format!("/categories?cursor={}", &cursor[..cursor.len() - 4]),
        format!("/authors?cursor={}", "A".repeat(5000)),
    ] {
        let body = problem(app.get(&path).await, StatusCode::BAD_REQUEST).await;
        assert!(
            body["detail"].as_str().unwrap().contains("cursor"),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn bad_parameters_are_a_400_naming_the_parameter() {
    let app = spawn_app().await;
    let long = "x".repeat(257);
    let cases = [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("limit=", "limit"),
        ("order=up", "order"),
        ("order=DESC", "order"),
        ("name_prefix=a%00b", "name_prefix"),
        (&format!("name_prefix={long}") as &str, "name_prefix"),
    ];
    for listing in ["/categories", "/authors"] {
        for (query, parameter) in &cases {
            let path = format!("{listing}?{query}");
            let body = problem(app.get(&path).await, StatusCode::BAD_REQUEST).await;
            assert!(
                body["detail"].as_str().unwrap().contains(parameter),
                "{path}: {body}"
            );
        }
    }
}

#[tokio::test]
async fn recount_counts_books_written_by_other_tools() {
    let app = spawn_app().await;
    create(&app, "Ann", "One", "Suspense").await;
    raw_put(&app, "Ann", "Two", "Suspense").await;
    raw_put(&app, "Tool", "Three", "Drama").await;
    // A category that fails the name rules never becomes a count item.
    raw_put(&app, "Tool", "Four", " Spaced").await;
    // A stale count item (a name whose books are gone) is removed.
    app.repo
        .client()
        .put_item()
        .table_name(bookstore::repository::catalogue_table(app.repo.table()))
        .item("Kind", AttributeValue::S("category".into()))
        .item("Name", AttributeValue::S("Ghost".into()))
        .item("Books", AttributeValue::N("7".into()))
        .send()
        .await
        .unwrap();
    assert_counts(&app, "/categories", &[("Ghost", 7), ("Suspense", 1)]).await;

    let report = bookstore::repository::recount(app.repo.client(), app.repo.table())
        .await
        .unwrap();
    assert_eq!((report.books, report.uncounted), (4, 1));
    // Suspense and Ann (one raw book each), Drama and Tool (new), Ghost (removed).
    assert_eq!(report.fixes.len(), 5, "{report:?}");
    assert!(report.raced.is_empty());
    assert_counts(&app, "/categories", &[("Drama", 1), ("Suspense", 2)]).await;
    assert_counts(&app, "/authors", &[("Ann", 2), ("Tool", 2)]).await;
    let items = app
        .repo
        .client()
        .scan()
        .table_name(bookstore::repository::catalogue_table(app.repo.table()))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert!(
        items
            .iter()
            .all(|i| i["Name"] != AttributeValue::S(" Spaced".into())
                && i["Name"] != AttributeValue::S("Ghost".into())),
        "{items:?}"
    );

    // Idempotent: a second run changes nothing.
    let again = bookstore::repository::recount(app.repo.client(), app.repo.table())
        .await
        .unwrap();
    assert!(again.fixes.is_empty(), "{again:?}");
    // And the service's writes go on from the recounted numbers: a PUT moves the raw book.
    let moved = put_category(&app, "Tool", "Four", "Drama").await;
    assert_eq!(moved.status(), StatusCode::OK);
    assert_counts(&app, "/categories", &[("Drama", 2), ("Suspense", 2)]).await;
}

#[test]
fn recount_against_a_missing_table_fails_with_one_line() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bookstore"))
        .args(["recount", "--table", "no-such-table-for-recount"])
        .env("AWS_ENDPOINT_URL", engine_endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("BOOKSTORE_TABLE")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("no-such-table-for-recount does not exist"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}
