//! The HTTP API: routes, extractors, error mapping and the middleware stack.

mod answers;
mod auth;
mod books;
mod catalogue;
mod conditional;
pub mod docs;
pub mod dto;
mod extract;
mod formats;
mod headers;
mod health;
mod idempotency;
mod listings;
mod merge_patch;
mod middleware;
mod problem;
pub mod quota;
mod responses;
mod schemas;

use std::sync::Arc;

use axum::error_handling::HandleErrorLayer;
use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderName, HeaderValue, Method, header},
    middleware::from_fn_with_state,
};
use metrics_exporter_prometheus::PrometheusHandle;
use tower::{ServiceBuilder, limit::GlobalConcurrencyLimitLayer, load_shed::LoadShedLayer};
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::{
        CompressionLayer, CompressionLevel,
        predicate::{NotForContentType, Predicate, SizeAbove},
    },
    cors::{AllowOrigin, CorsLayer},
};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use middleware::{BODY_READ_TIMEOUT, REQUEST_DEADLINE};
pub use problem::{ApiError, FailureCause, Problem};

pub use crate::auth_policy::AuthPolicy;
use crate::repository::BookRepository;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The Books table.
    pub repo: BookRepository,
    /// Who may write.
    pub auth: AuthPolicy,
    /// Writes per principal; `None` when unlimited.
    quota: Option<Arc<quota::WriteQuota>>,
    /// The cached answer of `/health/ready`.
    readiness: Arc<health::ReadinessCache>,
    /// The Prometheus recorder `/metrics` renders.
    metrics: PrometheusHandle,
}

impl AppState {
    /// State over a repository, with an auth policy and the process's metrics recorder.
    pub fn new(repo: BookRepository, auth: AuthPolicy, metrics: PrometheusHandle) -> Self {
        Self {
            repo,
            auth,
            quota: None,
            readiness: Arc::default(),
            metrics,
        }
    }

    /// The same state with writes limited per principal (`None`: unlimited, the default).
    pub fn with_write_quota(self, quota: Option<quota::WriteQuota>) -> Self {
        Self {
            quota: quota.map(Arc::new),
            ..self
        }
    }
}

/// Default of [`HttpOptions::max_in_flight`] (`BOOKSTORE_MAX_IN_FLIGHT`).
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 512;

/// How the application is assembled, beyond its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// Requests handled at once; past it, an immediate 503 with `Retry-After`.
    pub max_in_flight: usize,
    /// Whether `/metrics` is served with the API (else only by [`metrics_app`]).
    pub metrics_on_api_port: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            max_in_flight: DEFAULT_MAX_IN_FLIGHT as usize,
            metrics_on_api_port: true,
        }
    }
}

/// Every route of the API and its documentation, grouped by how [`app_with`] mounts them.
///
/// Each route is declared once, with `routes!` in its module's `router()`; serving and the
/// OpenAPI document ([`docs::openapi`]) are both read from here.
struct RouteGroups {
    /// Behind the credentials and quota check for writes.
    guarded: OpenApiRouter<AppState>,
    /// Health checks: never shed.
    health: OpenApiRouter<AppState>,
    /// The documentation.
    docs: OpenApiRouter<AppState>,
    /// `/metrics`, on the API port or on its own.
    metrics: OpenApiRouter<AppState>,
}

fn route_groups() -> RouteGroups {
    RouteGroups {
        guarded: OpenApiRouter::new()
            .merge(books::router())
            .merge(formats::router())
            .merge(listings::router())
            .merge(catalogue::router()),
        health: health::router(),
        docs: docs::router(),
        metrics: OpenApiRouter::new().routes(routes!(render_metrics)),
    }
}

/// `/metrics` alone, for a separate address the load balancer does not route to.
pub fn metrics_app(state: AppState) -> Router {
    Router::from(route_groups().metrics)
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .with_state(state)
}

