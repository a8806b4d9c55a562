//! OIDC access tokens (JWTs from one issuer; Amazon Cognito user pools are the reference) and
//! the rules one must pass to write. The JWT itself is decoded and its signature checked by
//! `jsonwebtoken`; this module chooses the key and adds the rules it does not know.

use std::{sync::Arc, time::Duration};

use jsonwebtoken::{Algorithm, Validation, errors::ErrorKind};
use serde::{Deserialize, de::IgnoredAny};

use super::{
    AuthError, Principal,
    jwks::{KeySet, Lookup, fetchable_url},
};

/// Allowed clock skew, in seconds, on `nbf` and `iat`. `exp` gets none: an expired token is
/// refused the moment it expires.
const LEEWAY_SECONDS: u64 = 60;

/// Default of `BOOKSTORE_WRITE_SCOPE`: what a Cognito resource server `bookstore` with a custom
/// scope `write` grants.
pub const DEFAULT_WRITE_SCOPE: &str = "bookstore/write";

/// What an access token must carry to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// `BOOKSTORE_OIDC_ISSUER`: the exact `iss` of the tokens, and where their keys are found.
    pub issuer: String,
    /// `BOOKSTORE_OIDC_AUDIENCE`: the token's `aud`, or its `client_id` when it has no `aud`.
    pub audience: String,
    /// `BOOKSTORE_WRITE_SCOPE`: one of the token's space-separated `scope`.
    pub write_scope: String,
}

/// Settings the verifier cannot work with.
#[derive(Debug, thiserror::Error)]
pub enum OidcSetupError {
    /// The issuer is not a URL its keys may be fetched from.
    #[error("BOOKSTORE_OIDC_ISSUER: {0}")]
    Issuer(String),
    /// The HTTP client could not be built (no TLS roots, for one).
    #[error("cannot build the HTTP client for the OIDC issuer: {0}")]
    Client(String),
}

/// Checks access tokens against the issuer's keys and the settings' rules.
pub struct OidcVerifier {
    issuer: Arc<str>,
    audience: String,
    write_scope: Arc<str>,
    keys: KeySet,
    /// What `jsonwebtoken` checks: the signature, `iss`, `aud` when present, `nbf`, and that
    /// `exp` is present. One per algorithm, built once.
    rs256: Validation,
    es256: Validation,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("write_scope", &self.write_scope)
            .finish_non_exhaustive()
    }
}

/// The claims read beyond what `jsonwebtoken` validates.
#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: Option<String>,
    exp: f64,
    iat: Option<f64>,
    aud: Option<IgnoredAny>,
    client_id: Option<String>,
    token_use: Option<String>,
    scope: Option<String>,
}

impl OidcVerifier {
    /// A verifier for `settings`; the keys are fetched when the first token needs them.
    pub fn new(settings: &OidcSettings) -> Result<Self, OidcSetupError> {
        fetchable_url(&settings.issuer).map_err(OidcSetupError::Issuer)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            // The keys come from where discovery says, never from where a redirect points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| OidcSetupError::Client(e.to_string()))?;
        let keys = KeySet::new(&settings.issuer, http).map_err(OidcSetupError::Issuer)?;
        let validation = |alg| {
            let mut v = Validation::new(alg);
            v.set_issuer(&[&settings.issuer]);
            v.set_audience(&[&settings.audience]);
            v.set_required_spec_claims(&["exp", "iss"]);
            v.validate_exp = false;
            v.validate_nbf = true;
            v.leeway = LEEWAY_SECONDS;
            v
        };
        Ok(Self {
            issuer: settings.issuer.as_str().into(),
            audience: settings.audience.clone(),
            write_scope: settings.write_scope.as_str().into(),
            rs256: validation(Algorithm::RS256),
            es256: validation(Algorithm::ES256),
            keys,
        })
    }

    /// The principal of an access token that may write.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let invalid = AuthError::InvalidToken;
        // The header is read before the signature is checked only to choose the key; an
        // algorithm outside the two (`none`, HS256 signed with a public key) ends it here.
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| invalid("not a well-formed JWT"))?;
        let validation = match header.alg {
            Algorithm::RS256 => &self.rs256,
            Algorithm::ES256 => &self.es256,
            _ => return Err(invalid("only RS256 and ES256 are accepted")),
        };
        let key = match self.keys.lookup(header.kid.as_deref(), header.alg).await {
            Lookup::Found(key) => key,
            Lookup::Unknown => return Err(invalid("signed with a key the issuer does not have")),
            Lookup::Unavailable(retry_after) => {
                return Err(AuthError::KeysUnavailable(retry_after));
            }
        };
        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, validation)
            .map_err(|e| invalid(rejection(e.kind())))?
            .claims;
        // `jsonwebtoken` also takes an `iss` array holding the issuer; the rule is one string.
        if claims.iss != *self.issuer {
            return Err(invalid("issued by another issuer"));
        }
        let now = jsonwebtoken::get_current_timestamp() as f64;
        if claims.exp <= now {
            return Err(invalid("expired"));
        }
        if claims
            .iat
            .is_some_and(|iat| iat > now + LEEWAY_SECONDS as f64)
        {
            return Err(invalid("issued in the future"));
        }
        if claims
            .token_use
            .as_deref()
            .is_some_and(|use_| use_ != "access")
        {
            return Err(invalid("not an access token"));
        }
        // Cognito access tokens carry no `aud`; their app client is `client_id`.
        if claims.aud.is_none() && claims.client_id.as_deref() != Some(self.audience.as_str()) {
            return Err(invalid("issued for another audience"));
        }
        let subject = claims
            .sub
            .filter(|s| !s.is_empty())
            .ok_or(invalid("no subject"))?;
        let scoped = claims
            .scope
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|s| s == &*self.write_scope));
        if !scoped {
            return Err(AuthError::InsufficientScope(self.write_scope.clone()));
        }
        Ok(Principal::Subject {
            issuer: self.issuer.clone(),
            subject: subject.into(),
        })
    }
}

/// Why `jsonwebtoken` refused a token, in words that show nothing of the token.
fn rejection(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::ImmatureSignature => "not valid yet",
        ErrorKind::ExpiredSignature => "expired",
        ErrorKind::InvalidIssuer => "issued by another issuer",
        ErrorKind::InvalidAudience => "issued for another audience",
        ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
        ErrorKind::InvalidAlgorithm => "the algorithm does not match the key",
        _ => "malformed",
    }
}
