//! The OpenAPI document (generated from the routes) and the interactive docs page.

use std::sync::LazyLock;

use axum::{Router, http::header};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        RefOr, Schema,
        header::Header,
        path::Operation,
        schema::{ObjectBuilder, SchemaType, Type},
        security::{
            HttpAuthScheme, HttpBuilder, OpenIdConnect, SecurityRequirement, SecurityScheme,
        },
    },
};
use utoipa_axum::{router::OpenApiRouter, routes};
use utoipa_swagger_ui::SwaggerUi;

use super::{AppState, dto, health, merge_patch, problem, schemas};
use crate::auth_policy::DEFAULT_WRITE_SCOPE;

/// What the API says of itself beyond its routes, which [`openapi`] adds from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Bookstore API",
        description = "The catalogue of an online bookstore, stored in the Amazon DynamoDB `Books` table of the AWS tutorial \
                       \"Create and Manage a Nonrelational Database with Amazon DynamoDB\". Reads are public; writes need a bearer token: a static token, or an OpenID Connect access token \
                       with the write scope. Writes are limited per caller (429 with `Retry-After` and the `RateLimit-Policy` and \
                       `RateLimit` headers of draft-ietf-httpapi-ratelimit-headers, which allowed writes carry too). \
                       `Idempotency-Key` is honoured by `POST /books` and `POST /books/batch` only; every other route ignores it.",
        license(name = "MIT", identifier = "MIT"),
    ),
    // Only the routes Swagger UI serves, which have no handler of ours to document.
    paths(docs_redirect_doc, docs_page_doc),
    components(schemas(
        dto::BookResponse, dto::PutBookRequest, dto::NewBookRequest, dto::BatchRequest, dto::BatchResponse,
        dto::FormatPatchRequest, dto::FormatIdRequest, dto::PageResponse, dto::CatalogueResponse, dto::NameCountResponse, dto::SortOrderParam, merge_patch::MergePatchRequest, merge_patch::FormatsPatch,
        problem::Problem, problem::ProblemField, health::Health,
        schemas::Name, schemas::FormatName, schemas::FormatId, schemas::Formats, schemas::EntityTags, schemas::TitlePrefix, schemas::NamePrefix,
    )),
    tags(
        (name = "books", description = "One book by author and title"),
        (name = "formats", description = "A book's formats (hardcover, paperback, audiobook...)"),
        (name = "listings", description = "Paginated listings by author and by category"),
        (name = "catalogue", description = "Every category and every author, with its number of books"),
        (name = "operations", description = "Health checks"),
    )
)]
pub struct ApiDoc;

/// The OpenAPI document itself (this one).
#[utoipa::path(get, path = "/openapi.json", operation_id = "getOpenApiDocument", tag = "operations",
    responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
async fn openapi_document() -> ([(header::HeaderName, &'static str); 1], &'static str) {
    // Made on first use, not with the router: making it builds the routers, this one included.
    static DOCUMENT: LazyLock<String> = LazyLock::new(openapi_json);
    ([(header::CONTENT_TYPE, "application/json")], &DOCUMENT)
}

/// Interactive API documentation (Swagger UI), served with no external assets.
#[utoipa::path(get, path = "/docs/", operation_id = "getDocsPage", tag = "operations",
    responses((status = 200, description = "The documentation page", content_type = "text/html", body = String)))]
#[allow(dead_code)] // Swagger UI serves this route: the stub only carries its documentation.
fn docs_page_doc() {}

/// Redirects to the documentation page `/docs/`.
#[utoipa::path(get, path = "/docs", operation_id = "getDocs", tag = "operations",
    responses((status = 303, description = "Redirect to `/docs/`", headers(("Location" = String, description = "`/docs/`")))))]
#[allow(dead_code)] // Swagger UI serves this route: the stub only carries its documentation.
fn docs_redirect_doc() {}

/// The security schemes of writes, and the two ways every write may be authorized: a static
/// bearer token, or an OIDC access token with the write scope. The routes name `bearer`; the
/// OIDC alternative is added to each of them here, in one place.
struct WriteAuth;

/// Where the committed document says the issuer's discovery document is: a Cognito user pool's,
/// with placeholders. A deployment's issuer is its `BOOKSTORE_OIDC_ISSUER`.
const OIDC_DISCOVERY_EXAMPLE: &str =
    "https://cognito-idp.region.amazonaws.com/userPoolId/.well-known/openid-configuration";

