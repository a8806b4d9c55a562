//! Hostile input: every case gets a 4xx problem response and no data changes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{HAMLET, TOKEN, TestApp, enc, spawn_app};

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
    authed: bool,
    expect: u16,
}

fn case(name: &'static str, method: Method, path: impl Into<String>, expect: u16) -> Case {
    Case {
        name,
        method,
        path: path.into(),
        content_type: None,
        body: Vec::new(),
        headers: Vec::new(),
        authed: true,
        expect,
    }
}

impl Case {
    fn json(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = Some("application/json");
        self.body = body.into();
        self
    }
    fn typed(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = Some(content_type);
        self.body = body.into();
        self
    }
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    fn anonymous(mut self) -> Self {
        self.authed = false;
        self
    }
}

fn b64(v: Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn cases(other_author_cursor: &str) -> Vec<Case> {
    use Method as M;
    let formats_33: Value = Value::Object((0..33).map(|i| (format!("F{i}"), json!("x"))).collect());
    let batch = |n: usize| {
        json!({"books": (0..n).map(|i| json!({"author": "H", "title": format!("T{i}"), "category": "C"})).collect::<Vec<_>>()}).to_string()
    };
    vec![
        case("oversized body", M::PUT, HAMLET, 413).json(format!(r#"{{"category":"{}"}}"#, "x".repeat(70_000))),
        case("deeply nested arrays", M::PUT, HAMLET, 400).json("[".repeat(20_000)),
        case("deeply nested objects", M::PUT, HAMLET, 400).json(format!("{}1{}", r#"{"a":"#.repeat(5_000), "}".repeat(5_000))),
        case("nested value in formats", M::PUT, HAMLET, 422).json(r#"{"category":"C","formats":{"a":{"b":{"c":1}}}}"#),
        case("invalid UTF-8 body", M::PUT, HAMLET, 400).json(vec![b'{', b'"', 0xFF, 0xFE, b'"', b'}']),
        case("invalid UTF-8 in path", M::GET, "/books/%FF%FE/Hamlet", 400),
        case("NUL in title path", M::GET, "/books/A/%00", 422),
        case("NUL in author listing", M::GET, "/authors/%00/books", 422),
        case("NUL in category listing", M::GET, "/categories/a%00b/books", 422),
        case("DEL in title path", M::PUT, "/books/A/x%7F", 422).json(r#"{"category":"C"}"#),
        case("C1 control in category", M::PUT, "/books/A/T", 422).json(r#"{"category":"a\u0085b"}"#),
        case("control character in category", M::POST, "/books", 422).json(r#"{"author":"A","title":"T","category":"a\u0001"}"#),
        case("leading space in title path", M::PUT, "/books/A/%20T", 422).json(r#"{"category":"C"}"#),
        case("trailing NBSP in author", M::PUT, "/books/A%C2%A0/T", 422).json(r#"{"category":"C"}"#),
        case("ideographic space category", M::PUT, "/books/A/T", 422).json(r#"{"category":"\u3000C"}"#),
        case("257-character title", M::PUT, format!("/books/A/{}", "t".repeat(257)), 422).json(r#"{"category":"C"}"#),
        case("huge limit", M::GET, "/authors/A/books?limit=1000000000000", 400),
        case("negative limit", M::GET, "/authors/A/books?limit=-5", 400),
        case("zero limit", M::GET, "/categories/C/books?limit=0", 400),
        case("fractional limit", M::GET, "/authors/A/books?limit=1.5", 400),
        case("order sideways", M::GET, "/authors/A/books?order=sideways", 400),
        case("overlong title_prefix", M::GET, format!("/authors/A/books?title_prefix={}", "p".repeat(300)), 400),
        case("cursor of another author", M::GET, format!("/authors/Someone/books?cursor={}", enc(other_author_cursor)), 400),
        case("truncated cursor", M::GET, format!("/authors/Prolific/books?cursor={}", enc(&other_author_cursor[..other_author_cursor.len() / 2])), 400),
        case("cursor with bad characters", M::GET, "/authors/A/books?cursor=%2B%2F%3D%3D", 400),
        case("10 KB cursor", M::GET, format!("/authors/A/books?cursor={}", "Q".repeat(10_000)), 400),
        case("forged cursor outside the prefix", M::GET, format!("/authors/A/books?title_prefix=Z&cursor={}", b64(json!({"s":"author","k":"A","p":"Z","o":"asc","t":"Hamlet"}))), 400),
        case("forged category cursor without author", M::GET, format!("/categories/C/books?cursor={}", b64(json!({"s":"category","k":"C","p":"","o":"asc","t":"T"}))), 400),
        case("merge patch sent as plain JSON", M::PATCH, HAMLET, 415).json(r#"{"category":"C"}"#),
        case("empty merge patch", M::PATCH, HAMLET, 422).typed("application/merge-patch+json", "{}"),
        case("POST on a book", M::POST, HAMLET, 405).json("{}"),
        case("PUT on the collection", M::PUT, "/books", 405).json("{}"),
        case("DELETE on a listing", M::DELETE, "/authors/A/books", 405),
        case("unknown route", M::GET, "/books/a/b/c/d/e", 404),
        case("text/plain body", M::PUT, HAMLET, 415).typed("text/plain", r#"{"category":"C"}"#),
        case("XML body", M::PUT, HAMLET, 415).typed("application/xml", "<book/>"),
        case("form body", M::POST, "/books", 415).typed("application/x-www-form-urlencoded", "author=A&title=T"),
        case("no content type", M::PATCH, format!("{HAMLET}/formats"), 415).typed("", r#"{"remove":["x"]}"#),
        case("array body", M::PUT, HAMLET, 422).json("[]"),
        case("string body", M::PUT, HAMLET, 422).json(r#""Drama""#),
        case("null body", M::PUT, HAMLET, 422).json("null"),
        case("unknown field", M::PUT, HAMLET, 422).json(r#"{"category":"C","price":10}"#),
        case("formats not a map", M::PUT, HAMLET, 422).json(r#"{"category":"C","formats":["Hardcover"]}"#),
        case("33 formats", M::PUT, HAMLET, 422).json(json!({"category": "C", "formats": formats_33}).to_string()),
        case("empty format id", M::PUT, format!("{HAMLET}/formats/Audiobook"), 422).json(r#"{"id":""}"#),
        case("number out of range", M::PUT, HAMLET, 400).json(r#"{"category":1e400}"#),
        case("batch of 101", M::POST, "/books/batch", 422).json(batch(101)),
        case("empty batch", M::POST, "/books/batch", 422).json(batch(0)),
        case("batch with a duplicate", M::POST, "/books/batch", 422).json(r#"{"books":[{"author":"H","title":"T","category":"C"},{"author":"H","title":"T","category":"D"}]}"#),
        case("empty format patch", M::PATCH, format!("{HAMLET}/formats"), 422).json(r#"{"add":{},"remove":[]}"#),
        case("remove not a list", M::PATCH, format!("{HAMLET}/formats"), 422).json(r#"{"remove":"Hardcover"}"#),
        case("garbage If-Match", M::PUT, HAMLET, 400).json(r#"{"category":"C"}"#).header("If-Match", "not-a-tag"),
        case("thousand If-None-Match tags", M::GET, HAMLET, 400).header("If-None-Match", vec!["\"1\""; 1000].join(", ")),
        case("no token", M::DELETE, HAMLET, 401).anonymous(),
        case("10 KB wrong token", M::DELETE, HAMLET, 401).anonymous().header("Authorization", format!("Bearer {}", "t".repeat(10_000))),
        case("token in the wrong scheme", M::DELETE, HAMLET, 401).anonymous().header("Authorization", format!("Token {TOKEN}")),
    ]
}

/// Every item in the table, sorted, as JSON text: what "no data changed" compares.
async fn snapshot(app: &TestApp) -> Vec<String> {
    let output = app
        .repo
        .client()
        .scan()
        .table_name(app.repo.table())
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let mut items: Vec<String> = output
        .items
        .unwrap_or_default()
        .into_iter()
        .map(|item| {
            serde_dynamo::from_item::<_, Value>(item)
                .unwrap()
                .to_string()
        })
        .collect();
    items.sort();
    items
}

#[tokio::test]
async fn hostile_requests_get_4xx_problems_and_change_nothing() {
    let app = spawn_app().await;
    app.seed_tutorial().await;
    let first: Value = app
        .get("/authors/John%20Grisham/books?limit=1")
        .await
        .json()
        .await
        .unwrap();
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let before = snapshot(&app).await;

    let cases = cases(&cursor);
    assert!(cases.len() >= 40);
    let mut failures = Vec::new();
    for c in cases {
        let mut request = if c.authed {
            app.authed(c.method.clone(), &c.path)
        } else {
            app.request(c.method.clone(), &c.path)
        };
        if let Some(ct) = c.content_type.filter(|ct| !ct.is_empty()) {
            request = request.header("Content-Type", ct);
        }
        for (name, value) in &c.headers {
            request = request.header(*name, value);
        }
        let response = request.body(c.body).send().await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.text().await.unwrap();
        let is_problem = content_type.as_deref() == Some("application/problem+json")
            && serde_json::from_str::<Value>(&body).is_ok_and(|p| p["status"] == status.as_u16());
        if status != StatusCode::from_u16(c.expect).unwrap() || !is_problem {
            failures.push(format!(
                "{}: expected {} problem, got {status} {content_type:?} {body:.200}",
                c.name, c.expect
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(snapshot(&app).await, before, "hostile input changed data");
}
