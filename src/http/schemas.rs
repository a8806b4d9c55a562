//! OpenAPI schemas the derives cannot express: the contract's name rules as JSON Schema (length
//! in code points, no control characters, no outer whitespace), the formats map, entity tags.
//!
//! They only describe; validation itself lives in `domain`. The tests below keep the patterns
//! honest: each must accept exactly what the code accepts.

use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        RefOr, Schema,
        schema::{ObjectBuilder, Type},
    },
};

use crate::domain::{
    Author, FormatId as FormatIdValue, FormatName as FormatNameValue, MAX_FORMATS, Title,
};

/// Unicode category Cc: C0, DEL and C1.
const CONTROL: &str = r"\u0000-\u001f\u007f-\u009f";
/// Unicode White_Space outside Cc.
const SPACE: &str = r"\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// The regular expression of a name: no control characters, no whitespace at either end.
pub(super) fn name_pattern() -> String {
    format!("^[^{CONTROL}{SPACE}](?:[^{CONTROL}]*[^{CONTROL}{SPACE}])?$")
}

/// The regular expression of an `If-Match` / `If-None-Match` value: `*` or a list of entity
/// tags, empty list elements allowed (RFC 9110 §5.6.1).
pub(super) const ENTITY_TAGS_PATTERN: &str =
    r#"^(\*|[ ,]*(W/)?"[\x21\x23-\x7e]*"( *,[ ,]*(W/)?"[\x21\x23-\x7e]*")*[ ,]*)$"#;

fn name(max: usize, description: &str, example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(name_pattern()))
        .description(Some(description))
        .examples([example])
        .into()
}

macro_rules! schema {
    ($(#[$doc:meta])* $type:ident => $schema:expr) => {
        $(#[$doc])*
        pub(crate) struct $type;

        impl PartialSchema for $type {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }

        impl ToSchema for $type {}
    };
}

/// The longest author, title or category, which one schema describes (a test checks they agree).
const NAME_MAX: usize = Author::MAX_CHARS;

schema!(
    /// An author, title or category.
    Name => name(NAME_MAX, &format!("1 to {NAME_MAX} characters, no control characters, no leading or trailing whitespace"), "John Grisham")
);
schema!(
    /// The name of a format.
    FormatName => name(FormatNameValue::MAX_CHARS, &format!("A format name: 1 to {} characters, no control characters, no leading or trailing whitespace", FormatNameValue::MAX_CHARS), "Hardcover")
);
schema!(
    /// The id of a book in one format.
    FormatId => name(FormatIdValue::MAX_CHARS, &format!("A format id: 1 to {} characters, no control characters, no leading or trailing whitespace", FormatIdValue::MAX_CHARS), "J4SUKVGU")
);
schema!(
    /// Format name to id, at most 32 entries.
    Formats => ObjectBuilder::new()
        .schema_type(Type::Object)
        .max_properties(Some(MAX_FORMATS))
        .property_names(Some(match FormatName::schema() {
            RefOr::T(schema) => schema,
            RefOr::Ref(_) => unreachable!("FormatName is an inline schema"),
        }))
        .additional_properties(Some(FormatId::schema()))
        .description(Some(format!("Format name to format id, at most {MAX_FORMATS} entries")))
        .examples([serde_json::json!({"Hardcover": "J4SUKVGU", "Paperback": "D7YF4FCX"})])
        .into()
);
schema!(
    /// A list of entity tags, or `*`.
    EntityTags => ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(ENTITY_TAGS_PATTERN))
        .description(Some("`*` or a comma-separated list of entity tags such as `\"3\"`"))
        .examples(["\"1\""])
        .into()
);
schema!(
    /// A title prefix for listings.
    TitlePrefix => ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(Title::MAX_CHARS))
        .pattern(Some(format!("^[^{CONTROL}]*$")))
        .description(Some("Only titles starting with this; empty means no filter"))
        .examples(["The"])
        .into()
);

schema!(
    /// A name prefix for the catalogue.
    NamePrefix => ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(Title::MAX_CHARS))
        .pattern(Some(format!("^[^{CONTROL}]*$")))
        .description(Some("Only names starting with this; empty means no filter"))
        .examples(["Sus"])
        .into()
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Category;

    const SAMPLES: &[&str] = &[
        "Hamlet",
        "Yes/No",
        "a b",
        "東京",
        "#?%+",
        "x",
        "a\u{a0}b",
        "tab\tinside",
        "a\u{85}b",
        "\u{7f}",
        " lead",
        "trail ",
        "\u{a0}nbsp",
        "ideo\u{3000}",
        "\u{2028}",
        "a\u{0}b",
        "\u{9f}",
        "\u{1680}x",
        "x\u{202f}",
        "\u{200b}zero-width is not White_Space",
    ];

    #[test]
    fn the_name_pattern_accepts_exactly_the_valid_names() {
        let pattern = regex::Regex::new(&name_pattern()).unwrap();
        for sample in SAMPLES {
            assert_eq!(
                pattern.is_match(sample),
                Title::parse(*sample).is_ok(),
                "{sample:?}"
            );
        }
    }

    #[test]
    fn one_name_schema_fits_authors_titles_and_categories() {
        assert_eq!(NAME_MAX, Title::MAX_CHARS);
        assert_eq!(NAME_MAX, Category::MAX_CHARS);
    }

    #[test]
    fn the_entity_tag_pattern_matches_the_parser() {
        let pattern = regex::Regex::new(ENTITY_TAGS_PATTERN).unwrap();
        for good in ["*", "\"1\"", "W/\"1\"", "\"1\", \"2\"", ", \"1\",,", "\"\""] {
            assert!(pattern.is_match(good), "{good}");
        }
        for bad in ["1", "null", "\"1\" \"2\"", ",", "\"a b\"", "* , \"1\"", ""] {
            assert!(!pattern.is_match(bad), "{bad}");
        }
    }
}
