//! The issuer's signing keys: discovered from `<issuer>/.well-known/openid-configuration`,
//! fetched from its `jwks_uri`, cached, and refetched when a token names a key not seen yet.
//!
//! Only what this service verifies is kept: RSA keys for RS256 and P-256 keys for ES256. A key of
//! another type is skipped; a document with no usable key counts as no keys at all.

use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use jsonwebtoken::{
    Algorithm, DecodingKey,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse},
};
use reqwest::Url;
use serde::{Deserialize, de::DeserializeOwned};

/// A token naming an unknown key refetches the keys at most this often, so tokens with made-up
/// key ids cannot make the service hammer the issuer.
const UNKNOWN_KID_REFETCH_EVERY: Duration = Duration::from_secs(60);
/// Keys older than this are refetched on next use (a failed refetch keeps them): keys the
/// issuer withdrew stop being trusted within this long.
const KEYS_TTL: Duration = Duration::from_secs(15 * 60);
/// While the issuer cannot be reached and no keys are held, a new attempt waits this long;
/// meanwhile writes that need keys get a 503 at once.
const RETRY_FAILED_FETCH_AFTER: Duration = Duration::from_secs(2);
/// How long one document fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest discovery or JWKS document read; real ones are a few KiB.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// A key the issuer signs with, for one algorithm.
#[derive(Clone)]
pub(super) struct SigningKey {
    /// The JWK's `kid`.
    kid: Option<String>,
    /// RS256 or ES256.
    pub alg: Algorithm,
    /// The public key.
    pub key: DecodingKey,
}

/// What looking a token's key up found.
pub(super) enum Lookup {
    /// The key to verify the token with.
    Found(Arc<SigningKey>),
    /// The issuer has no such key (after a refetch, or none was allowed yet).
    Unknown,
    /// Keys are needed and cannot be fetched; retry after this long.
    Unavailable(Duration),
}

/// The issuer's keys and when they were fetched.
pub(super) struct KeySet {
    /// The configured issuer, which the discovery document must name exactly.
    issuer: String,
    /// `<issuer>/.well-known/openid-configuration`.
    discovery_url: Url,
    http: reqwest::Client,
    cache: RwLock<Cache>,
    /// One fetch at a time: writes that arrive during a fetch wait for its result.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Cache {
    keys: Arc<[Arc<SigningKey>]>,
    /// When `keys` were fetched; `None` until the first success.
    fetched_at: Option<Instant>,
    /// When the last fetch failed, if the last fetch failed.
    failed_at: Option<Instant>,
    /// When an unknown key last caused a refetch.
    unknown_kid_refetch_at: Option<Instant>,
    /// Counts fetch attempts, so a writer that waited for a fetch does not start another.
    attempts: u64,
    /// The last problem logged, so one that persists is logged once, not per write.
    logged_problem: Option<String>,
}

