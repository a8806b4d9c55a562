//! Which revision of a book a client saw, and what it expects the stored book to be.
//!
//! A revision is the book's `version` plus its incarnation: a random token set when the book is
//! created and kept until it is deleted. Versions start at 1 again when a deleted book is created
//! anew, so the version alone would let a tag taken from the old book match the new one.

use std::fmt;

/// Length of an incarnation token: 64 random bits as hex.
pub const INCARNATION_LEN: usize = 16;

/// One stored state of a book, as its entity tag names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Revision {
    /// The optimistic-concurrency counter (0 for items no write of ours has touched).
    pub version: u64,
    /// The book's incarnation; `None` for items written by other tools that never got one.
    pub incarnation: Option<String>,
}

impl Revision {
    /// A fresh incarnation token for a book being created.
    pub fn new_incarnation() -> String {
        let mut token = uuid::Uuid::new_v4().simple().to_string();
        token.truncate(INCARNATION_LEN);
        token
    }

    /// Reads an entity tag's opaque text, exactly as [`fmt::Display`] writes it.
    ///
    /// Anything else (`"01"`, `"1.ABC"`, `"x"`) names no revision, so it matches no book: tags
    /// compare as strings, never as numbers.
    pub fn parse_tag(tag: &str) -> Option<Self> {
        let (version, incarnation) = match tag.split_once('.') {
            Some((v, i)) => (v, Some(i)),
            None => (tag, None),
        };
        let canonical = version == "0" || (!version.starts_with('0') && !version.is_empty());
        if !canonical || !version.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let version = version.parse().ok()?;
        if let Some(i) = incarnation {
            let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
            if i.len() != INCARNATION_LEN || !i.bytes().all(hex) {
                return None;
            }
        }
        Some(Self {
            version,
            incarnation: incarnation.map(str::to_owned),
        })
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.incarnation {
            Some(i) => write!(f, "{}.{i}", self.version),
            None => write!(f, "{}", self.version),
        }
    }
}

/// The entity tags one precondition header lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagMatch {
    /// `*`: any stored book.
    Any,
    /// These revisions; tags that name no revision are already dropped, so it may be empty.
    Revisions(Vec<Revision>),
}

impl TagMatch {
    fn matches(&self, stored: &Revision) -> bool {
        match self {
            Self::Any => true,
            Self::Revisions(list) => list.contains(stored),
        }
    }
}

/// What the stored book must look like for a write to go ahead (`If-Match` / `If-None-Match`).
///
/// Both headers are evaluated, `If-Match` first, as RFC 9110 §13.2.2 orders them; a write goes
/// ahead only if both hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expectation {
    /// `If-Match`: the book must exist and, unless `*`, be one of these revisions.
    pub if_match: Option<TagMatch>,
    /// `If-None-Match`: the book must be absent or, unless `*`, be none of these revisions.
    pub if_none_match: Option<TagMatch>,
}

impl Expectation {
    /// No precondition.
    pub fn none() -> Self {
        Self::default()
    }

    /// The book must exist, any revision.
    pub fn exists() -> Self {
        Self {
            if_match: Some(TagMatch::Any),
            if_none_match: None,
        }
    }

    /// The book must not exist.
    pub fn absent() -> Self {
        Self {
            if_match: None,
            if_none_match: Some(TagMatch::Any),
        }
    }

    /// The book must be exactly this revision.
    pub fn revision(revision: Revision) -> Self {
        Self {
            if_match: Some(TagMatch::Revisions(vec![revision])),
            if_none_match: None,
        }
    }

    /// Whether a stored book at `stored` (`None`: no book) meets the expectation.
    pub fn holds_for(&self, stored: Option<&Revision>) -> bool {
        let if_match = match (&self.if_match, stored) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(tags), Some(stored)) => tags.matches(stored),
        };
        let if_none_match = match (&self.if_none_match, stored) {
            (None, _) | (Some(_), None) => true,
            (Some(tags), Some(stored)) => !tags.matches(stored),
        };
        if_match && if_none_match
    }

    /// Whether the client stated any precondition at all.
    pub fn is_conditional(&self) -> bool {
        self.if_match.is_some() || self.if_none_match.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(version: u64, incarnation: Option<&str>) -> Revision {
        Revision {
            version,
            incarnation: incarnation.map(str::to_owned),
        }
    }

    #[test]
    fn tags_round_trip_and_compare_as_strings() {
        let token = Revision::new_incarnation();
        assert_eq!(token.len(), INCARNATION_LEN);
        for r in [rev(0, None), rev(7, None), rev(12, Some(&token))] {
            assert_eq!(Revision::parse_tag(&r.to_string()), Some(r));
        }
        for bad in [
            "",
            "01",
            "001",
            "+1",
            "1.",
            "1.ABCDEF0123456789",
            "1.abc",
            "x",
            "1 ",
            "-1",
        ] {
            assert_eq!(Revision::parse_tag(bad), None, "{bad:?}");
        }
        assert_ne!(Revision::new_incarnation(), token);
    }

    #[test]
    fn both_headers_must_hold_as_rfc_9110_orders_them() {
        let stored = rev(2, Some("0123456789abcdef"));
        let listed = |r: &Revision| Some(TagMatch::Revisions(vec![r.clone()]));
        assert!(Expectation::none().holds_for(None));
        assert!(!Expectation::exists().holds_for(None));
        assert!(Expectation::exists().holds_for(Some(&stored)));
        assert!(Expectation::absent().holds_for(None));
        assert!(!Expectation::absent().holds_for(Some(&stored)));
        assert!(Expectation::revision(stored.clone()).holds_for(Some(&stored)));
        // Same version, another incarnation: the book was deleted and created again.
        let reborn = rev(2, Some("fedcba9876543210"));
        assert!(!Expectation::revision(stored.clone()).holds_for(Some(&reborn)));
        // If-Match that holds with If-None-Match: * on an existing book: 412 (§13.2.2).
        let both = Expectation {
            if_match: listed(&stored),
            if_none_match: Some(TagMatch::Any),
        };
        assert!(!both.holds_for(Some(&stored)));
        let not_this = Expectation {
            if_match: None,
            if_none_match: listed(&stored),
        };
        assert!(not_this.holds_for(None));
        assert!(!not_this.holds_for(Some(&stored)));
        assert!(not_this.holds_for(Some(&reborn)));
    }
}
