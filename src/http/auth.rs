//! Bearer-token authentication for writes. Reads are public.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{Method, header},
    middleware::Next,
    response::Response,
};
use subtle::{Choice, ConstantTimeEq};

use super::{AppState, problem::ApiError};
use crate::config::Secret;

/// Who may write.
#[derive(Clone, Debug)]
pub enum AuthPolicy {
    /// Anyone (`BOOKSTORE_AUTH=none`, local development only).
    Open,
    /// Holders of one of these tokens.
    Tokens(Arc<[Secret]>),
}

impl AuthPolicy {
    /// Whether `presented` is one of the tokens, compared in constant time.
    ///
    /// Every token is compared, so timing tells nothing about which one (or how much of one)
    /// matched; only a token's length can show, which is no help in guessing it.
    fn accepts(&self, presented: Option<&str>) -> bool {
        match self {
            Self::Open => true,
            Self::Tokens(tokens) => {
                let Some(presented) = presented else {
                    return false;
                };
                let hit = tokens.iter().fold(Choice::from(0), |hit, token| {
                    hit | token.expose().as_bytes().ct_eq(presented.as_bytes())
                });
                hit.into()
            }
        }
    }
}

/// Middleware: a write (anything but GET, HEAD, OPTIONS) needs `Authorization: Bearer <token>`.
pub async fn require_token_for_writes(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let is_read = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !is_read {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token);
        if !state.auth.accepts(presented) {
            return Err(ApiError::Unauthorized);
        }
    }
    Ok(next.run(request).await)
}

/// The token of a `Bearer` credential (the scheme is case-insensitive, RFC 9110 §11.1).
pub(super) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_listed_tokens() {
        let policy = AuthPolicy::Tokens(Arc::from(vec![Secret::new("alpha"), Secret::new("beta")]));
        assert!(policy.accepts(Some("beta")));
        assert!(!policy.accepts(Some("bet")));
        assert!(!policy.accepts(Some("betaa")));
        assert!(!policy.accepts(None));
        assert!(AuthPolicy::Open.accepts(None));
    }

    #[test]
    fn parses_the_bearer_scheme() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }
}