impl KeySet {
    /// Keys of `issuer`, not fetched until a token needs them.
    pub(super) fn new(issuer: &str, http: reqwest::Client) -> Result<Self, String> {
        let base = issuer.trim_end_matches('/');
        let discovery_url = fetchable_url(&format!("{base}/.well-known/openid-configuration"))?;
        Ok(Self {
            issuer: issuer.to_owned(),
            discovery_url,
            http,
            cache: RwLock::default(),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// The key for a token's `kid` and `alg`, fetching the keys when none are held, when they
    /// are old, or (at most once a minute) when the `kid` is unknown.
    pub(super) async fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Lookup {
        let (keys, fetched_at, failed_at, attempts) = {
            let cache = self.cache.read().expect("never poisoned");
            (
                cache.keys.clone(),
                cache.fetched_at,
                cache.failed_at,
                cache.attempts,
            )
        };
        let fresh = fetched_at.is_some_and(|at| at.elapsed() < KEYS_TTL);
        let retry_in = failed_at
            .map(|at| RETRY_FAILED_FETCH_AFTER.saturating_sub(at.elapsed()))
            .filter(|wait| !wait.is_zero());
        // Old keys stay usable while their refetch is failing.
        if (fresh || retry_in.is_some())
            && let Some(found) = find(&keys, kid, alg)
        {
            return found;
        }
        if let Some(wait) = retry_in {
            return Lookup::Unavailable(wait);
        }
        if fresh && !self.may_refetch_for_unknown_kid() {
            return Lookup::Unknown;
        }
        let fetched = self.refetch(attempts).await;
        let keys = self.cache.read().expect("never poisoned").keys.clone();
        match find(&keys, kid, alg) {
            Some(found) => found,
            // The keys were needed (none held, or the token's key is not among those held)
            // and could not be fetched.
            None if !fetched => Lookup::Unavailable(RETRY_FAILED_FETCH_AFTER),
            None => Lookup::Unknown,
        }
    }

    /// Claims this minute's refetch for an unknown `kid`, if it has not been used.
    fn may_refetch_for_unknown_kid(&self) -> bool {
        let mut cache = self.cache.write().expect("never poisoned");
        if cache
            .unknown_kid_refetch_at
            .is_some_and(|at| at.elapsed() < UNKNOWN_KID_REFETCH_EVERY)
        {
            return false;
        }
        cache.unknown_kid_refetch_at = Some(Instant::now());
        true
    }

    /// Fetches the keys unless another writer did since `seen_attempts`; whether the latest
    /// fetch succeeded. A failure keeps the keys held before.
    async fn refetch(&self, seen_attempts: u64) -> bool {
        let _one_at_a_time = self.fetching.lock().await;
        {
            let cache = self.cache.read().expect("never poisoned");
            if cache.attempts != seen_attempts {
                return cache.failed_at.is_none();
            }
        }
        let result = self.fetch().await;
        let mut cache = self.cache.write().expect("never poisoned");
        cache.attempts += 1;
        match result {
            Ok(keys) => {
                if cache.logged_problem.take().is_some() || cache.fetched_at.is_none() {
                    tracing::info!(
                        issuer = self.issuer,
                        keys = keys.len(),
                        "fetched the OIDC issuer's keys"
                    );
                }
                cache.keys = keys.into_iter().map(Arc::new).collect();
                cache.fetched_at = Some(Instant::now());
                cache.failed_at = None;
                true
            }
            Err(problem) => {
                if cache.logged_problem.as_deref() != Some(problem.as_str()) {
                    tracing::warn!(
                        issuer = self.issuer,
                        problem,
                        "cannot fetch the OIDC issuer's keys"
                    );
                    cache.logged_problem = Some(problem);
                }
                cache.failed_at = Some(Instant::now());
                false
            }
        }
    }

    /// Discovery, then the JWKS; the usable keys, or why there are none.
    async fn fetch(&self) -> Result<Vec<SigningKey>, String> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        #[derive(Deserialize)]
        struct Jwks {
            keys: Vec<serde_json::Value>,
        }
        let discovery: Discovery = self.get_json(self.discovery_url.clone()).await?;
        if discovery.issuer != self.issuer {
            return Err(format!(
                "the discovery document names the issuer '{}', not '{}'",
                discovery.issuer, self.issuer
            ));
        }
        let jwks_uri = fetchable_url(&discovery.jwks_uri)?;
        let jwks: Jwks = self.get_json(jwks_uri.clone()).await?;
        let total = jwks.keys.len();
        let keys: Vec<SigningKey> = jwks.keys.iter().filter_map(signing_key).collect();
        if keys.is_empty() {
            return Err(format!(
                "{jwks_uri} holds no RS256 or ES256 signing key ({total} keys of other types or malformed)"
            ));
        }
        if keys.len() < total {
            tracing::debug!(
                skipped = total - keys.len(),
                "skipped JWKS keys of other types"
            );
        }
        Ok(keys)
    }

    async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T, String> {
        let fetch = async {
            let mut response = self
                .http
                .get(url.clone())
                .send()
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            if !response.status().is_success() {
                return Err(format!("{url} answered {}", response.status()));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
                if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                    return Err(format!("{url} is larger than {MAX_DOCUMENT_BYTES} bytes"));
                }
                body.extend_from_slice(&chunk);
            }
            serde_json::from_slice(&body)
                .map_err(|e| format!("{url} is not the expected JSON: {e}"))
        };
        tokio::time::timeout(FETCH_TIMEOUT, fetch)
            .await
            .map_err(|_| format!("{url} did not answer within {FETCH_TIMEOUT:?}"))?
    }
}

/// The held key for a token, if one matches: by `kid`, or the only key of the algorithm when the
/// token names none. A `kid` held for another algorithm is a forgery attempt, not a new key.
fn find(keys: &[Arc<SigningKey>], kid: Option<&str>, alg: Algorithm) -> Option<Lookup> {
    match kid {
        Some(kid) => {
            let key = keys.iter().find(|k| k.kid.as_deref() == Some(kid))?;
            Some(if key.alg == alg {
                Lookup::Found(key.clone())
            } else {
                Lookup::Unknown
            })
        }
        None => {
            let mut of_alg = keys.iter().filter(|k| k.alg == alg);
            match (of_alg.next(), of_alg.next()) {
                (Some(only), None) => Some(Lookup::Found(only.clone())),
                _ => Some(Lookup::Unknown),
            }
        }
    }
}

/// A JWKS entry as a key for RS256 or ES256, or `None` for any other kind of key.
fn signing_key(value: &serde_json::Value) -> Option<SigningKey> {
    let jwk: Jwk = serde_json::from_value(value.clone()).ok()?;
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    let declared = jwk.common.key_algorithm;
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) if matches!(declared, None | Some(KeyAlgorithm::RS256)) => {
            Algorithm::RS256
        }
        AlgorithmParameters::EllipticCurve(ec)
            if ec.curve == EllipticCurve::P256
                && matches!(declared, None | Some(KeyAlgorithm::ES256)) =>
        {
            Algorithm::ES256
        }
        _ => return None,
    };
    Some(SigningKey {
        kid: jwk.common.key_id.clone(),
        alg,
        key: DecodingKey::from_jwk(&jwk).ok()?,
    })
}

