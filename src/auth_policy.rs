//! Who may write: the policy the settings choose and the HTTP layer enforces, and who a write's
//! credentials say its caller is (its [`Principal`]).
//!
//! It lives outside both, so that neither the command line nor `http` has to know the other.

mod jwks;
mod oidc;
mod principal;

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use subtle::{Choice, ConstantTimeEq};

pub use oidc::{DEFAULT_WRITE_SCOPE, OidcSettings, OidcSetupError, OidcVerifier};
pub use principal::Principal;
pub(crate) use principal::sha256_hex;

/// Who may write.
#[derive(Clone, Debug)]
pub enum AuthPolicy {
    /// Anyone (`BOOKSTORE_AUTH=none`, local development only).
    Open,
    /// Holders of one of these tokens.
    Tokens(Arc<[SecretString]>),
    /// Holders of one of these static tokens (there may be none), or of an access token from
    /// the OIDC issuer with the write scope.
    TokensOrOidc {
        /// The static tokens of `BOOKSTORE_API_TOKENS`.
        tokens: Arc<[SecretString]>,
        /// Checks access tokens against the issuer's keys and the settings' rules.
        oidc: Arc<OidcVerifier>,
    },
}

/// Why a write's credentials were refused; each maps to one RFC 6750 answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No bearer credentials at all (no header, or another scheme).
    #[error("a valid bearer token is required for writes")]
    Missing,
    /// A static token that is not listed, where no issuer is configured. Its challenge names no
    /// error, as it did before OIDC existed here; with an issuer, such a token is checked as a
    /// JWT and refused as [`AuthError::InvalidToken`].
    #[error("a valid bearer token is required for writes")]
    UnknownToken,
    /// Credentials that are malformed, unknown, expired, or from another issuer or audience.
    /// The reason is fixed text, never anything taken from the token.
    #[error("the bearer token is not valid: {0}")]
    InvalidToken(&'static str),
    /// A valid access token without the write scope (the scope it lacks).
    #[error("the access token lacks the scope '{0}'")]
    InsufficientScope(Arc<str>),
    /// The issuer's keys are needed and cannot be fetched; retry after this long.
    #[error("the token issuer's keys cannot be fetched, retry shortly")]
    KeysUnavailable(std::time::Duration),
}

/// Longest `Authorization` value looked at; anything longer is refused unread.
pub const MAX_AUTHORIZATION_BYTES: usize = 8 * 1024;

impl AuthPolicy {
    /// Who the `Authorization` header value of a write names, if the policy lets them write.
    ///
    /// The header is taken as raw bytes: a value that is over 8 KiB, not visible ASCII or not a
    /// `Bearer` credential is refused here, never an error further in.
    pub async fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Principal, AuthError> {
        let token = bearer_credentials(authorization);
        match self {
            // Writes are open, but a caller that sends a token still gets its own idempotency
            // scope and quota, so two developers' clients do not replay each other's answers.
            Self::Open => Ok(match token {
                Ok(token) => Principal::static_token(token),
                Err(_) => Principal::Anonymous,
            }),
            Self::Tokens(tokens) => {
                let token = token?;
                if is_listed(tokens, token) {
                    Ok(Principal::static_token(token))
                } else {
                    Err(AuthError::UnknownToken)
                }
            }
            Self::TokensOrOidc { tokens, oidc } => {
                let token = token?;
                if is_listed(tokens, token) {
                    Ok(Principal::static_token(token))
                } else {
                    oidc.verify(token).await
                }
            }
        }
    }
}

fn is_listed(tokens: &[SecretString], presented: &str) -> bool {
    let hit = tokens.iter().fold(Choice::from(0), |hit, token| {
        hit | token.expose_secret().as_bytes().ct_eq(presented.as_bytes())
    });
    hit.into()
}

/// The token of a `Bearer` credential (the scheme is case-insensitive, RFC 9110 §11.1).
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The bearer token of a raw `Authorization` value, or why there is none to check.
fn bearer_credentials(value: Option<&[u8]>) -> Result<&str, AuthError> {
    let value = value.ok_or(AuthError::Missing)?;
    if value.len() > MAX_AUTHORIZATION_BYTES {
        return Err(AuthError::InvalidToken(
            "the Authorization header is too long",
        ));
    }
    // RFC 6750's b64token is visible ASCII; anything else (obs-text, non-UTF-8) is malformed.
    let value = std::str::from_utf8(value)
        .ok()
        .filter(|v| {
            v.bytes()
                .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
        })
        .ok_or(AuthError::InvalidToken(
            "the Authorization header is malformed",
        ))?;
    let Some((scheme, _)) = value.split_once(' ') else {
        return Err(AuthError::InvalidToken(
            "the Authorization header is malformed",
        ));
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    bearer_token(value).ok_or(AuthError::InvalidToken(
        "the Authorization header is malformed",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(list: &[&str]) -> AuthPolicy {
        AuthPolicy::Tokens(list.iter().map(|t| SecretString::from(*t)).collect())
    }

    #[test]
    fn tokens_never_print() {
        let policy = tokens(&["hunter2"]);
        assert!(!format!("{policy:?}").contains("hunter2"));
    }

    #[test]
    fn parses_the_bearer_scheme() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }

    #[tokio::test]
    async fn refuses_bad_headers_without_looking_further() {
        let policy = tokens(&["alpha"]);
        let check = |value: &'static [u8]| {
            let policy = policy.clone();
            async move { policy.authenticate(Some(value)).await }
        };
        assert!(matches!(
            check(b"Bearer alpha").await,
            Ok(Principal::Token(_))
        ));
        assert_eq!(policy.authenticate(None).await, Err(AuthError::Missing));
        assert_eq!(check(b"Basic YWxwaGE=").await, Err(AuthError::Missing));
        for bad in [
            &b"Bearer alph\xc3\xa9"[..],
            b"Bearer \xff\xfe",
            b"Bearer",
            b"Bearer ",
            b"Bearer al\x01pha",
        ] {
            assert!(
                matches!(
                    policy.authenticate(Some(bad)).await,
                    Err(AuthError::InvalidToken(_))
                ),
                "{bad:?}"
            );
        }
        let long = format!("Bearer {}", "a".repeat(MAX_AUTHORIZATION_BYTES));
        assert!(matches!(
            policy.authenticate(Some(long.as_bytes())).await,
            Err(AuthError::InvalidToken(_))
        ));
        for near_miss in [&b"Bearer bet"[..], b"Bearer alphaa", b"Bearer beta"] {
            assert_eq!(check(near_miss).await, Err(AuthError::UnknownToken));
        }
    }

    #[tokio::test]
    async fn open_writes_keep_callers_apart() {
        let open = AuthPolicy::Open;
        assert_eq!(open.authenticate(None).await, Ok(Principal::Anonymous));
        let a = open.authenticate(Some(b"Bearer a")).await.unwrap();
        let b = open.authenticate(Some(b"Bearer b")).await.unwrap();
        assert_ne!(a, b);
    }
}
