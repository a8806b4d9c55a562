//! `Idempotency-Key` on `POST /books` and `POST /books/batch`: the header, the caller's scope,
//! the request fingerprint, and answers recorded and replayed (README, "Idempotency-Key").
//!
//! Other routes do not extract it, so there the header is ignored.

use std::collections::BTreeMap;

use axum::{
    extract::{FromRequest, Request},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use utoipa::{
    IntoParams, IntoResponses, PartialSchema, ToSchema,
    openapi::{
        self, RefOr, Schema,
        schema::{ObjectBuilder, Type},
    },
};

use super::{
    dto::{BatchResponse, BookResponse},
    extract::{JsonBody, check_content_type, parse_json, read_body},
    headers::{etag, location},
    problem::{ApiError, Problem},
    responses::{AuthErrors, BackendErrors, BodyErrors},
};
use crate::{
    auth_policy::{Principal, sha256_hex},
    domain::{Book, NewBook},
    repository::{BookRepository, KeyedOutcome, KeyedRequest, RecordedAnswer, StoreError},
};

/// The request header.
pub(super) const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// `true` on an answer replayed from a record rather than produced by this request.
pub(super) const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// What a key may be: 1 to 255 printable ASCII characters.
pub(super) const KEY_PATTERN: &str = r"^[\x21-\x7E]{1,255}$";
/// Most books in a keyed batch: the repository's limit (the record is one more item of the
/// transaction).
pub(super) const MAX_KEYED_BATCH: usize = crate::repository::MAX_KEYED_BATCH_BOOKS;

/// A JSON body (as [`JsonBody`] reads it) and, when the request has an `Idempotency-Key`, the
/// key scoped to the caller with a fingerprint of the request.
#[derive(Debug)]
pub(super) struct Keyed<T> {
    /// The key, scoped to the caller's token; `None` without the header.
    pub key: Option<KeyedRequest>,
    /// The body.
    pub body: T,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Keyed<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Some(client_key) = client_key(request.headers())? else {
            let JsonBody(body) = JsonBody::from_request(request, state).await?;
            return Ok(Self { key: None, body });
        };
        let key = sha256_hex(&[
            caller_scope(&request).as_bytes(),
            b"\n",
            client_key.as_bytes(),
        ]);
        // The route is part of the fingerprint: one key sent to both routes is a reused key.
        let route = format!("{} {}", request.method(), request.uri().path());
        // As `JsonBody` does, in its order (415, then 413/400, then 422), with the bytes kept
        // in between for the fingerprint.
        check_content_type(
            request.headers().get(header::CONTENT_TYPE),
            "application/json",
        )?;
        let bytes = read_body(request, state).await?;
        let fingerprint = sha256_hex(&[route.as_bytes(), b"\n", &bytes]);
        let body = parse_json(&bytes)?;
        Ok(Self {
            key: Some(KeyedRequest { key, fingerprint }),
            body,
        })
    }
}

/// The client's key, if it sent one; 400 unless it is exactly one well-formed value.
fn client_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let malformed = || {
        ApiError::BadRequest(
            "Idempotency-Key must be one value of 1 to 255 printable ASCII characters (0x21-0x7E)"
                .into(),
        )
    };
    if values.next().is_some() {
        return Err(malformed());
    }
    let bytes = value.as_bytes();
    if !(1..=255).contains(&bytes.len()) || !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(malformed());
    }
    value.to_str().map(Some).map_err(|_| malformed())
}

/// Whose keys these are: the principal the auth middleware found, so keys of different
/// callers never meet while every token of one OIDC subject shares them. A static token's scope
/// is the hash of the token, as before principals existed, so no secret is stored and older
/// records still replay. Without a principal (only when writes are open) all callers share one.
fn caller_scope(request: &Request) -> String {
    request
        .extensions()
        .get::<Principal>()
        .map_or_else(|| Principal::Anonymous.scope(), Principal::scope)
}

