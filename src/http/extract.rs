//! Extractors that turn every rejection into the same problem+json as the handlers' errors.

use std::error::Error as _;

use axum::{
    Json,
    body::Bytes,
    extract::{
        FromRequest, FromRequestParts, Path, Query, Request,
        rejection::{
            BytesRejection, JsonRejection, JsonSyntaxError, PathRejection, QueryRejection,
        },
    },
    http::{StatusCode, header, request::Parts},
};
use serde::de::DeserializeOwned;

use super::{problem::ApiError, schemas::Name};
use crate::domain::{BookKey, FieldError};

/// Largest accepted request body.
pub(super) const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body: 415 without `application/json`, 413 when too large, 400 when malformed, and 422
/// (naming the field) when well-formed but of the wrong shape, including unknown fields.
#[derive(Debug)]
pub(super) struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Not `Json::from_request`: its media type check also takes `application/*+json` (a merge
        // patch, say) and refuses parameters `mime` cannot parse, which this one ignores.
        check_content_type(
            request.headers().get(header::CONTENT_TYPE),
            "application/json",
        )?;
        read_json(request, state).await.map(JsonBody)
    }
}

/// Reads a JSON body whose media type the caller has checked: 413, 400 or 422 as for `JsonBody`.
pub(super) async fn read_json<S, T>(request: Request, state: &S) -> Result<T, ApiError>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    parse_json(&read_body(request, state).await?)
}

/// The body's bytes, within [`MAX_BODY_BYTES`] (413 above it, 400 if it cannot be read).
pub(super) async fn read_body<S: Send + Sync>(
    request: Request,
    state: &S,
) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(body_error)
}

/// Parses JSON bytes: 400 when malformed, 422 (naming the field) when of the wrong shape.
///
/// A well-formed body of the right shape, the usual case, is read in one pass, as is one whose
/// first fault is its syntax. A shape error seen mid-stream is not the last word: a syntax error
/// further on still makes the body a 400, and an object may repeat a member (the last one
/// counts), which a typed parse refuses. Only then is the body read as a document, then as `T`.
pub(super) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match Json::from_bytes(bytes) {
        Ok(Json(value)) => Ok(value),
        Err(JsonRejection::JsonSyntaxError(rejection)) => Err(malformed(&rejection)),
        Err(_) => {
            let document: serde_json::Value = serde_json::from_slice(bytes)
                .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
            serde_path_to_error::deserialize(document)
                .map_err(|e| ApiError::Validation(vec![shape_error(&e)]))
        }
    }
}

/// The 400 of a syntax error, in serde's words without axum's preamble.
fn malformed(rejection: &JsonSyntaxError) -> ApiError {
    let mut source = rejection.source();
    while let Some(error) = source {
        if let Some(error) = error.downcast_ref::<serde_path_to_error::Error<serde_json::Error>>() {
            return ApiError::BadRequest(format!("malformed JSON: {}", error.inner()));
        }
        if let Some(error) = error.downcast_ref::<serde_json::Error>() {
            return ApiError::BadRequest(format!("malformed JSON: {error}"));
        }
        source = error.source();
    }
    ApiError::BadRequest(format!("malformed JSON: {}", rejection.body_text()))
}

fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(MAX_BODY_BYTES)
    } else {
        ApiError::BadRequest("the request body could not be read".into())
    }
}

/// Refuses (415) a body whose media type is not `expected`; parameters such as `charset` are ignored.
pub(super) fn check_content_type(
    value: Option<&header::HeaderValue>,
    expected: &str,
) -> Result<(), ApiError> {
    let Some(value) = value else {
        return Err(ApiError::UnsupportedMediaType(format!(
            "the body needs Content-Type: {expected}"
        )));
    };
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    if essence.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "the body must be {expected}, not '{}'",
            value.to_str().unwrap_or("(not text)")
        )))
    }
}

/// Names the field a serde error is about. The path already ends at an unknown field; a missing
/// field is named after its parent, and serde says which only in its message.
fn shape_error(e: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let message = e.inner().to_string();
    let path = match e.path().to_string() {
        root if root == "." => String::new(),
        path => path,
    };
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let field = match (missing, path.is_empty()) {
        (Some(name), true) => name.to_owned(),
        (Some(name), false) => format!("{path}.{name}"),
        (None, true) => "body".to_owned(),
        (None, false) => path,
    };
    // Read from a document, not from text, the error carries no line and column.
    FieldError::new(field, message)
}

