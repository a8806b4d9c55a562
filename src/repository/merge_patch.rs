//! The merge patch of a book: one UpdateItem, with `update_formats`' cap and fallback.

use super::{BookRepository, StoreError};
use crate::domain::{Book, BookKey, BookPatch, Expectation};

impl BookRepository {
    /// UpdateItem: sets the category and changes the formats as `update_formats` does, bumping
    /// `Version` once. An empty format change still conditions on the `Formats` map, so a
    /// category change to an item from another tool that has none stores `{}` there, as `PUT` does.
    pub async fn merge_patch(
        &self,
        key: &BookKey,
        patch: &BookPatch,
        expectation: &Expectation,
    ) -> Result<Book, StoreError> {
        self.update_content(key, patch.category(), patch.formats(), expectation)
            .await
    }
}
