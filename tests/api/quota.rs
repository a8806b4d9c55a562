//! Write quotas per principal: a burst, then 429s with `Retry-After` and the RateLimit headers;
//! principals apart; reads and health checks never limited.

use reqwest::{Method, Response, StatusCode};

use crate::support::{
    ORIGIN, OTHER_TOKEN, TOKEN, TestApp, engine_endpoint, problem, spawn_app_with,
};

/// One write per second, bursts of `BURST`.
const BURST: u32 = 5;

async fn limited_app() -> TestApp {
    let burst = BURST.to_string();
    let flags = ["--write-rate", "1", "--write-burst", &burst];
    spawn_app_with(&engine_endpoint(), true, &flags).await
}

/// A cheap write: deleting a book that is not there (a 404 still counts against the quota).
async fn delete(app: &TestApp, token: &str) -> Response {
    app.request(Method::DELETE, "/books/Nobody/Nothing")
        .bearer_auth(token)
        .header("Origin", ORIGIN)
        .send()
        .await
        .unwrap()
}

/// Writes until one is refused: the answers before it, and the refusal. The bucket refills one
/// write a second, so a handful more than the burst always reaches a refusal.
async fn exhaust(app: &TestApp, token: &str) -> (Vec<Response>, Response) {
    let mut allowed = Vec::new();
    for _ in 0..BURST * 4 {
        let response = delete(app, token).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            return (allowed, response);
        }
        allowed.push(response);
    }
    panic!("{} writes and no 429", BURST * 4);
}

fn header(response: &Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_burst_then_429s_with_the_ratelimit_headers() {
    let app = limited_app().await;
    let (allowed, refused) = exhaust(&app, TOKEN).await;
    // The bucket starts full: the whole burst passes, each answer saying what is left.
    assert!(allowed.len() >= BURST as usize, "{} allowed", allowed.len());
    let first = &allowed[0];
    assert_eq!(first.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(first, "ratelimit-policy"), r#""writes";q=5;w=5"#);
    assert_eq!(header(first, "ratelimit"), r#""writes";r=4;t=1"#);

    let retry_after: u64 = header(&refused, "retry-after").parse().unwrap();
    assert_eq!(retry_after, 1, "one write a second");
    assert_eq!(header(&refused, "ratelimit-policy"), r#""writes";q=5;w=5"#);
    assert_eq!(header(&refused, "ratelimit"), r#""writes";r=0;t=1"#);
    let exposed = header(&refused, "access-control-expose-headers").to_ascii_lowercase();
    for name in ["retry-after", "ratelimit", "ratelimit-policy"] {
        assert!(
            exposed.split(',').any(|h| h.trim() == name),
            "{name}: {exposed}"
        );
    }
    let body = problem(refused, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(body["title"], "Too Many Requests");
    assert_eq!(body["instance"], "/books/Nobody/Nothing");
}

#[tokio::test]
async fn one_principal_exhausted_leaves_the_others_alone() {
    let app = limited_app().await;
    exhaust(&app, TOKEN).await;
    let other = delete(&app, OTHER_TOKEN).await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&other, "ratelimit"), r#""writes";r=4;t=1"#);
    // Refused credentials are not a principal's writes: still a 401, never a 429.
    assert_eq!(
        delete(&app, "wrong").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn reads_and_health_checks_are_never_limited() {
    let app = limited_app().await;
    app.seed_tutorial().await;
    exhaust(&app, TOKEN).await;
    for _ in 0..BURST * 4 {
        for path in [
            "/books/William%20Shakespeare/Hamlet",
            "/authors/William%20Shakespeare/books",
            "/health/live",
            "/health/ready",
        ] {
            let response = app
                .request(Method::GET, path)
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert!(response.headers().get("ratelimit").is_none());
        }
    }
}

#[tokio::test]
async fn refusals_are_counted_in_the_metrics() {
    let app = limited_app().await;
    exhaust(&app, TOKEN).await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let refusals: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("write_quota_refusals_total "))
        .expect("the counter is exported")
        .parse()
        .unwrap();
    assert!(refusals >= 1.0, "{refusals}");
}
