//! A merge patch of a book's content (RFC 7396's semantics, without its media type).

use std::collections::{BTreeMap, BTreeSet};

use super::{
    book::{FormatChange, FormatChangeError, MAX_FORMATS},
    names::{Category, FormatName},
    validation::{FieldError, Validator},
};

/// A change to a book's content: a new category, a change to its formats, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookPatch {
    category: Option<Category>,
    formats: FormatChange,
}

impl BookPatch {
    /// Validates a patch. In `formats` a name mapped to an id sets that format and a name mapped
    /// to `None` removes it. A patch that changes nothing is refused under `body`, or under
    /// `formats` when that is all it holds, since every write bumps the version.
    pub fn parse(
        category: Option<String>,
        formats: Option<BTreeMap<String, Option<String>>>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut v = Validator::default();
        let category = category.map(|c| v.check("category", Category::parse(c)));
        let named_formats = formats.is_some();
        let (set, remove): (BTreeMap<_, _>, BTreeMap<_, _>) = formats
            .unwrap_or_default()
            .into_iter()
            .partition(|(_, id)| id.is_some());
        let set = v.formats(
            "formats",
            set.into_iter()
                .filter_map(|(name, id)| id.map(|id| (name, id)))
                .collect(),
        );
        let remove = removals(&mut v, remove.into_keys().collect());
        let patch = set.zip(remove).and_then(|(set, remove)| {
            let formats = match FormatChange::new(set, remove) {
                Ok(change) => change,
                Err(FormatChangeError::Empty) => FormatChange::default(),
                Err(e) => {
                    v.push(FieldError::new("formats", e));
                    return None;
                }
            };
            let category = match category {
                Some(parsed) => Some(parsed?),
                None => None,
            };
            if category.is_none() && formats == FormatChange::default() {
                let field = if named_formats { "formats" } else { "body" };
                v.push(FieldError::new(
                    field,
                    "the patch changes nothing: it must set `category` or name a format",
                ));
                return None;
            }
            Some(Self { category, formats })
        });
        v.finish(patch)
    }

    /// The new category, if the patch sets one.
    pub fn category(&self) -> Option<&Category> {
        self.category.as_ref()
    }

    /// The change to the formats; empty when the patch leaves them alone.
    pub fn formats(&self) -> &FormatChange {
        &self.formats
    }
}

/// The format names a patch maps to `null`, or `None` if any is invalid.
fn removals(v: &mut Validator, names: Vec<String>) -> Option<BTreeSet<FormatName>> {
    // Refused before each name is checked, as the format routes do.
    if names.len() > MAX_FORMATS {
        v.push(FieldError::new(
            "formats",
            FormatChangeError::TooManyRemoved(names.len()),
        ));
        return None;
    }
    // Every name is checked (into a Vec) before one bad name makes the whole set None.
    let parsed: Vec<Option<FormatName>> = names
        .into_iter()
        .map(|name| {
            v.check(
                &format!("formats.{name}"),
                FormatName::parse(name).map_err(|e| e.of("format name")),
            )
        })
        .collect();
    parsed.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(result: Result<BookPatch, Vec<FieldError>>) -> Vec<String> {
        result.unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn sets_and_removes_by_value() {
        let formats = BTreeMap::from([
            ("Audiobook".to_string(), Some("8WE3KPTP".to_string())),
            ("Paperback".to_string(), None),
        ]);
        let patch = BookPatch::parse(Some("Drama".into()), Some(formats)).unwrap();
        assert_eq!(patch.category().unwrap().as_str(), "Drama");
        assert_eq!(patch.formats().add().len(), 1);
        assert_eq!(
            patch.formats().remove().iter().next().unwrap().as_str(),
            "Paperback"
        );
    }

    #[test]
    fn a_patch_must_change_something() {
        assert_eq!(fields(BookPatch::parse(None, None)), ["body"]);
        assert_eq!(
            fields(BookPatch::parse(None, Some(BTreeMap::new()))),
            ["formats"]
        );
        let category_only = BookPatch::parse(Some("Drama".into()), Some(BTreeMap::new())).unwrap();
        assert_eq!(category_only.formats(), &FormatChange::default());
    }

    #[test]
    fn names_every_bad_field() {
        let formats = BTreeMap::from([
            (" padded".to_string(), None),
            ("Hardcover".to_string(), Some("".to_string())),
        ]);
        assert_eq!(
            fields(BookPatch::parse(Some("".into()), Some(formats))),
            ["category", "formats.Hardcover", "formats. padded"]
        );
        let bad_removal = BTreeMap::from([("\u{0}".to_string(), None)]);
        assert_eq!(
            fields(BookPatch::parse(None, Some(bad_removal))),
            ["formats.\u{0}"]
        );
        let many = (0..33).map(|i| (format!("F{i}"), None)).collect();
        assert_eq!(fields(BookPatch::parse(None, Some(many))), ["formats"]);
    }
}