/// `POST /books` under a key: the created book's answer, written with its record or replayed.
pub(super) async fn create_book(
    repo: &BookRepository,
    book: &NewBook,
    key: &KeyedRequest,
) -> Result<Response, StoreError> {
    let respond = |stored: &Book| {
        record(
            StatusCode::CREATED,
            &BookResponse::from(stored.clone()),
            [
                (header::ETAG, etag(&stored.revision())),
                (header::LOCATION, location(&book.key)),
            ],
        )
    };
    Ok(answer(repo.create_keyed(book, key, respond).await?))
}

/// `POST /books/batch` under a key: at most [`MAX_KEYED_BATCH`] books.
pub(super) async fn batch_put(
    repo: &BookRepository,
    books: &[NewBook],
    key: &KeyedRequest,
) -> Result<Response, ApiError> {
    if books.len() > MAX_KEYED_BATCH {
        return Err(ApiError::invalid(
            "books",
            format!(
                "a batch with an Idempotency-Key holds 1 to {MAX_KEYED_BATCH} books, got {}",
                books.len()
            ),
        ));
    }
    let respond = |outcome: &_| record(StatusCode::OK, &BatchResponse::from(*outcome), []);
    Ok(answer(repo.put_batch_keyed(books, key, respond).await?))
}

/// An answer as it is recorded: status, the headers that are part of it (lowercase names) and
/// the JSON body as sent. The repository keeps it as an opaque string (its JSON encoding).
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

/// Records an answer: status, JSON body and the headers that are part of it.
fn record<const N: usize>(
    status: StatusCode,
    body: &impl Serialize,
    headers: [(HeaderName, HeaderValue); N],
) -> RecordedAnswer {
    let mut recorded = BTreeMap::from([(
        header::CONTENT_TYPE.to_string(),
        "application/json".to_owned(),
    )]);
    for (name, value) in headers {
        let value = value.to_str().expect("our headers are visible ASCII");
        recorded.insert(name.to_string(), value.to_owned());
    }
    let answer = Answer {
        status: status.as_u16(),
        headers: recorded,
        body: serde_json::to_string(body).expect("a response body always serializes"),
    };
    RecordedAnswer(serde_json::to_string(&answer).expect("an answer always serializes"))
}

/// The response for a keyed write. The first answer is sent from the same record a repeat is
/// replayed from, so the two are identical but for `Idempotent-Replayed`.
fn answer(outcome: KeyedOutcome) -> Response {
    let (recorded, replayed) = match outcome {
        KeyedOutcome::Written(recorded) => (recorded, false),
        KeyedOutcome::Replayed(recorded) => (recorded, true),
    };
    let Ok(stored) = serde_json::from_str::<Answer>(&recorded.0) else {
        // Only `record` writes answers, so this is a record changed by hand or by another program.
        tracing::error!("an Idempotency-Key record holds an answer that is not one");
        return ApiError::Internal(None).into_response();
    };
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    for (name, value) in stored.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            headers.insert(name, value);
        }
    }
    if replayed {
        headers.insert(REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

/// The `Idempotency-Key` header, for the OpenAPI document.
pub(super) struct IdempotencyKeyHeader;

impl PartialSchema for IdempotencyKeyHeader {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(255))
            .pattern(Some(KEY_PATTERN))
            .examples(["4f1c2e8a-9d7b-4c1e-8f3a-2b6d5e7c9a10"])
            .into()
    }
}

impl ToSchema for IdempotencyKeyHeader {}

/// The `Idempotency-Key` parameter of the routes that take it, for the OpenAPI document.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // utoipa reads its shape; `Keyed` reads the header itself.
pub(super) struct IdempotencyKeyParam {
    /// Makes a retry safe: 1 to 255 printable ASCII characters (anything else is a 400), scoped to the bearer token, remembered for 24 hours after a success (other routes ignore it).
    #[param(rename = "Idempotency-Key", value_type = Option<IdempotencyKeyHeader>, inline)]
    key: Option<String>,
}

