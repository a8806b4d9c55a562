//! `/health/live` and `/health/ready` for the load balancer and ECS.

use std::time::{Duration, Instant};

use axum::{Json, extract::State};
use serde::Serialize;
use tokio::sync::Mutex;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::telemetry::ErrorChain;

use super::{
    AppState,
    problem::{ApiError, Problem},
};
use crate::repository::BookRepository;

/// How long a readiness answer is reused, so probes from every load balancer node do not each
/// cost a DescribeTable.
const READY_CACHE_TTL: Duration = Duration::from_secs(5);

/// The routes of this module.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
}

/// Health status body.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Health {
    /// `ok` or `ready`.
    pub status: &'static str,
}

/// Liveness: 200 while the process runs.
#[utoipa::path(get, path = "/health/live", operation_id = "getLiveness", tag = "operations",
    responses((status = 200, description = "The process is running", body = Health)))]
pub(super) async fn live() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: 200 while the table and `CategoryIndex` can serve (ACTIVE or UPDATING), else 503.
#[utoipa::path(get, path = "/health/ready", operation_id = "getReadiness", tag = "operations",
    responses(
        (status = 200, description = "Table and index can serve: ACTIVE or UPDATING", body = Health),
        (status = 503, description = "Table or index missing, being created or deleted, or DynamoDB unreachable", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ))]
pub(super) async fn ready(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    if state.readiness.check(&state.repo).await {
        Ok(Json(Health { status: "ready" }))
    } else {
        Err(ApiError::Unavailable(None))
    }
}

/// The last readiness answer and when it was taken.
#[derive(Debug, Default)]
pub(super) struct ReadinessCache {
    last: Mutex<Option<(Instant, bool)>>,
}

impl ReadinessCache {
    /// The cached answer, or a fresh one. The lock is held across the DescribeTable call so that
    /// concurrent probes wait for that one call instead of each making their own (single flight).
    async fn check(&self, repo: &BookRepository) -> bool {
        let mut last = self.last.lock().await;
        if let Some((at, ready)) = *last
            && at.elapsed() < READY_CACHE_TTL
        {
            return ready;
        }
        // To a probe an error just means "not ready"; the log says why, once per fresh answer.
        let ready = repo.is_ready().await.unwrap_or_else(|e| {
            tracing::warn!(error = %ErrorChain(&e), "readiness: DynamoDB did not answer DescribeTable");
            false
        });
        *last = Some((Instant::now(), ready));
        ready
    }
}
