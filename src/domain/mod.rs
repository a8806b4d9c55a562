//! The catalogue's vocabulary: books, their names and the changes asked of them.
//!
//! Nothing here knows about HTTP or DynamoDB.

mod book;
mod catalogue;
mod names;
mod patch;
mod revision;
mod validation;

pub use book::{
    BatchOutcome, Book, BookContent, BookKey, FormatChange, FormatChangeError, Formats,
    MAX_FORMATS, NewBook, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, PAGE_LIMIT_MIN, Page, PageRequest,
    PutOutcome, SortOrder,
};
pub use catalogue::{CataloguePage, CatalogueRequest, NameCount, NameKind};
pub use names::{Author, Category, FormatId, FormatName, NameError, Title};
pub use patch::BookPatch;
pub use revision::{Expectation, INCARNATION_LEN, Revision, TagMatch};
pub use validation::{FieldError, Repeats, Validator};