/// A URL the keys may be fetched from: https, or http to this machine only (a local issuer in
/// development and tests), so keys never travel in clear over a network.
pub(super) fn fetchable_url(url: &str) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("'{url}' is not a URL: {e}"))?;
    let host = parsed.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        _ => Err(format!(
            "'{url}' must be https (http only on localhost or a loopback address)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_over_https_or_from_this_machine() {
        for ok in [
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X",
            "http://localhost:3000",
            "http://127.0.0.1:9/x",
            "http://[::1]:9",
        ] {
            assert!(fetchable_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://issuer.example",
            "ftp://localhost",
            "not a url",
            "http://10.0.0.1",
        ] {
            assert!(fetchable_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_rs256_and_es256_signing_keys_are_kept() {
        let rsa = serde_json::json!({"kty": "RSA", "kid": "r", "n": "sXch", "e": "AQAB"});
        let ec = serde_json::json!({"kty": "EC", "kid": "e", "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
        assert_eq!(signing_key(&rsa).map(|k| k.alg), Some(Algorithm::RS256));
        assert_eq!(signing_key(&ec).map(|k| k.alg), Some(Algorithm::ES256));
        for other in [
            serde_json::json!({"kty": "oct", "k": "c2VjcmV0"}),
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
            serde_json::json!({"kty": "RSA", "use": "enc", "n": "sXch", "e": "AQAB"}),
            serde_json::json!({"kty": "RSA", "alg": "RS512", "n": "sXch", "e": "AQAB"}),
            serde_json::json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}),
            serde_json::json!({"kty": "XYZ"}),
            serde_json::json!("not an object"),
        ] {
            assert!(signing_key(&other).is_none(), "{other}");
        }
    }
}
