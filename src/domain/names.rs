//! Validated names: the strings that identify a book and its formats.
//!
//! Each newtype can only be built through its validating constructor, so code past the HTTP
//! edge never re-checks a string (parse, don't validate).

use std::fmt;

/// Why a candidate string was refused; the caller knows which field it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The string is empty.
    #[error("must not be empty")]
    Empty,
    /// The string has more code points than allowed.
    #[error("must be at most {max} characters, got {actual}")]
    TooLong {
        /// The most allowed.
        max: usize,
        /// How many the string has.
        actual: usize,
    },
    /// The string contains a Unicode control character (category Cc).
    #[error("must not contain control characters")]
    ControlCharacter,
    /// The string starts or ends with Unicode white space.
    #[error("must not start or end with whitespace")]
    SurroundingWhitespace,
}

impl NameError {
    /// The error, saying which part of a field it is about (`format id must not be empty`).
    pub fn of(self, what: &'static str) -> NamedError {
        NamedError { what, error: self }
    }
}

/// A [`NameError`] about a named part of a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {error}")]
pub struct NamedError {
    what: &'static str,
    error: NameError,
}

/// Checks the rules the contract gives for every name: 1..=max code points, no Cc, no outer White_Space.
fn check(value: &str, max: usize) -> Result<(), NameError> {
    let count = value.chars().count();
    if count == 0 {
        return Err(NameError::Empty);
    }
    if count > max {
        return Err(NameError::TooLong { max, actual: count });
    }
    // char::is_control is exactly category Cc (C0, DEL and C1).
    if value.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    // char::is_whitespace is the Unicode White_Space property (NBSP and U+3000 included).
    let first = value.chars().next().is_some_and(char::is_whitespace);
    let last = value.chars().next_back().is_some_and(char::is_whitespace);
    if first || last {
        return Err(NameError::SurroundingWhitespace);
    }
    Ok(())
}

macro_rules! validated_name {
    ($(#[$doc:meta])* $name:ident, max = $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The longest accepted value, in Unicode code points.
            pub const MAX_CHARS: usize = $max;

            /// Validates `value` and wraps it.
            pub fn parse(value: impl Into<String>) -> Result<Self, NameError> {
                let value = value.into();
                check(&value, Self::MAX_CHARS)?;
                Ok(Self(value))
            }

            /// The validated string.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Gives the validated string back.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

validated_name!(
    /// A book's author: the table's partition key.
    Author,
    max = 256
);
validated_name!(
    /// A book's title: the table's sort key.
    Title,
    max = 256
);
validated_name!(
    /// A book's category: the partition key of `CategoryIndex`.
    Category,
    max = 256
);
validated_name!(
    /// The name of a format, such as `Hardcover`: a key of the `Formats` map.
    FormatName,
    max = 64
);
validated_name!(
    /// The identifier of a book in one format, such as `J4SUKVGU`.
    FormatId,
    max = 64
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_limits_in_code_points() {
        assert!(Title::parse("東".repeat(256)).is_ok());
        assert_eq!(
            Title::parse("東".repeat(257)),
            Err(NameError::TooLong {
                max: 256,
                actual: 257
            })
        );
        assert!(FormatName::parse("a".repeat(64)).is_ok());
        assert!(FormatName::parse("a".repeat(65)).is_err());
    }

    #[test]
    fn refuses_empty_control_and_outer_whitespace() {
        assert_eq!(Author::parse(""), Err(NameError::Empty));
        for bad in ["a\u{0}b", "a\u{7f}", "a\u{85}b", "tab\there"] {
            assert_eq!(
                Author::parse(bad),
                Err(NameError::ControlCharacter),
                "{bad:?}"
            );
        }
        for bad in [" a", "a ", "\u{a0}a", "a\u{3000}"] {
            assert_eq!(
                Author::parse(bad),
                Err(NameError::SurroundingWhitespace),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn keeps_inner_whitespace_and_punctuation() {
        for good in ["Yes/No", "a b", "#?%+", "Dr. Seuss", "a\u{a0}b"] {
            assert_eq!(Title::parse(good).unwrap().as_str(), good);
        }
    }
}
