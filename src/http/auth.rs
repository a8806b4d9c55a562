//! Writes need credentials (a static bearer token or an OIDC access token) and are counted
//! against their principal's quota. Reads are public and pass straight through: no token is
//! read or verified on a GET.

use axum::{
    extract::{Request, State},
    http::{Method, header},
    middleware::Next,
    response::Response,
};

use super::{AppState, problem::ApiError};
use crate::auth_policy::AuthError;

/// Middleware: a write (anything but GET, HEAD, OPTIONS) needs credentials the policy accepts
/// and room in its principal's quota. The principal goes to the handler (idempotency scope) and
/// back out on the response (the access log); the quota's headers go on the response.
pub(super) async fn guard_writes(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return Ok(next.run(request).await);
    }
    let mut values = request.headers().get_all(header::AUTHORIZATION).iter();
    let authorization = values.next().map(|v| v.as_bytes());
    if values.next().is_some() {
        return Err(AuthError::InvalidToken("more than one Authorization header").into());
    }
    let principal = state.auth.authenticate(authorization).await?;
    let quota = match &state.quota {
        Some(quota) => Some(quota.check(&principal).map_err(ApiError::TooManyRequests)?),
        None => None,
    };
    request.extensions_mut().insert(principal.clone());
    let mut response = next.run(request).await;
    if let Some(quota) = quota {
        quota.insert_into(response.headers_mut());
    }
    response.extensions_mut().insert(principal);
    Ok(response)
}
