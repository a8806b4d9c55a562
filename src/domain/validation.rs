//! Turning raw strings into validated domain values, collecting every problem with its field.

use std::collections::{BTreeMap, HashMap};

use super::{
    book::{BookContent, BookKey, Formats, MAX_FORMATS, NewBook},
    names::{Author, Category, FormatId, FormatName, Title},
};

/// One field that failed validation, named as the contract (README, OpenAPI) names fields (`formats.Hardcover`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path, such as `title` or `books[3].formats.Audiobook`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl ToString) -> Self {
        Self {
            field: field.into(),
            message: message.to_string(),
        }
    }

    /// The same error under a parent path (`books[3]`).
    pub fn within(self, parent: &str) -> Self {
        Self {
            field: format!("{parent}.{}", self.field),
            message: self.message,
        }
    }
}

/// Collects field errors while several values are parsed.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    /// Parses one value, remembering the error under `field` if it fails.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        parsed: Result<T, E>,
    ) -> Option<T> {
        parsed
            .map_err(|e| self.errors.push(FieldError::new(field, e)))
            .ok()
    }

    /// Records an error that is not about one parsed value.
    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    /// Parses a raw formats map (`formats.<name>` fields), or `None` if any entry is invalid.
    pub fn formats(&mut self, field: &str, raw: BTreeMap<String, String>) -> Option<Formats> {
        if raw.len() > MAX_FORMATS {
            self.push(FieldError::new(
                field,
                format!("at most {MAX_FORMATS} formats, got {}", raw.len()),
            ));
            return None;
        }
        let before = self.errors.len();
        let mut formats = Formats::new();
        for (name, id) in raw {
            let path = format!("{field}.{name}");
            // Both errors land on the same field, so each says whether it is the name or the id.
            let name = self.check(
                &path,
                FormatName::parse(name).map_err(|e| e.of("format name")),
            );
            let id = self.check(&path, FormatId::parse(id).map_err(|e| e.of("format id")));
            if let (Some(name), Some(id)) = (name, id) {
                formats.insert(name, id);
            }
        }
        (self.errors.len() == before).then_some(formats)
    }

    /// A value made of two parsed parts if nothing failed, else every error collected.
    pub fn finish_both<A, B, T>(
        self,
        a: Option<A>,
        b: Option<B>,
        make: impl FnOnce(A, B) -> T,
    ) -> Result<T, Vec<FieldError>> {
        self.finish(a.zip(b).map(|(a, b)| make(a, b)))
    }

    /// The value if nothing failed, else every error collected.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Vec<FieldError>> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ => Err(self.errors),
        }
    }
}

impl BookKey {
    /// Validates an author and title.
    pub fn parse(author: String, title: String) -> Result<Self, Vec<FieldError>> {
        let mut v = Validator::default();
        let author = v.check("author", Author::parse(author));
        let title = v.check("title", Title::parse(title));
        v.finish_both(author, title, |author, title| Self { author, title })
    }
}

impl BookContent {
    /// Validates a category and formats (absent formats are an empty map).
    pub fn parse(
        category: String,
        formats: Option<BTreeMap<String, String>>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut v = Validator::default();
        let category = v.check("category", Category::parse(category));
        let formats = v.formats("formats", formats.unwrap_or_default());
        v.finish_both(category, formats, |category, formats| Self {
            category,
            formats,
        })
    }
}

impl NewBook {
    /// Validates a whole book.
    pub fn parse(
        author: String,
        title: String,
        category: String,
        formats: Option<BTreeMap<String, String>>,
    ) -> Result<Self, Vec<FieldError>> {
        match (
            BookKey::parse(author, title),
            BookContent::parse(category, formats),
        ) {
            (Ok(key), Ok(content)) => Ok(Self { key, content }),
            (key, content) => Err(key
                .err()
                .unwrap_or_default()
                .into_iter()
                .chain(content.err().unwrap_or_default())
                .collect()),
        }
    }
}

/// Whether a list of books may name one book twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeats {
    /// Each repeat is an error naming the first (a batch writes every book exactly once).
    Refused,
    /// Repeats pass (a seed file: the second is kept as the first left it).
    Allowed,
}

impl NewBook {
    /// Validates a list of books as one, each as [`NewBook::parse`] found it, so that every
    /// problem is reported at once: each book's errors are named by position, `{list}[3].title`.
    pub fn parse_list(
        list: &str,
        books: impl IntoIterator<Item = Result<Self, Vec<FieldError>>>,
        repeats: Repeats,
    ) -> Result<Vec<Self>, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut valid = Vec::new();
        let mut seen: HashMap<BookKey, usize> = HashMap::new();
        for (i, parsed) in books.into_iter().enumerate() {
            let parent = format!("{list}[{i}]");
            match parsed {
                Ok(book) => {
                    if let Some(first) = seen.insert(book.key.clone(), i)
                        && repeats == Repeats::Refused
                    {
                        errors.push(FieldError::new(
                            parent,
                            format!("duplicates {list}[{first}]"),
                        ));
                    }
                    valid.push(book);
                }
                Err(e) => errors.extend(e.into_iter().map(|e| e.within(&parent))),
            }
        }
        if errors.is_empty() {
            Ok(valid)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_bad_field_by_name() {
        let formats = BTreeMap::from([
            ("Hardcover".to_string(), " padded".to_string()),
            ("Paperback".to_string(), "OK".to_string()),
        ]);
        let errors =
            NewBook::parse("".into(), "Fine".into(), "x".repeat(257), Some(formats)).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["author", "category", "formats.Hardcover"]);
    }

    #[test]
    fn caps_the_number_of_formats() {
        let formats = (0..33)
            .map(|i| (format!("F{i}"), "id".to_string()))
            .collect();
        let errors = BookContent::parse("Drama".into(), Some(formats)).unwrap_err();
        assert_eq!(errors[0].field, "formats");
    }

    #[test]
    fn names_list_errors_by_position_and_refuses_repeats_when_asked() {
        let book = |title: &str| NewBook::parse("A".into(), title.into(), "C".into(), None);
        let list = || [book("T"), book(""), book("T")];
        let errors = NewBook::parse_list("books", list(), Repeats::Refused).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["books[1].title", "books[2]"]);
        assert_eq!(errors[1].message, "duplicates books[0]");
        let errors = NewBook::parse_list("", list(), Repeats::Allowed).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "[1].title");
        let repeated = NewBook::parse_list("", [book("T"), book("T")], Repeats::Allowed);
        assert_eq!(repeated.unwrap().len(), 2);
    }

    #[test]
    fn nests_fields_under_a_parent() {
        let e = FieldError::new("title", "must not be empty").within("books[3]");
        assert_eq!(e.field, "books[3].title");
    }
}
