//! `PATCH /books/{author}/{title}` with `application/merge-patch+json` (RFC 7396): the category
//! and any formats of a book in one write.

use std::collections::BTreeMap;

use axum::{
    extract::{FromRequest, Request, State},
    http::{StatusCode, header},
    response::Response,
};
use serde::{Deserialize, Deserializer, de::Error as _};
use utoipa::{
    IntoResponses, PartialSchema, ToSchema,
    openapi::{
        RefOr, Schema,
        schema::{ObjectBuilder, OneOfBuilder, Type},
    },
};

use super::{
    AppState,
    answers::{book_response, for_book},
    conditional::BookWrite,
    dto::BookResponse,
    extract::{BookPathParams, check_content_type, read_json},
    problem::{ApiError, Problem},
    responses::{AuthErrors, BackendErrors, BodyErrors},
    schemas::{EntityTags, FormatId, FormatName, Name},
};
use crate::domain::{BookPatch, MAX_FORMATS};

/// The media type of RFC 7396.
const MERGE_PATCH: &str = "application/merge-patch+json";

/// Members of a book that a patch may not touch: the key is the path, the rest the store's.
const READ_ONLY: &[&str] = &["author", "title", "version", "created_at", "updated_at"];

/// Body of `PATCH /books/{author}/{title}`: only the members to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"category": "Legal thriller", "formats": {"Audiobook": "8WE3KPTP", "Paperback": null}}))]
pub(super) struct MergePatchRequest {
    /// The new category; absent keeps it. `null` or `""` is refused: a book always has one.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = Name)]
    pub category: Option<String>,
    /// A name mapped to an id sets that format, mapped to `null` removes it; names not listed are kept.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = FormatsPatch)]
    pub formats: Option<BTreeMap<String, Option<String>>>,
}

/// RFC 7396 reads `null` as "remove the member", which neither member allows.
fn not_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    match Option::<T>::deserialize(deserializer)? {
        Some(value) => Ok(Some(value)),
        None => Err(D::Error::custom("must not be null: a book always has it")),
    }
}

/// The `formats` member of a merge patch: format name to id, or to `null` to remove it.
pub(super) struct FormatsPatch;

impl PartialSchema for FormatsPatch {
    fn schema() -> RefOr<Schema> {
        let id_or_null = OneOfBuilder::new()
            .item(FormatId::schema())
            .item(ObjectBuilder::new().schema_type(Type::Null));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .max_properties(Some(2 * MAX_FORMATS))
            .property_names(Some(match FormatName::schema() {
                RefOr::T(schema) => schema,
                RefOr::Ref(_) => unreachable!("FormatName is an inline schema"),
            }))
            .additional_properties(Some(Schema::OneOf(id_or_null.build())))
            .description(Some(
                "Format name to format id (set) or to null (remove); at most 32 of each",
            ))
            .examples([serde_json::json!({"Audiobook": "8WE3KPTP", "Paperback": null})])
            .into()
    }
}

impl ToSchema for FormatsPatch {}

/// A merge-patch body: `JsonBody`'s rules, but only `application/merge-patch+json` is accepted
/// (plain JSON would read `null` as a value, not as "remove"), and the read-only members of a
/// book are named as such.
#[derive(Debug)]
pub(super) struct MergePatchBody(pub MergePatchRequest);

impl<S: Send + Sync> FromRequest<S> for MergePatchBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        check_content_type(request.headers().get(header::CONTENT_TYPE), MERGE_PATCH)?;
        match read_json(request, state).await {
            Ok(value) => Ok(MergePatchBody(value)),
            Err(ApiError::Validation(mut errors)) => {
                for e in &mut errors {
                    if READ_ONLY.contains(&e.field.as_str()) {
                        e.message = "cannot be changed by a merge patch".into();
                    }
                }
                Err(ApiError::Validation(errors))
            }
            Err(other) => Err(other),
        }
    }
}

/// What a merge patch answers besides the errors every body route shares.
#[derive(IntoResponses)]
#[allow(dead_code)] // Describes the responses in the OpenAPI document; never constructed.
pub(super) enum MergePatchResponses {
    /// The book as stored, `version` bumped by one.
    #[response(status = 200, content_type = "application/json",
        headers(("ETag" = String, description = "Strong, opaque entity tag of the stored book")))]
    Patched(BookResponse),
    /// No such book.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// The precondition failed; `current` is the stored book and `ETag` its tag.
    #[response(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Problem),
    /// The body is not `application/merge-patch+json` (or has no Content-Type).
    #[response(status = 415, content_type = "application/problem+json",
        example = json!({"type": "about:blank", "title": "Unsupported Media Type", "status": 415, "detail": "the body must be application/merge-patch+json, not 'application/json'", "instance": "/books/John%20Grisham/The%20Rainmaker"}))]
    NotMergePatch(Problem),
}

/// Change a book's category and formats in one write (JSON Merge Patch, RFC 7396).
///
/// Members absent from the patch are unchanged, and so are formats it does not name. The 32-format
/// cap holds atomically; removals count toward nothing. A patch that changes nothing (`{}`, or only
/// `"formats": {}`) is a 422, since every write bumps `version`. `author`, `title`, `version`,
/// `created_at`, `updated_at` and unknown members are a 422 naming the member, as is `null` for
/// `category` or `formats`. Only `application/merge-patch+json` is accepted (415 otherwise).
#[utoipa::path(
    patch, path = "/books/{author}/{title}", operation_id = "mergePatchBook", tag = "books",
    params(
        BookPathParams,
        ("If-Match" = inline(Option<EntityTags>), Header, description = "Write only if the stored ETag is listed (`*`: only if it exists)"),
    ),
    request_body(content = MergePatchRequest, content_type = "application/merge-patch+json"),
    security(("bearer" = [])),
    // After BodyErrors, so that its 415 replaces the one that names application/json.
    responses(BodyErrors, MergePatchResponses, AuthErrors, BackendErrors)
)]
pub(super) async fn merge_patch_book(
    State(state): State<AppState>,
    BookWrite { key, expectation }: BookWrite,
    MergePatchBody(body): MergePatchBody,
) -> Result<Response, ApiError> {
    let patch = BookPatch::parse(body.category, body.formats).map_err(ApiError::Validation)?;
    let book = state
        .repo
        .merge_patch(&key, &patch, &expectation)
        .await
        .map_err(for_book(&key))?;
    Ok(book_response(StatusCode::OK, book))
}
