//! ETags and the `If-Match` / `If-None-Match` headers (RFC 9110 §8.8.3, §13.1).
//!
//! A book's ETag is the strong tag `"<version>.<incarnation>"` (see [`Revision`]): it changes on
//! every write and never repeats for a key, not even across a delete and a re-create. Preconditions
//! on writes become an [`Expectation`] that the repository turns into a DynamoDB condition, never a
//! read-then-write.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, HeaderName, HeaderValue, header, request::Parts},
};

use super::{extract::BookPath, problem::ApiError, schemas::EntityTags};
use crate::domain::{BookKey, Expectation, Revision, TagMatch};

/// Most entity tags accepted in one header. Each becomes a clause of about 60 characters in the
/// ConditionExpression, so two full headers stay well inside DynamoDB's 4 KB expression limit.
const MAX_TAGS: usize = 16;

/// One parsed `If-Match` / `If-None-Match` header.
#[derive(Debug, PartialEq, Eq)]
enum TagList {
    Any,
    /// (weak, opaque-tag) pairs.
    Tags(Vec<(bool, String)>),
}

fn parse_tag_list(name: &HeaderName, headers: &HeaderMap) -> Result<Option<TagList>, ApiError> {
    let values: Vec<&HeaderValue> = headers.get_all(name).iter().collect();
    if values.is_empty() {
        return Ok(None);
    }
    let bad = || {
        ApiError::BadRequest(format!(
            "malformed {name} header: expected * or a list of \"quoted\" entity tags"
        ))
    };
    let mut tags = Vec::new();
    for value in values {
        let text = value.to_str().map_err(|_| bad())?;
        if text.trim_matches(' ') == "*" {
            return Ok(Some(TagList::Any));
        }
        // RFC 9110 §5.6.1: a list may hold empty elements, which are ignored. Matches
        // `schemas::ENTITY_TAGS_PATTERN`, which documents exactly what this accepts.
        let mut rest = text.trim_start_matches([' ', ',']);
        while !rest.is_empty() {
            let weak = rest.starts_with("W/");
            let after = rest.strip_prefix("W/").unwrap_or(rest);
            let after = after.strip_prefix('"').ok_or_else(bad)?;
            let end = after.find('"').ok_or_else(bad)?;
            let tag = &after[..end];
            if !tag.bytes().all(|b| b == 0x21 || (0x23..=0x7e).contains(&b)) {
                return Err(bad());
            }
            tags.push((weak, tag.to_owned()));
            rest = after[end + 1..].trim_start_matches(' ');
            match rest.strip_prefix(',') {
                Some(next) => rest = next.trim_start_matches([' ', ',']),
                None if rest.is_empty() => {}
                None => return Err(bad()),
            }
        }
    }
    if tags.is_empty() {
        return Err(bad());
    }
    if tags.len() > MAX_TAGS {
        return Err(ApiError::BadRequest(format!(
            "{name} lists more than {MAX_TAGS} entity tags"
        )));
    }
    Ok(Some(TagList::Tags(tags)))
}

/// Revisions named by tags. A tag that is not one of ours names none and can never match.
fn revisions(tags: &[(bool, String)], allow_weak: bool) -> Vec<Revision> {
    tags.iter()
        .filter(|(weak, _)| allow_weak || !weak)
        .filter_map(|(_, tag)| Revision::parse_tag(tag))
        .collect()
}

/// What one header asks, with `If-Match`'s strong or `If-None-Match`'s weak comparison.
fn tag_match(list: TagList, allow_weak: bool) -> TagMatch {
    match list {
        TagList::Any => TagMatch::Any,
        TagList::Tags(tags) => TagMatch::Revisions(revisions(&tags, allow_weak)),
    }
}

/// The precondition of a write: `If-Match` (strong comparison) and `If-None-Match` (weak
/// comparison), both evaluated, in the order RFC 9110 §13.2.2 gives.
#[derive(Debug)]
pub(super) struct WritePrecondition(pub Expectation);

impl<S: Send + Sync> FromRequestParts<S> for WritePrecondition {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let if_match = parse_tag_list(&header::IF_MATCH, &parts.headers)?;
        let if_none_match = parse_tag_list(&header::IF_NONE_MATCH, &parts.headers)?;
        // Even an If-Match that names no revision of ours goes to DynamoDB as a condition that
        // fails: its answer carries the stored book, which the 412 hands back.
        Ok(Self(Expectation {
            if_match: if_match.map(|l| tag_match(l, false)),
            if_none_match: if_none_match.map(|l| tag_match(l, true)),
        }))
    }
}

