//! The formats map: PATCH, PUT and DELETE of one entry, and the 32-format cap. (Concurrent
//! writers are in tests/serialised_writes.)

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{error_fields, etag, formats, problem, spawn_app};

const RAINMAKER: &str = "/books/John%20Grisham/The%20Rainmaker";

#[tokio::test]
async fn patch_adds_and_removes_in_one_write() {
    let app = spawn_app().await;
    app.seed_tutorial().await;

    let response = app
        .write(
            Method::PATCH,
            &format!("{RAINMAKER}/formats"),
            json!({"add": {"Audiobook": "8WE3KPTP"}, "remove": ["Paperback"]}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    etag(&response, 2);
    let book: Value = response.json().await.unwrap();
    assert_eq!(
        book["formats"],
        json!({"Hardcover": "J4SUKVGU", "Audiobook": "8WE3KPTP"})
    );
    assert_eq!(book["version"], 2);
}

#[tokio::test]
async fn put_and_delete_one_format() {
    let app = spawn_app().await;
    app.seed_tutorial().await;

    let put = app
        .write(
            Method::PUT,
            &format!("{RAINMAKER}/formats/Audiobook"),
            json!({"id": "8WE3KPTP"}),
        )
        .await;
    assert_eq!(put.status(), StatusCode::OK);
    let book: Value = put.json().await.unwrap();
    assert_eq!(book["formats"]["Audiobook"], "8WE3KPTP");

    let deleted = app
        .authed(Method::DELETE, &format!("{RAINMAKER}/formats/Hardcover"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    let book: Value = deleted.json().await.unwrap();
    assert_eq!(
        book["formats"],
        json!({"Paperback": "D7YF4FCX", "Audiobook": "8WE3KPTP"})
    );
    assert_eq!(book["version"], 3);
}

#[tokio::test]
async fn removing_an_absent_format_still_bumps_the_version() {
    let app = spawn_app().await;
    app.seed_tutorial().await;

    let response = app
        .authed(Method::DELETE, &format!("{RAINMAKER}/formats/Vinyl"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let book: Value = response.json().await.unwrap();
    assert_eq!(book["version"], 2);
    assert_eq!(
        book["formats"],
        json!({"Hardcover": "J4SUKVGU", "Paperback": "D7YF4FCX"})
    );
}

#[tokio::test]
async fn empty_or_contradictory_changes_are_422() {
    let app = spawn_app().await;
    app.seed_tutorial().await;
    let path = format!("{RAINMAKER}/formats");

    let empty = app.write(Method::PATCH, &path, json!({})).await;
    assert_eq!(
        error_fields(&problem(empty, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["formats"]
    );
    let both = app
        .write(
            Method::PATCH,
            &path,
            json!({"add": {"Hardcover": "X"}, "remove": ["Hardcover"]}),
        )
        .await;
    assert_eq!(
        error_fields(&problem(both, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["formats.Hardcover"]
    );
    let bad_id = app
        .write(
            Method::PATCH,
            &path,
            json!({"add": {"Hardcover": " padded"}}),
        )
        .await;
    assert_eq!(
        error_fields(&problem(bad_id, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["formats.Hardcover"]
    );

    let book: Value = app.get(RAINMAKER).await.json().await.unwrap();
    assert_eq!(book["version"], 1, "refused changes wrote nothing");
}

#[tokio::test]
async fn a_change_to_a_missing_book_is_404() {
    let app = spawn_app().await;

    let response = app
        .write(
            Method::PATCH,
            "/books/No/Such/formats",
            json!({"add": {"A": "B"}}),
        )
        .await;
    problem(response, StatusCode::NOT_FOUND).await;
    let response = app
        .authed(Method::DELETE, "/books/No/Such/formats/A")
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_book_never_holds_more_than_32_formats() {
    let app = spawn_app().await;
    let path = "/books/Cap/Full";
    app.write(
        Method::PUT,
        path,
        json!({"category": "C", "formats": formats(31)}),
    )
    .await;

    let two_more = app
        .write(
            Method::PATCH,
            &format!("{path}/formats"),
            json!({"add": {"N1": "a", "N2": "b"}}),
        )
        .await;
    assert_eq!(
        error_fields(&problem(two_more, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["formats"]
    );

    let one_more = app
        .write(
            Method::PUT,
            &format!("{path}/formats/N1"),
            json!({"id": "a"}),
        )
        .await;
    assert_eq!(one_more.status(), StatusCode::OK);

    // At 32: re-setting existing names, or swapping one for another, is allowed (exact count).
    let reset = app
        .write(
            Method::PATCH,
            &format!("{path}/formats"),
            json!({"add": {"F00": "new", "F01": "new"}}),
        )
        .await;
    assert_eq!(reset.status(), StatusCode::OK);
    let swap = app
        .write(
            Method::PATCH,
            &format!("{path}/formats"),
            json!({"add": {"N2": "b"}, "remove": ["F05"]}),
        )
        .await;
    assert_eq!(swap.status(), StatusCode::OK);
    let book: Value = swap.json().await.unwrap();
    assert_eq!(book["formats"].as_object().unwrap().len(), 32);
    assert_eq!(book["formats"]["F00"], "new");
    assert_eq!(book["version"], 4);

    let over = app
        .write(
            Method::PUT,
            &format!("{path}/formats/N3"),
            json!({"id": "c"}),
        )
        .await;
    problem(over, StatusCode::UNPROCESSABLE_ENTITY).await;
}

#[tokio::test]
async fn remove_names_at_most_32_formats() {
    let app = spawn_app().await;
    app.seed_tutorial().await;
    let names = |n: usize| (0..n).map(|i| format!("F{i}")).collect::<Vec<_>>();
    let path = format!("{RAINMAKER}/formats");

    let ok = app
        .write(Method::PATCH, &path, json!({"remove": names(32)}))
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    // 1,000 names once built an UpdateExpression past DynamoDB's 4 KB limit: a 500.
    for n in [33, 1000] {
        let refused = app
            .write(Method::PATCH, &path, json!({"remove": names(n)}))
            .await;
        let body = problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error_fields(&body), ["remove"], "{n} names");
    }
    let book: Value = app.get(RAINMAKER).await.json().await.unwrap();
    assert_eq!(book["version"], 2, "only the accepted change was written");
}
