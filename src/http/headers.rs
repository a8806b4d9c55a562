//! Header values more than one part of the HTTP layer writes: a book's entity tag and URL, and
//! the whole seconds of `Retry-After` and `RateLimit`.
//!
//! Handlers, problem documents, recorded idempotent answers and the quota write them; they live
//! apart from any of those so that none has to import another.

use axum::http::HeaderValue;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::domain::{BookKey, Revision};

/// Everything but RFC 3986 unreserved characters is encoded, `/` included.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `wait` in whole seconds, rounded up, at least `min`.
pub(super) fn whole_seconds(wait: std::time::Duration, min: u64) -> u64 {
    (wait.as_secs_f64().ceil() as u64).max(min)
}

/// The `ETag` header value for a revision.
pub(super) fn etag(revision: &Revision) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{revision}\""))
        .expect("digits, hex, a dot and quotes are a valid header")
}

/// The percent-encoded URL of a book.
pub(super) fn location(key: &BookKey) -> HeaderValue {
    let url = format!(
        "/books/{}/{}",
        utf8_percent_encode(key.author.as_str(), SEGMENT),
        utf8_percent_encode(key.title.as_str(), SEGMENT)
    );
    HeaderValue::from_str(&url).expect("percent-encoded text is a valid header")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_encodes_every_reserved_character() {
        let key = BookKey::parse("Dr. Seuss".into(), "Yes/No #?%+ 東".into()).unwrap();
        assert_eq!(
            location(&key),
            "/books/Dr.%20Seuss/Yes%2FNo%20%23%3F%25%2B%20%E6%9D%B1"
        );
    }
}