/// Path parameters; a segment that is not valid UTF-8 once decoded is a 400.
#[derive(Debug, FromRequestParts)]
#[from_request(via(Path), rejection(ApiError))]
pub(super) struct ApiPath<T>(pub T);

/// Query parameters; anything that does not parse is a 400.
#[derive(Debug, FromRequestParts)]
#[from_request(via(Query), rejection(ApiError))]
pub(super) struct ApiQuery<T>(pub T);

// axum's text says what is wrong with the input; the prefix says which input it was.
impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::BadRequest(format!("bad path: {}", rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::BadRequest(format!("bad query string: {}", rejection.body_text()))
    }
}

/// The `{author}/{title}` of a book route, validated (422 naming `author` or `title`).
#[derive(Debug)]
pub(super) struct BookPath(pub BookKey);

/// The path parameters of every book route, as they arrive and as the OpenAPI document lists them.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct BookPathParams {
    /// The author, percent-encoded.
    #[param(value_type = Name, example = "John Grisham")]
    author: String,
    /// The title, percent-encoded (`Yes%2FNo` for `Yes/No`).
    #[param(value_type = Name, example = "The Rainmaker")]
    title: String,
}

impl<S: Send + Sync> FromRequestParts<S> for BookPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ApiPath(p) = ApiPath::<BookPathParams>::from_request_parts(parts, state).await?;
        BookKey::parse(p.author, p.title)
            .map(BookPath)
            .map_err(ApiError::Validation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // A shape to parse into; the tests look at its errors, not its fields.
    struct Body {
        category: String,
        books: Option<Vec<Inner>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // As `Body`.
    struct Inner {
        title: String,
    }

    fn field_of(json: &str) -> String {
        match parse_json::<Body>(json.as_bytes()) {
            Err(ApiError::Validation(errors)) => errors[0].field.clone(),
            other => panic!("a 422 expected, got {other:?}"),
        }
    }

    #[test]
    fn names_the_offending_field() {
        assert_eq!(field_of(r#"{"category": "x", "colour": 1}"#), "colour");
        assert_eq!(field_of(r#"{}"#), "category");
        assert_eq!(field_of(r#"{"category": 5}"#), "category");
        assert_eq!(
            field_of(r#"{"category": "x", "books": [{"title": "a"}, {"title": 1}]}"#),
            "books[1].title"
        );
        assert_eq!(
            field_of(r#"{"category": "x", "books": [{"title": "a", "x": 1}]}"#),
            "books[0].x"
        );
        assert_eq!(field_of(r#"[]"#), "body");
    }

    #[test]
    fn syntax_errors_read_as_the_two_pass_parser_said() {
        for json in [
            r#"{"category": "#,
            r#"{"category":1e400}"#,
            r#"{"category":"x",}"#,
            r#"{"category":"x"} 1"#,
            "nul",
            "",
        ] {
            let before = serde_json::from_str::<serde_json::Value>(json).unwrap_err();
            match parse_json::<Body>(json.as_bytes()) {
                Err(ApiError::BadRequest(detail)) => {
                    assert_eq!(detail, format!("malformed JSON: {before}"), "{json}")
                }
                other => panic!("a 400 expected for {json:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn syntax_beats_shape_and_a_repeated_member_is_the_last() {
        let deep = "[".repeat(200);
        for json in [r#"{"colour": 1, "#, deep.as_str()] {
            assert!(
                matches!(
                    parse_json::<Body>(json.as_bytes()),
                    Err(ApiError::BadRequest(_))
                ),
                "{json}"
            );
        }
        let body: Body = parse_json(br#"{"category": "a", "category": "b"}"#).unwrap();
        assert_eq!(body.category, "b");
    }

    #[test]
    fn accepts_json_with_parameters_only() {
        let ok = |v: &'static str| {
            check_content_type(
                Some(&header::HeaderValue::from_static(v)),
                "application/json",
            )
            .is_ok()
        };
        assert!(ok("application/json"));
        assert!(ok("application/json; charset=utf-8"));
        assert!(ok("Application/JSON"));
        assert!(!ok("text/plain"));
        assert!(!ok("application/jsonx"));
        assert!(check_content_type(None, "application/json").is_err());
    }
}