/// The whole application: every route and the middleware stack.
///
/// `cors_origins` lists the browser origins allowed to call the API; empty means no CORS headers.
pub fn app_with(state: AppState, cors_origins: &[HeaderValue], options: &HttpOptions) -> Router {
    let RouteGroups {
        guarded,
        health,
        docs,
        metrics,
    } = route_groups();
    // The in-flight cap: past it, an immediate 503 with `Retry-After` (ApiError::Overloaded).
    // Queueing instead would only grow memory and latency until every request times out; an
    // immediate 503 lets the client or load balancer retry elsewhere. tower's load shedding over
    // one semaphore (the layer's clones share it), on every route but the health checks: a busy
    // task is alive and serving, and failing its probes would have ECS or the ALB take it away
    // when most needed. Chosen over a hand-written semaphore middleware by bench/compare.sh
    // (BENCHMARKS.md, "Crates before hand-built parts").
    let shed = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
            tracing::debug!("in-flight cap reached; request shed");
            ApiError::Overloaded
        }))
        .layer(LoadShedLayer::new())
        .layer(GlobalConcurrencyLimitLayer::new(options.max_in_flight));
    let api = Router::from(guarded)
        .route_layer(from_fn_with_state(state.clone(), auth::guard_writes))
        .route_layer(shed.clone());
    let mut router = Router::new()
        .merge(api)
        .merge(Router::from(health))
        .merge(Router::from(docs).route_layer(shed.clone()));
    if options.metrics_on_api_port {
        router = router.merge(Router::from(metrics).route_layer(shed));
    }
    let router = router
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state);

    // Outermost first: the request id exists before anything logs, and every response, errors
    // and panics included, passes through the envelope (metrics, access log), CORS and `admit`
    // (the problem `instance`). The panic handler sits inside the deadlines, so a panic's 500
    // still gets its `instance`.
    let layers = ServiceBuilder::new()
        .layer(from_fn_with_state(
            middleware::RequestMetrics::default(),
            middleware::envelope,
        ))
        .layer(compression())
        .option_layer(cors(cors_origins))
        .layer(axum::middleware::from_fn(middleware::admit))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES));
    router.layer(layers)
}

/// Prometheus metrics: request counts and latency per route and status, DynamoDB calls per operation.
#[utoipa::path(get, path = "/metrics", operation_id = "getMetrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String)))]
async fn render_metrics(axum::extract::State(state): axum::extract::State<AppState>) -> String {
    state.metrics.render()
}

/// Smallest response body worth compressing: below it the encoding overhead and CPU cost more
/// than the bytes saved (a single book, a problem document, a health answer).
const COMPRESS_FROM_BYTES: u64 = 1024;

/// The compression level, for gzip and br alike. br at tower-http's default quality 4 took 11% of
/// an author page's CPU, much of it zeroing its hash tables. Level 1 keeps most of the saving: a
/// 100-book page of 21,240 bytes is 2,146 with br (2,169 at quality 4) and 2,890 with gzip (2,478
/// at gzip's default 6); a 20-book page of 4,360 bytes is 816 / 842 (665 / 752 before).
const COMPRESSION_LEVEL: CompressionLevel = CompressionLevel::Precise(1);

/// gzip or br, as the client's `Accept-Encoding` allows, for responses of 1 KiB or more
/// (`SizeAbove` compresses sizes at or above its bound).
fn compression() -> CompressionLayer<impl Predicate> {
    let predicate = SizeAbove::new(COMPRESS_FROM_BYTES)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE);
    CompressionLayer::new()
        .quality(COMPRESSION_LEVEL)
        .compress_when(predicate)
}

/// CORS for browser frontends, or none when no origin is configured.
fn cors(origins: &[HeaderValue]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins.iter().cloned()))
            .allow_methods([
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                header::IF_NONE_MATCH,
                idempotency::IDEMPOTENCY_KEY,
            ])
            .expose_headers([
                header::ETAG,
                header::LOCATION,
                HeaderName::from_static("x-request-id"),
                idempotency::REPLAYED,
                header::RETRY_AFTER,
                quota::RATELIMIT_POLICY,
                quota::RATELIMIT,
                // A browser app can tell an expired sign-in from a missing scope.
                header::WWW_AUTHENTICATE,
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}
