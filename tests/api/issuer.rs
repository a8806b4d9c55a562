//! A test OpenID issuer: an axum server serving `/.well-known/openid-configuration` and a JWKS of
//! keys generated in the test, and minting access tokens signed with them. Its JWKS can be made
//! to rotate, break or fail, and it counts how often the service fetched it.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use aws_lc_rs::{
    encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der},
    rand::SystemRandom,
    rsa::{KeyPair, KeySize},
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _},
};
use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header, jwk::Jwk};
use serde_json::{Value, json};

/// The audience every test issuer's tokens are for (a resource indicator, as `oidc-provider`
/// issues them).
pub(crate) const AUDIENCE: &str = "https://api.bookstore.test";
/// The app client of the tokens (a Cognito access token's `client_id`).
pub(crate) const CLIENT_ID: &str = "storefront";
/// The scope that lets a token write.
pub(crate) const WRITE_SCOPE: &str = "bookstore/write";

/// A signing key of the issuer.
#[derive(Clone)]
pub(crate) struct TestKey {
    /// Its `kid`.
    pub kid: String,
    /// RS256 or ES256.
    pub alg: Algorithm,
    encoding: EncodingKey,
    /// Its public JWK.
    pub jwk: Value,
    /// For an RSA key, its public key as PEM: what a key-confusion attacker would HMAC with.
    pub public_pem: Option<String>,
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

impl TestKey {
    /// A new RSA 2048 key for RS256.
    pub(crate) fn rsa(kid: &str) -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let private: Pkcs8V1Der = pair.as_der().unwrap();
        let encoding =
            EncodingKey::from_rsa_pem(pem("PRIVATE KEY", private.as_ref()).as_bytes()).unwrap();
        let public: PublicKeyX509Der = pair.public_key().as_der().unwrap();
        Self::with_jwk(
            kid,
            Algorithm::RS256,
            encoding,
            Some(pem("PUBLIC KEY", public.as_ref())),
        )
    }

    /// A new P-256 key for ES256.
    pub(crate) fn ec(kid: &str) -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let encoding = EncodingKey::from_ec_der(pkcs8.as_ref());
        Self::with_jwk(kid, Algorithm::ES256, encoding, None)
    }

    fn with_jwk(
        kid: &str,
        alg: Algorithm,
        encoding: EncodingKey,
        public_pem: Option<String>,
    ) -> Self {
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            kid: kid.to_owned(),
            alg,
            jwk: serde_json::to_value(&jwk).unwrap(),
            encoding,
            public_pem,
        }
    }

    /// Signs `claims` with this key, its `kid` in the header.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        header.typ = Some("at+jwt".into());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// What the JWKS endpoint answers.
#[derive(Clone)]
pub(crate) enum Jwks {
    /// The published keys.
    Keys,
    /// This body, as `application/json`.
    Body(String),
    /// A 503.
    Down,
}

struct IssuerState {
    url: String,
    published: Mutex<Vec<TestKey>>,
    jwks: Mutex<Jwks>,
    discovery_hits: AtomicUsize,
    jwks_hits: AtomicUsize,
}

/// A running test issuer.
#[derive(Clone)]
pub(crate) struct TestIssuer {
    /// Its URL, the `iss` of its tokens.
    pub url: String,
    state: Arc<IssuerState>,
}

/// Seconds since the epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl TestIssuer {
    /// Starts an issuer publishing `keys`.
    pub(crate) async fn start(keys: Vec<TestKey>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(IssuerState {
            url: url.clone(),
            published: Mutex::new(keys),
            jwks: Mutex::new(Jwks::Keys),
            discovery_hits: AtomicUsize::new(0),
            jwks_hits: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, state }
    }

    /// Publishes exactly `keys` from now on (a rotation).
    pub(crate) fn publish(&self, keys: Vec<TestKey>) {
        *self.state.published.lock().unwrap() = keys;
    }

    /// Changes what the JWKS endpoint answers.
    pub(crate) fn set_jwks(&self, jwks: Jwks) {
        *self.state.jwks.lock().unwrap() = jwks;
    }

    /// How many times the JWKS was fetched.
    pub(crate) fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    /// How many times the discovery document was fetched.
    pub(crate) fn discovery_hits(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }

    /// The claims of a valid access token for `sub`, shaped as `oidc-provider` issues them with
    /// a resource indicator: `aud` the resource, `client_id`, and the write scope among others.
    pub(crate) fn claims(&self, sub: &str) -> Value {
        let now = now();
        json!({
            "iss": self.url, "sub": sub, "aud": AUDIENCE, "client_id": CLIENT_ID,
            "scope": format!("openid profile {WRITE_SCOPE}"),
            "iat": now, "exp": now + 300, "jti": uuid::Uuid::new_v4().to_string(),
        })
    }

    /// `claims(sub)` with `changes` applied: a `null` removes the claim.
    pub(crate) fn claims_with(&self, sub: &str, changes: Value) -> Value {
        let mut claims = self.claims(sub);
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        claims
    }
}

async fn discovery(State(state): State<Arc<IssuerState>>) -> Json<Value> {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    Json(json!({
        "issuer": state.url,
        "jwks_uri": format!("{}/jwks", state.url),
        "authorization_endpoint": format!("{}/auth", state.url),
        "token_endpoint": format!("{}/token", state.url),
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    }))
}

async fn jwks(State(state): State<Arc<IssuerState>>) -> axum::response::Response {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let mode = state.jwks.lock().unwrap().clone();
    match mode {
        Jwks::Keys => {
            let keys: Vec<Value> = state
                .published
                .lock()
                .unwrap()
                .iter()
                .map(|k| k.jwk.clone())
                .collect();
            Json(json!({ "keys": keys })).into_response()
        }
        Jwks::Body(body) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Jwks::Down => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// Encodes JSON as one unpadded base64url JWT segment.
pub(crate) fn segment(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}