/// The 422 of a route that takes `Idempotency-Key`, which replaces `BodyErrors`' 422. It
/// describes a response; it is never constructed.
#[derive(IntoResponses)]
#[allow(dead_code)] // utoipa reads its shape; the answer itself is an `ApiError`.
enum KeyedInvalid {
    /// Invalid fields (a keyed batch holds at most 99 books), or an Idempotency-Key used in the last 24 hours for a different body or route; `errors` names every invalid field.
    #[response(status = 422, content_type = "application/problem+json", example = json!({
        "type": "about:blank", "title": "Unprocessable Entity", "status": 422, "detail": "the request has invalid fields", "instance": "/books",
        "errors": [{"field": "Idempotency-Key", "message": "this key was used in the last 24 hours for a request with a different body"}]
    }))]
    Invalid(Problem),
}

/// Every error a route that takes `Idempotency-Key` can answer besides its own 409: the body's
/// (with [`KeyedInvalid`]'s 422), the token's and DynamoDB's. One set, because both keyed routes
/// list the same four.
pub(super) struct KeyedWriteErrors;

impl IntoResponses for KeyedWriteErrors {
    fn responses() -> BTreeMap<String, RefOr<openapi::response::Response>> {
        let mut all = BodyErrors::responses();
        // Later sets replace earlier ones' entries for the same status, as utoipa's own
        // `responses(A, B)` list does.
        all.extend(KeyedInvalid::responses());
        all.extend(AuthErrors::responses());
        all.extend(BackendErrors::responses());
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_key(value: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_bytes(value).unwrap());
        headers
    }

    #[test]
    fn a_recorded_answer_is_sent_and_replayed_as_it_was_recorded() {
        let recorded = record(
            StatusCode::CREATED,
            &serde_json::json!({"title": "Hamlet"}),
            [(header::ETAG, HeaderValue::from_static("\"1.x\""))],
        );
        for replayed in [false, true] {
            let outcome = if replayed {
                KeyedOutcome::Replayed(recorded.clone())
            } else {
                KeyedOutcome::Written(recorded.clone())
            };
            let response = answer(outcome);
            assert_eq!(response.status(), StatusCode::CREATED);
            assert_eq!(response.headers()[header::ETAG], "\"1.x\"");
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            assert_eq!(response.headers().contains_key(REPLAYED), replayed);
        }
    }

    #[test]
    fn a_record_that_is_not_an_answer_is_a_500_not_a_panic() {
        let response = answer(KeyedOutcome::Replayed(RecordedAnswer("{".into())));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn the_pattern_accepts_exactly_what_the_extractor_does() {
        let pattern = regex::Regex::new(KEY_PATTERN).unwrap();
        let long = "k".repeat(255);
        let too_long = "k".repeat(256);
        for (key, ok) in [
            ("a", true),
            ("~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}", true),
            (long.as_str(), true),
            ("", false),
            (too_long.as_str(), false),
            ("a b", false),
            ("a\tb", false),
            ("ключ", false),
        ] {
            let extracted = client_key(&with_key(key.as_bytes())).is_ok();
            assert_eq!(extracted, ok, "extractor on {key:?}");
            assert_eq!(pattern.is_match(key), ok, "pattern on {key:?}");
        }
        assert_eq!(client_key(&HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn two_keys_are_refused() {
        let mut headers = with_key(b"a");
        headers.append(IDEMPOTENCY_KEY, HeaderValue::from_static("a"));
        assert!(client_key(&headers).is_err());
    }

    #[test]
    fn a_static_token_keeps_the_scope_it_always_had() {
        let scope = |principal: Option<Principal>| {
            let mut request = Request::new(axum::body::Body::empty());
            if let Some(principal) = principal {
                request.extensions_mut().insert(principal);
            }
            caller_scope(&request)
        };
        assert_eq!(
            scope(Some(Principal::static_token("alpha"))),
            sha256_hex(&[b"bearer\n", b"alpha"])
        );
        assert_eq!(scope(None), "anonymous");
    }
}
