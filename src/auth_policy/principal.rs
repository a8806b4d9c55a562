//! Who a write comes from: what idempotency keys and write quotas are scoped to, and what the
//! access log names. Never the token itself.

use std::{fmt, sync::Arc};

use sha2::{Digest, Sha256};

/// The caller of a write.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// No credentials, where writes are open (`BOOKSTORE_AUTH=none`).
    Anonymous,
    /// A static token, by the hex SHA-256 of `"bearer\n"` and the token: the scope idempotency
    /// records have always been stored under, so records of earlier versions still replay.
    Token(Arc<str>),
    /// An OIDC access token's issuer and subject: every token the issuer gives that user
    /// (a refreshed one included) is the same principal.
    Subject {
        /// The token's `iss`.
        issuer: Arc<str>,
        /// The token's `sub`.
        subject: Arc<str>,
    },
}

impl Principal {
    /// The principal of a static token.
    pub fn static_token(token: &str) -> Self {
        Self::Token(sha256_hex(&[b"bearer\n", token.as_bytes()]).into())
    }

    /// A string naming this principal and no other: what its idempotency keys and quota are
    /// kept under.
    ///
    /// A token's scope is 64 hex digits and never starts with `oidc\n`; an issuer holds no
    /// newline (it is a URL), so `iss` and `sub` cannot run into each other.
    pub fn scope(&self) -> String {
        match self {
            Self::Anonymous => "anonymous".to_owned(),
            Self::Token(hash) => hash.to_string(),
            Self::Subject { issuer, subject } => format!("oidc\n{issuer}\n{subject}"),
        }
    }
}

/// How the access log names the principal: a static token by the first 16 hex digits of its
/// hash (enough to tell tokens apart, nothing to guess one from), a subject by `iss` and `sub`.
impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Anonymous => f.write_str("anonymous"),
            Self::Token(hash) => write!(f, "token:{}", &hash[..16]),
            Self::Subject { issuer, subject } => write!(f, "oidc:{issuer}#{subject}"),
        }
    }
}

/// The SHA-256 of `parts` one after another, as 64 lowercase hex digits.
pub(crate) fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part);
    }
    hash.finalize()
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            use std::fmt::Write as _;
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            sha256_hex(&[b"a", b"bc"]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_token_is_named_by_its_hash_only() {
        let principal = Principal::static_token("hunter2");
        assert!(!principal.scope().contains("hunter2"));
        assert!(!principal.to_string().contains("hunter2"));
        assert_eq!(principal.scope().len(), 64);
        assert_eq!(principal, Principal::static_token("hunter2"));
        assert_ne!(principal, Principal::static_token("hunter3"));
    }

    #[test]
    fn subjects_are_scoped_by_issuer_and_subject() {
        let subject = |iss: &str, sub: &str| Principal::Subject {
            issuer: iss.into(),
            subject: sub.into(),
        };
        assert_eq!(
            subject("https://a", "u1").scope(),
            subject("https://a", "u1").scope()
        );
        assert_ne!(
            subject("https://a", "u1").scope(),
            subject("https://b", "u1").scope()
        );
        assert_eq!(subject("https://a", "u1").to_string(), "oidc:https://a#u1");
    }
}
