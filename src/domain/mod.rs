//! The catalogue's vocabulary: books, their names and the changes asked of them.
//!
//! Nothing here knows about HTTP or DynamoDB.

mod book;
mod names;
mod validation;

pub use book::{
    BatchOutcome, Book, BookContent, BookKey, Expectation, FormatChange, FormatChangeError,
    Formats, MAX_FORMATS, NewBook, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, PAGE_LIMIT_MIN, Page,
    PageRequest, SortOrder,
};
pub use names::{Author, Category, FormatId, FormatName, NameError, Title};
pub use validation::{FieldError, Validator};
