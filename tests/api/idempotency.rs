//! `Idempotency-Key` on `POST /books` and `POST /books/batch`.

use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::support::{
    ORIGIN, OTHER_TOKEN, Proxy, TestApp, book_path, engine_endpoint, error_fields, header, problem,
    spawn_app,
};
use bookstore::repository::records_table;

fn book(title: &str) -> Value {
    json!({"author": "Keyed Author", "title": title, "category": "Retries", "formats": {"Paperback": "P1"}})
}

/// A keyed write with the test token.
async fn keyed(app: &TestApp, path: &str, key: &str, body: &Value) -> Response {
    app.authed(Method::POST, path)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Everything a client sees of an answer, but whether it says it is replayed.
#[derive(Debug, PartialEq)]
struct Answer {
    status: StatusCode,
    etag: Option<String>,
    location: Option<String>,
    content_type: Option<String>,
    body: String,
    replayed: bool,
}

async fn answer(response: Response) -> Answer {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (etag, location, content_type) =
        (header("etag"), header("location"), header("content-type"));
    let replayed = match header("idempotent-replayed").as_deref() {
        None => false,
        Some("true") => true,
        Some(other) => panic!("Idempotent-Replayed: {other}"),
    };
    Answer {
        status: response.status(),
        etag,
        location,
        content_type,
        body: response.text().await.unwrap(),
        replayed,
    }
}

/// The same answer, marked as a replay.
fn replay_of(first: &Answer) -> Answer {
    Answer {
        status: first.status,
        etag: first.etag.clone(),
        location: first.location.clone(),
        content_type: first.content_type.clone(),
        body: first.body.clone(),
        replayed: true,
    }
}

async fn stored(app: &TestApp, title: &str) -> Value {
    let response = app.get(&book_path("Keyed Author", title)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_create_whose_response_was_lost_is_replayed_and_not_written_again() {
    let app = spawn_app().await;
    let body = book("Lost Response");

    let first = answer(keyed(&app, "/books", "create-1", &body).await).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(!first.replayed);
    assert_eq!(
        first.location.as_deref(),
        Some("/books/Keyed%20Author/Lost%20Response")
    );
    let before = stored(&app, "Lost Response").await;

    // The client never saw `first` and sends the request again.
    let again = answer(keyed(&app, "/books", "create-1", &body).await).await;
    assert_eq!(again, replay_of(&first));
    assert_eq!(stored(&app, "Lost Response").await, before);
    assert_eq!(before["version"], 1);

    // The answer does not depend on the book: a replay is the first answer, not a new read.
    let changed = app
        .write(
            Method::PUT,
            &book_path("Keyed Author", "Lost Response"),
            json!({"category": "Changed"}),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let later = answer(keyed(&app, "/books", "create-1", &body).await).await;
    assert_eq!(later, replay_of(&first));
    assert_eq!(stored(&app, "Lost Response").await["version"], 2);
}

#[tokio::test]
async fn a_keyed_answer_is_the_one_without_a_key() {
    let app = spawn_app().await;
    let plain = answer(app.write(Method::POST, "/books", book("Plain")).await).await;
    let keyed = answer(keyed(&app, "/books", "same-shape", &book("Keyed")).await).await;
    assert_eq!(
        (plain.status, plain.content_type, plain.replayed),
        (keyed.status, keyed.content_type, keyed.replayed)
    );
    let (plain, keyed): (Value, Value) = (
        serde_json::from_str(&plain.body).unwrap(),
        serde_json::from_str(&keyed.body).unwrap(),
    );
    let fields = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(fields(&plain), fields(&keyed));
}

#[tokio::test]
async fn a_keyed_batch_is_replayed_and_not_written_again() {
    let app = spawn_app().await;
    let batch = json!({"books": [book("B1"), book("B2")]});

    let first = answer(keyed(&app, "/books/batch", "batch-1", &batch).await).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&first.body).unwrap(),
        json!({"created": 2, "replaced": 0})
    );

    // Written again, the batch would replace both books (version 2, "replaced": 2).
    let again = answer(keyed(&app, "/books/batch", "batch-1", &batch).await).await;
    assert_eq!(again, replay_of(&first));
    assert_eq!(stored(&app, "B1").await["version"], 1);
    assert_eq!(stored(&app, "B2").await["version"], 1);

    // The same batch without the key is a new request.
    let unkeyed = app.write(Method::POST, "/books/batch", batch).await;
    assert_eq!(
        unkeyed.json::<Value>().await.unwrap(),
        json!({"created": 0, "replaced": 2})
    );
}

#[tokio::test]
async fn the_same_key_with_another_body_or_route_is_a_422() {
    let app = spawn_app().await;
    let created = keyed(&app, "/books", "reused", &book("Original")).await;
    assert_eq!(created.status(), StatusCode::CREATED);

    let other_body = keyed(&app, "/books", "reused", &book("Another")).await;
    let problem_body = problem(other_body, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error_fields(&problem_body), ["Idempotency-Key"]);
    // Bytes count, not meaning: the same book spelled with other whitespace is another body.
    let respelled = app
        .authed(Method::POST, "/books")
        .header("Idempotency-Key", "reused")
        .header("Content-Type", "application/json")
        .body(format!("{}\n", book("Original")))
        .send()
        .await
        .unwrap();
    problem(respelled, StatusCode::UNPROCESSABLE_ENTITY).await;
    let other_route = keyed(
        &app,
        "/books/batch",
        "reused",
        &json!({"books": [book("Original")]}),
    )
    .await;
    problem(other_route, StatusCode::UNPROCESSABLE_ENTITY).await;

    assert_eq!(
        app.get(&book_path("Keyed Author", "Another"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(stored(&app, "Original").await["version"], 1);
}

#[tokio::test]
async fn keys_are_scoped_to_the_token() {
    let app = spawn_app().await;
    let body = book("Scoped");
    let mine = keyed(&app, "/books", "shared-key", &body).await;
    assert_eq!(mine.status(), StatusCode::CREATED);

    // Another token's request with the same key is its own: the book exists, so 409.
    let theirs = app
        .request(Method::POST, "/books")
        .bearer_auth(OTHER_TOKEN)
        .header("Idempotency-Key", "shared-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(theirs.headers().get("idempotent-replayed").is_none());
    problem(theirs, StatusCode::CONFLICT).await;

    // Nor is another body under that key a reuse for them.
    let other = app
        .request(Method::POST, "/books")
        .bearer_auth(OTHER_TOKEN)
        .header("Idempotency-Key", "shared-key")
        .json(&book("Theirs"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn malformed_keys_are_a_400_and_write_nothing() {
    let app = spawn_app().await;
    let too_long = "k".repeat(256);
    let malformed: [&[u8]; 5] = [
        b"",
        too_long.as_bytes(),
        b"with space",
        "clé".as_bytes(),
        b"tab\there",
    ];
    for key in malformed {
        for (path, body) in [
            ("/books", book("Refused")),
            ("/books/batch", json!({"books": [book("Refused")]})),
        ] {
            let response = app
                .authed(Method::POST, path)
                .header(
                    "Idempotency-Key",
                    reqwest::header::HeaderValue::from_bytes(key).unwrap(),
                )
                .json(&body)
                .send()
                .await
                .unwrap();
            problem(response, StatusCode::BAD_REQUEST).await;
        }
    }
    let longest = keyed(&app, "/books", &"k".repeat(255), &book("Longest Key")).await;
    assert_eq!(longest.status(), StatusCode::CREATED);
    assert_eq!(
        app.get(&book_path("Keyed Author", "Refused"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_failed_keyed_request_is_not_recorded_and_may_be_retried() {
    let app = spawn_app().await;
    let body = book("Exists");
    assert_eq!(
        app.write(Method::POST, "/books", body.clone())
            .await
            .status(),
        StatusCode::CREATED
    );
    problem(
        keyed(&app, "/books", "after-409", &body).await,
        StatusCode::CONFLICT,
    )
    .await;

    let deleted = app
        .authed(Method::DELETE, &book_path("Keyed Author", "Exists"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let retried = answer(keyed(&app, "/books", "after-409", &body).await).await;
    assert_eq!(
        (retried.status, retried.replayed),
        (StatusCode::CREATED, false)
    );
}

#[tokio::test]
async fn a_keyed_batch_holds_at_most_99_books() {
    let app = spawn_app().await;
    let books: Vec<Value> = (0..100).map(|i| book(&format!("Cap {i:03}"))).collect();
    let refused = keyed(&app, "/books/batch", "too-many", &json!({"books": books})).await;
    assert_eq!(
        error_fields(&problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["books"]
    );
    // 99 new books would also change two counts: 102 items. Replacing 99 books without
    // moving them changes no count, so the record is the 100th item.
    for part in [&books[..50], &books[50..99]] {
        let created = app
            .write(Method::POST, "/books/batch", json!({"books": part}))
            .await;
        assert_eq!(created.status(), StatusCode::OK);
    }
    let fits = keyed(&app, "/books/batch", "fits", &json!({"books": books[..99]})).await;
    assert_eq!(
        fits.json::<Value>().await.unwrap(),
        json!({"created": 0, "replaced": 99})
    );
}

#[tokio::test]
async fn a_repeat_while_the_first_is_in_flight_is_a_409() {
    let app = spawn_app().await;
    // Every call to DynamoDB takes 300 ms more, so the first request is in flight for 600 ms
    // or more (a GetItem, then the transaction); the repeat comes 150 ms after it.
    let proxy = Proxy::start(Duration::from_millis(300)).await;
    let slow = app.sibling(&proxy.endpoint).await;
    let body = book("In Flight");

    let (a, b) = tokio::join!(keyed(&slow, "/books", "slow", &body), async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        keyed(&slow, "/books", "slow", &body).await
    });
    // Whichever reached the handler first (on a loaded machine, not always the one sent
    // first) writes; the other overlaps it and is refused.
    let (a, b) = (answer(a).await, answer(b).await);
    let (first, refused) = if a.status == StatusCode::CREATED {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!((first.status, first.replayed), (StatusCode::CREATED, false));
    assert_eq!(
        (refused.status, refused.replayed),
        (StatusCode::CONFLICT, false)
    );
    let problem: Value = serde_json::from_str(&refused.body).unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("in progress"));

    let third = answer(keyed(&slow, "/books", "slow", &body).await).await;
    assert_eq!(third, replay_of(&first));
}

#[tokio::test]
async fn racing_repeats_write_once() {
    let app = spawn_app().await;
    // Two tasks of the service: keys held in memory by one are not seen by the other, so only
    // the record's condition in the transaction keeps the write single.
    let twin = app.sibling(&engine_endpoint()).await;
    let body = book("Raced");

    for (a, b) in [(&app, &app), (&app, &twin)] {
        let key = format!("race-{}", std::ptr::eq(a, b));
        let (x, y) = tokio::join!(
            keyed(a, "/books", &key, &body),
            keyed(b, "/books", &key, &body)
        );
        let (x, y) = (answer(x).await, answer(y).await);
        let (first, other) = if x.replayed || x.status != StatusCode::CREATED {
            (y, x)
        } else {
            (x, y)
        };
        assert_eq!((first.status, first.replayed), (StatusCode::CREATED, false));
        // The other one is either the first's answer replayed or, when it came while the first
        // was in flight, a 409; never a second write.
        if other.status == StatusCode::CONFLICT {
            assert!(!other.replayed);
            let problem: Value = serde_json::from_str(&other.body).unwrap();
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap()
                    .contains("Idempotency-Key"),
                "{problem}"
            );
        } else {
            assert_eq!(other, replay_of(&first));
        }
        let repeat = answer(keyed(b, "/books", &key, &body).await).await;
        assert_eq!(repeat, replay_of(&first));
        // The next round's book is created again, so delete this one.
        assert_eq!(stored(&app, "Raced").await["version"], 1);
        app.authed(Method::DELETE, &book_path("Keyed Author", "Raced"))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn an_expired_record_is_no_record() {
    let app = spawn_app().await;
    let created = keyed(&app, "/books", "expiring", &book("First")).await;
    assert_eq!(created.status(), StatusCode::CREATED);

    // TTL deletes an expired record up to days late; until then it must count as gone.
    let client = app.repo.client();
    let table = records_table(app.repo.table());
    let records = client.scan().table_name(&table).send().await.unwrap();
    let [record] = records.items() else {
        panic!("one record expected: {records:?}");
    };
    let past = (time::OffsetDateTime::now_utc().unix_timestamp() - 1).to_string();
    client
        .update_item()
        .table_name(&table)
        .key("Key", record["Key"].clone())
        .update_expression("SET #e = :past")
        .expression_attribute_names("#e", "ExpiresAt")
        .expression_attribute_values(":past", AttributeValue::N(past))
        .send()
        .await
        .unwrap();

    let reused = answer(keyed(&app, "/books", "expiring", &book("Second")).await).await;
    assert_eq!(
        (reused.status, reused.replayed),
        (StatusCode::CREATED, false)
    );
    let again = answer(keyed(&app, "/books", "expiring", &book("Second")).await).await;
    assert_eq!(again, replay_of(&reused));
}

#[tokio::test]
async fn records_expire_by_ttl_and_keep_no_token() {
    let app = spawn_app().await;
    let created = keyed(&app, "/books", "inspected", &book("Inspected")).await;
    assert_eq!(created.status(), StatusCode::CREATED);

    let client = app.repo.client();
    let table = records_table(app.repo.table());
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(ttl.attribute_name(), Some("ExpiresAt"));
    assert!(matches!(
        ttl.time_to_live_status(),
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ));

    let records = client.scan().table_name(&table).send().await.unwrap();
    let [record] = records.items() else {
        panic!("one record expected: {records:?}");
    };
    let AttributeValue::S(key) = &record["Key"] else {
        panic!("Key is a string: {record:?}");
    };
    assert!(key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()));
    let AttributeValue::N(expires) = &record["ExpiresAt"] else {
        panic!("ExpiresAt is a number: {record:?}");
    };
    let in_a_day = time::OffsetDateTime::now_utc().unix_timestamp() + 24 * 60 * 60;
    assert!((in_a_day - expires.parse::<i64>().unwrap()).abs() < 120);
    let text = format!("{record:?}");
    assert!(!text.contains(crate::support::TOKEN) && !text.contains("inspected"));
}

#[tokio::test]
async fn other_routes_ignore_the_key() {
    let app = spawn_app().await;
    let path = book_path("Keyed Author", "Ignored");
    for category in ["One", "Two"] {
        let response = app
            .authed(Method::PUT, &path)
            .header("Idempotency-Key", "not-for-put")
            .json(&json!({"category": category}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        assert!(response.headers().get("idempotent-replayed").is_none());
    }
    assert_eq!(stored(&app, "Ignored").await["version"], 2);
    // Even a malformed key is no error where keys are not read.
    let response = app
        .request(Method::GET, &path)
        .header("Idempotency-Key", "with space")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn browsers_may_send_the_key_and_see_a_replay() {
    let app = spawn_app().await;
    let preflight = app
        .preflight(
            "POST",
            "/books",
            "authorization, content-type, idempotency-key",
        )
        .await;
    let allowed = header(&preflight, "access-control-allow-headers").to_lowercase();
    assert!(allowed.contains("idempotency-key"), "{allowed}");

    let response = app
        .authed(Method::POST, "/books")
        .header("Origin", ORIGIN)
        .header("Idempotency-Key", "from-a-browser")
        .json(&book("Browser"))
        .send()
        .await
        .unwrap();
    let exposed = header(&response, "access-control-expose-headers").to_lowercase();
    assert!(exposed.contains("idempotent-replayed"), "{exposed}");
}
