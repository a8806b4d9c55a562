//! Writes with OIDC access tokens, against a test issuer serving keys generated here: every rule
//! of "Sign-in for browser frontends", key rotation, an issuer that is down or broken, and
//! Authorization headers that are not credentials at all.

use jsonwebtoken::{EncodingKey, Header};
use reqwest::{Method, Response, StatusCode, header::HeaderValue};
use serde_json::{Value, json};

use crate::{
    issuer::{AUDIENCE, Jwks, TestIssuer, TestKey, WRITE_SCOPE, now, segment},
    support::{
        ORIGIN, TOKEN, TestApp, book_path, engine_endpoint, free_port, header, problem,
        spawn_app_with,
    },
};

/// The app, accepting the test tokens and `issuer_url`'s access tokens.
async fn app_trusting(issuer_url: &str) -> TestApp {
    let flags = [
        "--oidc-issuer",
        issuer_url,
        "--oidc-audience",
        AUDIENCE,
        "--write-scope",
        WRITE_SCOPE,
    ];
    spawn_app_with(&engine_endpoint(), true, &flags).await
}

fn book(title: &str) -> Value {
    json!({"author": "Signed In", "title": title, "category": "Auth", "formats": {"Paperback": "P1"}})
}

/// `POST /books` of a new book with `Authorization: Bearer <token>`.
async fn create(app: &TestApp, token: &str, title: &str) -> Response {
    app.request(Method::POST, "/books")
        .bearer_auth(token)
        .json(&book(title))
        .send()
        .await
        .unwrap()
}