impl Modify for WriteAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A static token from BOOKSTORE_API_TOKENS, or an OIDC access token (a JWT) \
                         from BOOKSTORE_OIDC_ISSUER with the write scope",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "oidc",
            SecurityScheme::OpenIdConnect(OpenIdConnect::with_description(
                OIDC_DISCOVERY_EXAMPLE,
                "Sign-in with the issuer of BOOKSTORE_OIDC_ISSUER (this URL is an Amazon Cognito \
                 example): its JWT access tokens write when their `aud` (or `client_id`) is \
                 BOOKSTORE_OIDC_AUDIENCE and their `scope` holds BOOKSTORE_WRITE_SCOPE \
                 (default `bookstore/write`). Send them as `Authorization: Bearer <token>`.",
            )),
        );
        for_each_operation(openapi, |operation| {
            if let Some(requirements) = operation.security.as_mut().filter(|r| !r.is_empty()) {
                requirements.push(SecurityRequirement::new("oidc", [DEFAULT_WRITE_SCOPE]));
            }
        });
    }
}

/// An absent query parameter or header is not a `null` one: clients must not send the text
/// `null`. utoipa types every `Option<T>` parameter as nullable, so this strips the `null`.
struct OptionalParametersAreNotNullable;

impl Modify for OptionalParametersAreNotNullable {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for_each_operation(openapi, strip_null);
    }
}

/// Every response carries `X-Request-Id` (the caller's or a new one), added by middleware.
struct EveryResponseHasARequestId;

impl Modify for EveryResponseHasARequestId {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for_each_operation(openapi, |operation| {
            for response in operation.responses.responses.values_mut() {
                if let RefOr::T(response) = response {
                    let mut header = Header::new(ObjectBuilder::new().schema_type(Type::String));
                    header.description = Some(
                        "The request's id: the caller's `X-Request-Id`, or a new UUID; logs carry it too".to_owned(),
                    );
                    response
                        .headers
                        .insert("X-Request-Id".to_owned(), header.into());
                }
            }
        });
    }
}

fn for_each_operation(
    openapi: &mut utoipa::openapi::OpenApi,
    mut visit: impl FnMut(&mut Operation),
) {
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
        ];
        for operation in operations.into_iter().flatten() {
            visit(operation);
        }
    }
}

fn strip_null(operation: &mut Operation) {
    for parameter in operation.parameters.iter_mut().flatten() {
        let RefOr::T(parameter) = parameter else {
            continue;
        };
        let Some(RefOr::T(schema)) = parameter.schema.as_mut() else {
            continue;
        };
        match schema {
            Schema::Object(object) => {
                if let SchemaType::Array(types) = &object.schema_type {
                    let kept: Vec<Type> = types
                        .iter()
                        .filter(|t| **t != Type::Null)
                        .cloned()
                        .collect();
                    if let [only] = kept.as_slice() {
                        object.schema_type = SchemaType::Type(only.clone());
                    }
                }
            }
            Schema::OneOf(one_of) => {
                let is_null = |s: &RefOr<Schema>| matches!(s, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null));
                let kept: Vec<RefOr<Schema>> = one_of
                    .items
                    .iter()
                    .filter(|s| !is_null(s))
                    .cloned()
                    .collect();
                if let [only] = kept.as_slice() {
                    parameter.schema = Some(only.clone());
                }
            }
            _ => {}
        }
    }
}

/// The whole API, as clients see it: [`ApiDoc`] with every route's documentation.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let routes = super::route_groups();
    let mut document = ApiDoc::openapi();
    document.merge(
        routes
            .guarded
            .merge(routes.health)
            .merge(routes.docs)
            .merge(routes.metrics)
            .into_openapi(),
    );
    // After the merge: they rewrite the routes' operations.
    let modifiers: [&dyn Modify; 3] = [
        &WriteAuth,
        &OptionalParametersAreNotNullable,
        &EveryResponseHasARequestId,
    ];
    for modifier in modifiers {
        modifier.modify(&mut document);
    }
    document
}

/// The document as pretty JSON, exactly as `bookstore openapi` prints and `openapi/openapi.json` holds.
pub fn openapi_json() -> String {
    openapi()
        .to_pretty_json()
        .expect("the OpenAPI document always serializes")
}

/// `/openapi.json` and `/docs` (Swagger UI, its assets compiled in: no network needed).
pub fn router() -> OpenApiRouter<AppState> {
    let swagger = SwaggerUi::new("/docs").config(
        // A token entered under "Authorize" lives only as long as the page: persisting it would
        // put a write credential in localStorage, readable by any script on the origin.
        utoipa_swagger_ui::Config::new(["/openapi.json"]).persist_authorization(false),
    );
    OpenApiRouter::new()
        .routes(routes!(openapi_document))
        .merge(OpenApiRouter::from(Router::from(swagger)))
}
