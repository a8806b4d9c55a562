//! The request id: the caller's, when it is safe to echo and log, or a fresh UUID.
//!
//! Not tower-http's `SetRequestIdLayer`: it keeps whatever id the caller sent and makes one only
//! when the header is missing, so it cannot express the rule here (a malformed or repeated id is
//! replaced, never echoed into logs).

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use uuid::Uuid;

/// The request-id header, taken from the caller or generated.
pub(super) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest caller-supplied request id kept; longer ones are replaced.
pub(super) const MAX_REQUEST_ID_LEN: usize = 128;

/// Whether a caller's request id is safe to echo and log: 1 to [`MAX_REQUEST_ID_LEN`] characters
/// of `[A-Za-z0-9._:-]`. Anything else (spaces, quotes, kilobytes) could forge or bloat log lines.
pub(super) fn is_acceptable_request_id(value: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&value.len())
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// The request's id: the caller's single acceptable `X-Request-Id`, or else a new UUID, which then
/// replaces whatever the caller sent (nothing, a malformed id, or several), so that handlers and
/// logs downstream see the id the response carries.
pub(super) fn assign(headers: &mut HeaderMap) -> HeaderValue {
    if let Some(kept) = callers_id(headers) {
        return kept;
    }
    let mut buffer = Uuid::encode_buffer();
    let fresh = Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
    let fresh = HeaderValue::from_str(fresh).expect("a UUID is a valid header value");
    headers.insert(REQUEST_ID, fresh.clone());
    fresh
}

/// The caller's id, if it sent exactly one and it is acceptable.
fn callers_id(headers: &HeaderMap) -> Option<HeaderValue> {
    let mut given = headers.get_all(REQUEST_ID).iter();
    match (given.next(), given.next()) {
        (Some(value), None) if is_acceptable_request_id(value.as_bytes()) => Some(value.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(ids: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for id in ids {
            headers.append(REQUEST_ID, HeaderValue::from_str(id).unwrap());
        }
        headers
    }

    #[test]
    fn keeps_a_single_acceptable_id() {
        let mut given = headers(&["abc-123"]);
        assert_eq!(assign(&mut given), "abc-123");
        assert_eq!(given.get_all(REQUEST_ID).iter().count(), 1);
    }

    #[test]
    fn replaces_missing_malformed_or_repeated_ids_with_one_uuid() {
        for ids in [&[][..], &["has space"], &["a", "b"]] {
            let mut given = headers(ids);
            let id = assign(&mut given);
            assert!(Uuid::parse_str(id.to_str().unwrap()).is_ok(), "{id:?}");
            let sent: Vec<_> = given.get_all(REQUEST_ID).iter().collect();
            assert_eq!(sent, [&id]);
        }
    }
}