/// A write to one book: its validated key and its precondition, read in that order (an invalid
/// name is a 422 even when a precondition header is malformed too).
#[derive(Debug)]
pub(super) struct BookWrite {
    /// The book's key, from the path.
    pub key: BookKey,
    /// What `If-Match` / `If-None-Match` require of the stored book.
    pub expectation: Expectation,
}

impl<S: Send + Sync> FromRequestParts<S> for BookWrite {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let BookPath(key) = BookPath::from_request_parts(parts, state).await?;
        let WritePrecondition(expectation) =
            WritePrecondition::from_request_parts(parts, state).await?;
        Ok(Self { key, expectation })
    }
}

/// Whether a GET's `If-None-Match` matches the current revision, so a 304 is due.
pub(super) fn not_modified(headers: &HeaderMap, current: &Revision) -> Result<bool, ApiError> {
    Ok(match parse_tag_list(&header::IF_NONE_MATCH, headers)? {
        None => false,
        Some(TagList::Any) => true,
        Some(TagList::Tags(tags)) => revisions(&tags, true).contains(current),
    })
}

// The header parameters that several routes document alike; a route whose header means something
// of its own (`*`, create-only) lists it inline. Doc comments are the descriptions, as published.

/// The `If-Match` of the format routes, for the OpenAPI document.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // utoipa reads its shape; `WritePrecondition` reads the header itself.
pub(super) struct IfMatchParam {
    /// Write only if the stored ETag is listed
    #[param(rename = "If-Match", value_type = Option<EntityTags>, inline)]
    if_match: Option<String>,
}

/// The `If-None-Match` of `GET` and `HEAD` of a book, for the OpenAPI document.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // utoipa reads its shape; `not_modified` reads the header itself.
pub(super) struct IfNoneMatchParam {
    /// ETags (or `*`); a match answers 304
    #[param(rename = "If-None-Match", value_type = Option<EntityTags>, inline)]
    if_none_match: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: HeaderName, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.append(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn parses_lists_stars_and_weak_tags() {
        let h = headers(header::IF_MATCH, r#""1", W/"2" ,"x""#);
        assert_eq!(
            parse_tag_list(&header::IF_MATCH, &h).unwrap(),
            Some(TagList::Tags(vec![
                (false, "1".into()),
                (true, "2".into()),
                (false, "x".into())
            ]))
        );
        let h = headers(header::IF_MATCH, "*");
        assert_eq!(
            parse_tag_list(&header::IF_MATCH, &h).unwrap(),
            Some(TagList::Any)
        );
    }

    #[test]
    fn ignores_empty_list_elements() {
        let h = headers(header::IF_MATCH, r#", "1",, W/"2" ,"#);
        assert_eq!(
            parse_tag_list(&header::IF_MATCH, &h).unwrap(),
            Some(TagList::Tags(vec![(false, "1".into()), (true, "2".into())]))
        );
    }

    #[test]
    fn refuses_unquoted_tags() {
        for bad in ["1", "\"1", "\"1\" \"2\"", ",", "\"a b\"", "null"] {
            let h = headers(header::IF_MATCH, bad);
            assert!(parse_tag_list(&header::IF_MATCH, &h).is_err(), "{bad}");
        }
    }

    #[test]
    fn if_match_compares_strongly_and_if_none_match_weakly() {
        let rev = |version| Revision {
            version,
            incarnation: None,
        };
        let tags = vec![(true, "2".to_string()), (false, "3".to_string())];
        assert_eq!(revisions(&tags, false), vec![rev(3)]);
        assert_eq!(revisions(&tags, true), vec![rev(2), rev(3)]);
        let h = headers(header::IF_NONE_MATCH, r#"W/"2""#);
        assert!(not_modified(&h, &rev(2)).unwrap());
        assert!(!not_modified(&h, &rev(3)).unwrap());
        // Tags compare as strings: "002" is not "2".
        let h = headers(header::IF_NONE_MATCH, r#""002""#);
        assert!(!not_modified(&h, &rev(2)).unwrap());
    }
}