/// Checks a 401 with `error="invalid_token"` that shows nothing of the token.
async fn assert_invalid_token(response: Response, token: &str) {
    let challenge = header(&response, "www-authenticate");
    assert!(
        challenge.starts_with(r#"Bearer error="invalid_token""#),
        "{challenge}"
    );
    let body = problem(response, StatusCode::UNAUTHORIZED).await;
    // Long enough not to turn up by chance in the problem's own words.
    let signature = token.rsplit('.').next().unwrap();
    if signature.len() >= 16 {
        assert!(!body.to_string().contains(signature));
        assert!(!challenge.contains(signature));
    }
}

#[tokio::test]
async fn rs256_and_es256_access_tokens_write() {
    let (rsa, ec) = (TestKey::rsa("rsa-1"), TestKey::ec("ec-1"));
    let issuer = TestIssuer::start(vec![rsa.clone(), ec.clone()]).await;
    let app = app_trusting(&issuer.url).await;

    let rs = rsa.sign(&issuer.claims("alice"));
    assert_eq!(
        create(&app, &rs, "RS256").await.status(),
        StatusCode::CREATED
    );
    let es = ec.sign(&issuer.claims("alice"));
    assert_eq!(
        create(&app, &es, "ES256").await.status(),
        StatusCode::CREATED
    );
    // A Cognito access token: no `aud`, the app client in `client_id`, `token_use` access.
    let cognito = issuer.claims_with(
        "bob",
        json!({"aud": null, "client_id": AUDIENCE, "token_use": "access", "scope": WRITE_SCOPE}),
    );
    let cognito = rsa.sign(&cognito);
    assert_eq!(
        create(&app, &cognito, "Cognito").await.status(),
        StatusCode::CREATED
    );
    // An `aud` list holding the audience is the audience too.
    let listed = rsa.sign(&issuer.claims_with("bob", json!({"aud": ["other", AUDIENCE]})));
    assert_eq!(
        create(&app, &listed, "Listed").await.status(),
        StatusCode::CREATED
    );
    // Keys were fetched once for all of them.
    assert_eq!(issuer.jwks_hits(), 1);
    // The static tokens keep working beside the issuer's.
    assert_eq!(
        create(&app, TOKEN, "Static").await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn tokens_breaking_a_rule_are_invalid() {
    let key = TestKey::rsa("rsa-1");
    let issuer = TestIssuer::start(vec![key.clone()]).await;
    let app = app_trusting(&issuer.url).await;
    let now = now();
    let broken = [
        ("expired", json!({"exp": now - 5})),
        ("no exp", json!({"exp": null})),
        ("nbf beyond the leeway", json!({"nbf": now + 120})),
        ("iat beyond the leeway", json!({"iat": now + 120})),
        ("another issuer", json!({"iss": "https://issuer.example"})),
        (
            "issuer with a trailing slash",
            json!({"iss": format!("{}/", issuer.url)}),
        ),
        ("another audience", json!({"aud": "https://other.example"})),
        (
            "no aud, another client",
            json!({"aud": null, "client_id": "someone-else"}),
        ),
        ("no aud, no client", json!({"aud": null, "client_id": null})),
        ("an ID token", json!({"token_use": "id"})),
        ("no subject", json!({"sub": null})),
    ];
    for (case, changes) in broken {
        let token = key.sign(&issuer.claims_with("alice", changes));
        let response = create(&app, &token, case).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        assert_invalid_token(response, &token).await;
    }
    // Within the 60 s leeway, `nbf` and `iat` a little ahead of this clock are fine.
    let skewed = key.sign(&issuer.claims_with("alice", json!({"nbf": now + 30, "iat": now + 30})));
    assert_eq!(
        create(&app, &skewed, "Skewed").await.status(),
        StatusCode::CREATED
    );
    // Nothing was written by the refused tokens.
    assert_eq!(
        app.get(&book_path("Signed In", "expired")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn forged_tokens_are_invalid() {
    let key = TestKey::rsa("rsa-1");
    let issuer = TestIssuer::start(vec![key.clone()]).await;
    let app = app_trusting(&issuer.url).await;
    let claims = issuer.claims("mallory");

    // `alg: none`, with and without a signature.
    let header = json!({"alg": "none", "typ": "JWT", "kid": key.kid});
    let unsigned = format!("{}.{}.", segment(&header), segment(&claims));
    assert_invalid_token(create(&app, &unsigned, "None").await, &unsigned).await;
    let header = json!({"alg": "none", "kid": key.kid});
    let unsigned = format!("{}.{}.e30", segment(&header), segment(&claims));
    assert_invalid_token(create(&app, &unsigned, "None").await, &unsigned).await;

    // HS256 "signed" with the RSA public key, the classic key confusion.
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(key.kid.clone());
    let secret = EncodingKey::from_secret(key.public_pem.as_ref().unwrap().as_bytes()).unwrap();
    let confused = jsonwebtoken::encode(&header, &claims, &secret).unwrap();
    assert_invalid_token(create(&app, &confused, "HS256").await, &confused).await;

    // A valid-looking token signed by a key the issuer never published, under its kid.
    let impostor = TestKey::rsa(&key.kid);
    let forged = impostor.sign(&claims);
    assert_invalid_token(create(&app, &forged, "Forged").await, &forged).await;

    // A payload changed after signing.
    let genuine = key.sign(&claims);
    let parts: Vec<&str> = genuine.split('.').collect();
    let tampered_claims = issuer.claims_with("admin", json!({}));
    let tampered = format!("{}.{}.{}", parts[0], segment(&tampered_claims), parts[2]);
    assert_invalid_token(create(&app, &tampered, "Tampered").await, &tampered).await;

    // Tokens of another issuer, with their own keys: unknown kid, then refused.
    let other_key = TestKey::ec("other-1");
    let other = TestIssuer::start(vec![other_key.clone()]).await;
    let foreign = other_key.sign(&other.claims("alice"));
    assert_invalid_token(create(&app, &foreign, "Foreign").await, &foreign).await;

    // Not JWTs at all.
    for junk in ["abc", "a.b.c", "a.b", "...", "eyJhbGciOiJSUzI1NiJ9.e30.e30"] {
        assert_invalid_token(create(&app, junk, "Junk").await, junk).await;
    }
    assert_eq!(other.jwks_hits(), 0);
}

#[tokio::test]
async fn a_token_without_the_write_scope_is_forbidden() {
    let key = TestKey::ec("ec-1");
    let issuer = TestIssuer::start(vec![key.clone()]).await;
    let app = app_trusting(&issuer.url).await;
    for scope in [
        json!("openid profile"),
        json!("bookstore/writes bookstore"),
        json!(null),
    ] {
        let token = key.sign(&issuer.claims_with("reader", json!({"scope": scope})));
        let response = create(&app, &token, "Scopeless").await;
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer error="insufficient_scope", scope="bookstore/write""#
        );
        problem(response, StatusCode::FORBIDDEN).await;
    }
}

#[tokio::test]
async fn rotated_keys_are_refetched_at_most_once_a_minute() {
    let old = TestKey::rsa("2026-01");
    let issuer = TestIssuer::start(vec![old.clone()]).await;
    let app = app_trusting(&issuer.url).await;
    let token = old.sign(&issuer.claims("alice"));
    assert_eq!(
        create(&app, &token, "Before").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(issuer.jwks_hits(), 1);

    // The issuer rotates: a new key, the old one withdrawn.
    let new = TestKey::ec("2026-02");
    issuer.publish(vec![new.clone()]);
    let token = new.sign(&issuer.claims("alice"));
    assert_eq!(
        create(&app, &token, "After").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(issuer.jwks_hits(), 2);

    // Another unknown kid within the minute: refused without asking the issuer again.
    let unknown = TestKey::ec("made-up").sign(&issuer.claims("alice"));
    assert_invalid_token(create(&app, &unknown, "Made up").await, &unknown).await;
    assert_eq!(issuer.jwks_hits(), 2);
    // The new key still works and costs no fetch; the withdrawn one is no longer trusted.
    assert_eq!(
        create(&app, &token, "Again").await.status(),
        StatusCode::CREATED
    );
    let withdrawn = old.sign(&issuer.claims("alice"));
    assert_invalid_token(create(&app, &withdrawn, "Withdrawn").await, &withdrawn).await;
    assert_eq!(issuer.jwks_hits(), 2);
}

#[tokio::test]
async fn an_issuer_that_is_down_means_503_for_its_tokens_only() {
    // Nothing listens on the issuer's port.
    let issuer_url = format!("http://127.0.0.1:{}", free_port());
    let app = app_trusting(&issuer_url).await;
    let key = TestKey::rsa("rsa-1");
    let claims = json!({"iss": issuer_url, "sub": "alice", "aud": AUDIENCE,
        "scope": WRITE_SCOPE, "exp": now() + 300});
    let token = key.sign(&claims);
    for _ in 0..2 {
        let response = create(&app, &token, "Down").await;
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    }
    // Tokens that fail before any key is needed are still a 401, and static tokens still write.
    let unsigned = format!("{}.{}.", segment(&json!({"alg": "none"})), segment(&claims));
    assert_invalid_token(create(&app, &unsigned, "None").await, &unsigned).await;
    assert_eq!(
        create(&app, TOKEN, "Static").await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_failing_or_broken_jwks_is_no_keys_then_recovers() {
    let key = TestKey::rsa("rsa-1");
    let issuer = TestIssuer::start(vec![key.clone()]).await;
    let app = app_trusting(&issuer.url).await;
    let token = key.sign(&issuer.claims("alice"));
    let unsupported = json!({"keys": [
        {"kty": "oct", "kid": "rsa-1", "k": "c2VjcmV0"},
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {"kty": "PQ", "kid": "future"},
    ]});
    for jwks in [
        Jwks::Down,
        Jwks::Body("not json {".into()),
        Jwks::Body(r#"{"no_keys": true}"#.into()),
        Jwks::Body(unsupported.to_string()),
    ] {
        issuer.set_jwks(jwks);
        // Past the pause between failed fetches, so each document is fetched.
        let before = issuer.jwks_hits();
        let response = loop {
            let response = create(&app, &token, "Broken").await;
            if issuer.jwks_hits() > before {
                break response;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        };
        assert!(response.headers().contains_key("retry-after"));
        problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    }
    // The issuer is fixed: the next attempt after the pause gets the keys.
    issuer.set_jwks(Jwks::Keys);
    let status = loop {
        let status = create(&app, &token, "Fixed").await.status();
        if status != StatusCode::SERVICE_UNAVAILABLE {
            break status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn authorization_headers_that_are_not_credentials_are_401() {
    let key = TestKey::rsa("rsa-1");
    let issuer = TestIssuer::start(vec![key.clone()]).await;
    let app = app_trusting(&issuer.url).await;
    let oversized = format!("Bearer {}", "a".repeat(9 * 1024));
    let jwt_oversized = format!(
        "Bearer {}.{}.x",
        segment(&json!({"alg": "RS256"})),
        "b".repeat(9000)
    );
    let values: Vec<HeaderValue> = vec![
        HeaderValue::from_str(&oversized).unwrap(),
        HeaderValue::from_str(&jwt_oversized).unwrap(),
        HeaderValue::from_bytes(b"Bearer \xff\xfe\xfd").unwrap(),
        HeaderValue::from_bytes("Bearer tökén".as_bytes()).unwrap(),
        HeaderValue::from_static("Bearer"),
        HeaderValue::from_static("Bearer "),
        HeaderValue::from_static("Bearer a b c"),
        HeaderValue::from_static("Basic dGVzdC10b2tlbg=="),
        HeaderValue::from_static("garbage"),
    ];
    for value in values {
        let response = app
            .request(Method::POST, "/books")
            .header("Authorization", value.clone())
            .json(&book("Header"))
            .send()
            .await
            .unwrap();
        let challenge = header(&response, "www-authenticate");
        assert!(challenge.starts_with("Bearer"), "{value:?}: {challenge}");
        let body = problem(response, StatusCode::UNAUTHORIZED).await;
        assert!(!body.to_string().contains("aaaa") && !body.to_string().contains("bbbb"));
    }
    // Two Authorization headers, one of them valid: ambiguous, so refused.
    let response = app
        .request(Method::POST, "/books")
        .header("Authorization", format!("Bearer {TOKEN}"))
        .header("Authorization", "Bearer other")
        .json(&book("Two"))
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::UNAUTHORIZED).await;
    assert_eq!(issuer.jwks_hits(), 0);
}

#[tokio::test]
async fn reads_never_look_at_tokens() {
    let key = TestKey::rsa("rsa-1");
    let issuer = TestIssuer::start(vec![key.clone()]).await;
    let app = app_trusting(&issuer.url).await;
    app.seed_tutorial().await;
    let expired = key.sign(&issuer.claims_with("alice", json!({"exp": now() - 60})));
    for value in [
        HeaderValue::from_str(&format!("Bearer {expired}")).unwrap(),
        HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        HeaderValue::from_str(&"x".repeat(10_000)).unwrap(),
    ] {
        for path in [
            "/authors/William%20Shakespeare/books",
            "/books/William%20Shakespeare/Hamlet",
            "/health/live",
        ] {
            let response = app
                .request(Method::GET, path)
                .header("Authorization", value.clone())
                .send()
                .await
                .unwrap();
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
        }
    }
    assert_eq!((issuer.discovery_hits(), issuer.jwks_hits()), (0, 0));
}

#[tokio::test]
async fn a_refreshed_token_of_the_same_subject_gets_the_replay() {
    let key = TestKey::rsa("rsa-1");
    let issuer = TestIssuer::start(vec![key.clone()]).await;
    let app = app_trusting(&issuer.url).await;
    let keyed = |token: String| {
        app.request(Method::POST, "/books")
            .bearer_auth(token)
            .header("Idempotency-Key", "order-42")
            .json(&book("Replayed"))
            .send()
    };
    let first = key.sign(&issuer.claims("alice"));
    let response = keyed(first).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let first_body = response.text().await.unwrap();

    // A refreshed access token: another jti, iat and exp, the same iss and sub.
    let refreshed = key.sign(&issuer.claims_with("alice", json!({"exp": now() + 3600})));
    let response = keyed(refreshed).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    assert_eq!(response.text().await.unwrap(), first_body);

    // Another subject's key of the same name is its own: a new create, which conflicts.
    let bob = key.sign(&issuer.claims("bob"));
    let response = keyed(bob).await.unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.headers().get("idempotent-replayed").is_none());
}

#[tokio::test]
async fn browsers_may_send_tokens_cross_origin_and_read_the_challenge() {
    let key = TestKey::rsa("rsa-1");
    let issuer = TestIssuer::start(vec![key.clone()]).await;
    let app = app_trusting(&issuer.url).await;
    let preflight = app
        .preflight(
            "POST",
            "/books",
            "authorization,content-type,idempotency-key",
        )
        .await;
    assert!(preflight.status().is_success());
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");

    let expired = key.sign(&issuer.claims_with("alice", json!({"exp": now() - 60})));
    let response = app
        .request(Method::POST, "/books")
        .header("Origin", ORIGIN)
        .bearer_auth(&expired)
        .json(&book("Cors"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], ORIGIN);
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for header in [
        "www-authenticate",
        "retry-after",
        "ratelimit",
        "ratelimit-policy",
    ] {
        assert!(
            exposed.split(',').any(|h| h.trim() == header),
            "{header} in {exposed}"
        );
    }
    assert_invalid_token(response, &expired).await;
}
