//! Who may write: the policy the settings choose and the HTTP layer enforces.
//!
//! It lives outside both, so that neither the command line nor `http` has to know the other.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use subtle::{Choice, ConstantTimeEq};

/// Who may write.
#[derive(Clone, Debug)]
pub enum AuthPolicy {
    /// Anyone (`BOOKSTORE_AUTH=none`, local development only).
    Open,
    /// Holders of one of these tokens.
    Tokens(Arc<[SecretString]>),
}

impl AuthPolicy {
    /// Whether `presented` is one of the tokens, compared in constant time.
    ///
    /// Every token is compared, so timing tells nothing about which one (or how much of one)
    /// matched; only a token's length can show, which is no help in guessing it.
    pub fn accepts(&self, presented: Option<&str>) -> bool {
        match self {
            Self::Open => true,
            Self::Tokens(tokens) => {
                let Some(presented) = presented else {
                    return false;
                };
                let hit = tokens.iter().fold(Choice::from(0), |hit, token| {
                    hit | token.expose_secret().as_bytes().ct_eq(presented.as_bytes())
                });
                hit.into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_listed_tokens() {
        let policy = AuthPolicy::Tokens(Arc::from(vec![
            SecretString::from("alpha"),
            SecretString::from("beta"),
        ]));
        assert!(policy.accepts(Some("beta")));
        assert!(!policy.accepts(Some("bet")));
        assert!(!policy.accepts(Some("betaa")));
        assert!(!policy.accepts(None));
        assert!(AuthPolicy::Open.accepts(None));
    }

    #[test]
    fn tokens_never_print() {
        let policy = AuthPolicy::Tokens(Arc::from(vec![SecretString::from("hunter2")]));
        assert!(!format!("{policy:?}").contains("hunter2"));
    }
}
