//! One book by its key: read, create, replace and delete, one DynamoDB operation each.

use aws_sdk_dynamodb::types::{
    Delete, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::{
    BookRepository, MAX_RACES_LOST, StoreError,
    catalogue::{CountChanges, Counted},
    client::instrumented,
    error::condition_failed,
    expression::{Placeholders, WithPlaceholders, conjoin, expectation_condition},
    item::{
        self, AUTHOR, BookItem, CATEGORY, CREATED_AT, FORMATS, ForBook, INCARNATION, Item,
        UPDATED_AT, VERSION, now_timestamp, parse_timestamp, stored_formats,
    },
    parse_book,
};
use crate::domain::{
    Book, BookContent, BookKey, Expectation, NewBook, PutOutcome, Revision, TagMatch,
};

impl BookRepository {
    /// GetItem, strongly consistent.
    pub async fn get(&self, key: &BookKey) -> Result<Option<Book>, StoreError> {
        self.get_attributes(key).await?.map(parse_book).transpose()
    }

    /// GetItem, strongly consistent: the item's attributes as DynamoDB returned them.
    async fn get_attributes(&self, key: &BookKey) -> Result<Option<Item>, StoreError> {
        let call = self
            .client
            .get_item()
            .for_book(self.table(), key)
            .consistent_read(true)
            .send();
        let output = instrumented("GetItem", call)
            .await
            .map_err(|e| StoreError::from_sdk("GetItem", e))?;
        Ok(output.item)
    }

    /// TransactWriteItems: the book (`attribute_not_exists(Author)`) and `ADD 1` on its author's
    /// and its category's counts; creates the book or reports that it exists.
    pub async fn create(&self, book: &NewBook) -> Result<Book, StoreError> {
        let (stored, put) = self.create_write(book)?;
        match self.write_counted(put, None, &joined(book)).await? {
            Counted::Written => Ok(stored.into_book()),
            Counted::Refused(_) => Err(StoreError::AlreadyExists),
        }
    }

    /// The conditional Put of a new book, and the item it stores.
    pub(super) fn create_write(
        &self,
        book: &NewBook,
    ) -> Result<(BookItem, TransactWriteItem), StoreError> {
        let stored = BookItem::new(book, &now_timestamp());
        let mut p = Placeholders::default();
        let condition = expectation_condition(&Expectation::absent(), &mut p);
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(stored.to_item().map_err(StoreError::malformed_item)?))
            .set_condition_expression(condition)
            .placeholders(&p)
            .build()
            .map_err(StoreError::unbuilt_transaction)?;
        Ok((stored, TransactWriteItem::builder().put(put).build()))
    }

    /// Creates or replaces a book as `PUT` does: replaces category and formats, keeps
    /// `CreatedAt`, bumps `Version`, and keeps the catalogue's counts exact.
    ///
    /// The common case, replacing a book without moving it to another category, is one
    /// UpdateItem conditioned on "exists, in this category" (and the client's precondition), as
    /// before the catalogue: no count changes, no transaction. It asks for ALL_OLD rather than
    /// ALL_NEW: the old image is the only way to tell "created" from "replaced" in one round trip,
    /// and the new image follows from it exactly. When that condition fails, DynamoDB hands back
    /// the stored item (ReturnValuesOnConditionCheckFailure ALL_OLD): absent, or in another
    /// category. Then the book's write goes into a transaction with its count changes,
    /// conditioned on exactly what that answer showed, so the old category is never taken from
    /// an unconditioned read. If the client's precondition fails on it, that is the 412.
    pub async fn put(
        &self,
        book: &NewBook,
        expectation: &Expectation,
    ) -> Result<PutOutcome, StoreError> {
        let now = now_timestamp();
        let fresh = Revision::new_incarnation();
        // What the stored book is known to be (`Some(None)`: absent); `None` until an answer
        // says. `If-None-Match: *` expects no book, so it starts from that.
        let mut seen: Option<Option<BookItem>> =
            matches!(expectation.if_none_match, Some(TagMatch::Any)).then_some(None);
        for _ in 0..=MAX_RACES_LOST {
            let old = match seen.take() {
                Some(old) => old,
                None => match self
                    .replace_in_place(book, expectation, &now, &fresh)
                    .await?
                {
                    Answer::Written(old) => {
                        let old = parse_image(old)?;
                        return Ok(PutOutcome::Replaced(replaced_book(book, old, &now, fresh)));
                    }
                    Answer::Refused(current) => parse_image(current)?,
                },
            };
            if !expectation.holds_for(old.as_ref().map(BookItem::revision).as_ref()) {
                return Err(StoreError::PreconditionFailed(
                    old.map(|o| Box::new(o.into_book())),
                ));
            }
            let mut changes = CountChanges::default();
            match &old {
                None => changes = joined(book),
                // Changed under the first write, now in this category: that write again.
                Some(o) if o.category == book.content.category.as_str() => continue,
                Some(o) => changes.moved(&o.category, book.content.category.as_str()),
            }
            let mut p = Placeholders::default();
            let update = replace_expression(&book.content, &now, &fresh, &mut p);
            let condition = unchanged_condition(old.as_ref(), &mut p);
            let write = self.transaction_update(&book.key, update, condition, &p)?;
            match self.write_counted(write, None, &changes).await? {
                Counted::Written => {
                    let created = old.is_none();
                    let stored = replaced_book(book, old, &now, fresh);
                    return Ok(if created {
                        PutOutcome::Created(stored)
                    } else {
                        PutOutcome::Replaced(stored)
                    });
                }
                Counted::Refused(current) => {
                    seen = current.map(|i| parse_image(Some(i))).transpose()?
                }
            }
        }
        Err(StoreError::Contention)
    }

    /// The UpdateItem of `put` that changes no count: the book exists, in the same category.
    async fn replace_in_place(
        &self,
        book: &NewBook,
        expectation: &Expectation,
        now: &str,
        fresh: &str,
    ) -> Result<Answer, StoreError> {
        let mut p = Placeholders::default();
        let update = replace_expression(&book.content, now, fresh, &mut p);
        let same = format!(
            "attribute_exists({}) AND {} = {}",
            p.name(AUTHOR),
            p.name(CATEGORY),
            p.string(book.content.category.as_str())
        );
        let condition = match expectation_condition(expectation, &mut p) {
            Some(expected) => conjoin(&[same, expected]),
            None => same,
        };
        self.update_item(&book.key, update, Some(condition), p, ReturnValue::AllOld)
            .await
    }

    /// Deletes a book with `ADD -1` on its author's and its category's counts, in one
    /// TransactWriteItems; a missing book is `NotFound` (or `PreconditionFailed` under If-Match).
    ///
    /// A transaction returns no old image, and the category to count down is needed before the
    /// write, so it reads the book first (GetItem, strongly consistent: 1 read unit, where a
    /// probing conditional write would cost a write unit) and conditions the delete on exactly
    /// that revision in that category: a book changed in between cancels the transaction, and
    /// it reads again. Nothing from the read is trusted that the condition does not check.
    pub async fn delete(&self, key: &BookKey, expectation: &Expectation) -> Result<(), StoreError> {
        for _ in 0..MAX_RACES_LOST {
            let old = self.get_item(key).await?;
            if !expectation.holds_for(old.as_ref().map(BookItem::revision).as_ref()) {
                return Err(StoreError::PreconditionFailed(
                    old.map(|o| Box::new(o.into_book())),
                ));
            }
            let Some(old) = old else {
                return Err(StoreError::NotFound);
            };
            let mut p = Placeholders::default();
            let condition = unchanged_condition(Some(&old), &mut p);
            let delete = Delete::builder()
                .for_book(self.table(), key)
                .condition_expression(condition)
                .placeholders(&p)
                .build()
                .map_err(StoreError::unbuilt_transaction)?;
            let mut changes = CountChanges::default();
            changes.left(key.author.as_str(), &old.category);
            let delete = TransactWriteItem::builder().delete(delete).build();
            if let Counted::Written = self.write_counted(delete, None, &changes).await? {
                return Ok(());
            }
        }
        Err(StoreError::Contention)
    }

    /// A book's UpdateItem as an item of a transaction, handing back the stored item when its
    /// condition fails.
    pub(super) fn transaction_update(
        &self,
        key: &BookKey,
        update: String,
        condition: String,
        p: &Placeholders,
    ) -> Result<TransactWriteItem, StoreError> {
        let write = Update::builder()
            .for_book(self.table(), key)
            .update_expression(update)
            .condition_expression(condition)
            .placeholders(p)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::unbuilt_transaction)?;
        Ok(TransactWriteItem::builder().update(write).build())
    }

    /// GetItem, strongly consistent, as the stored item.
    async fn get_item(&self, key: &BookKey) -> Result<Option<BookItem>, StoreError> {
        parse_image(self.get_attributes(key).await?)
    }

    /// One conditional UpdateItem of a book, asking for `returns` when it is written and for
    /// the item as it was when the condition fails (what a 412 reports, or a retry starts from).
    pub(super) async fn update_item(
        &self,
        key: &BookKey,
        update: String,
        condition: Option<String>,
        p: Placeholders,
        returns: ReturnValue,
    ) -> Result<Answer, StoreError> {
        let call = self
            .client
            .update_item()
            .for_book(self.table(), key)
            .update_expression(update)
            .set_condition_expression(condition)
            .placeholders(&p)
            .return_values(returns)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send();
        match instrumented("UpdateItem", call).await {
            Ok(output) => Ok(Answer::Written(output.attributes)),
            Err(e) => match condition_failed(&e) {
                Some(failure) => Ok(Answer::Refused(failure.item().cloned())),
                None => Err(StoreError::from_sdk("UpdateItem", e)),
            },
        }
    }
}

/// The count changes of creating `book`.
pub(super) fn joined(book: &NewBook) -> CountChanges {
    let mut changes = CountChanges::default();
    changes.joined(book.key.author.as_str(), book.content.category.as_str());
    changes
}

/// An old image as a stored book, `None` when there was none.
pub(super) fn parse_image(image: Option<Item>) -> Result<Option<BookItem>, StoreError> {
    item::stored_image(image)
        .map(BookItem::from_item)
        .transpose()
        .map_err(StoreError::malformed_item)
}

/// The condition that the stored book is still `old` (`None`: still absent): the same
/// revision in the same category. The category is named too because other tools (the tutorial's
/// scripts) change items without bumping `Version`, and a count change is only right for the
/// category it was computed from.
pub(super) fn unchanged_condition(old: Option<&BookItem>, p: &mut Placeholders) -> String {
    let Some(old) = old else {
        return expectation_condition(&Expectation::absent(), p)
            .expect("absence is always a condition");
    };
    let revision = expectation_condition(&Expectation::revision(old.revision()), p)
        .expect("a revision is always a condition");
    // DynamoDB stores no empty string in an index key, so "no category" is a missing attribute.
    let category = if old.category.is_empty() {
        format!("attribute_not_exists({})", p.name(CATEGORY))
    } else {
        format!("{} = {}", p.name(CATEGORY), p.string(&old.category))
    };
    conjoin(&[revision, category])
}

/// What a conditional write of one book came back with, as DynamoDB sent it.
pub(super) enum Answer {
    /// Written; the attributes the write asked for.
    Written(Option<Item>),
    /// The condition failed; the item as it was, when there was one.
    Refused(Option<Item>),
}

/// The book `replace_expression` leaves behind, from the old image the write returned: what the
/// expression's `if_not_exists` kept comes from `old`, the rest from the request.
fn replaced_book(book: &NewBook, old: Option<BookItem>, now: &str, fresh: String) -> Book {
    Book {
        author: book.key.author.to_string(),
        title: book.key.title.to_string(),
        category: book.content.category.to_string(),
        formats: stored_formats(&book.content.formats),
        version: old.as_ref().map_or(0, |o| o.version) + 1,
        incarnation: Some(
            old.as_ref()
                .and_then(|o| o.incarnation.clone())
                .unwrap_or(fresh),
        ),
        created_at: match old.and_then(|o| o.created_at) {
            Some(kept) => parse_timestamp(&kept),
            None => parse_timestamp(now),
        },
        updated_at: parse_timestamp(now),
    }
}

/// The update that writes a book as `PUT` does: replaces content, keeps `CreatedAt` and
/// `Incarnation` (or sets them, with `fresh`, on a new book), bumps `Version`.
pub(super) fn replace_expression(
    content: &BookContent,
    now: &str,
    fresh: &str,
    p: &mut Placeholders,
) -> String {
    let formats = serde_dynamo::to_attribute_value(stored_formats(&content.formats))
        .expect("a string map always converts");
    let version = p.name(VERSION);
    let created = p.name(CREATED_AT);
    let incarnation = p.name(INCARNATION);
    let now = p.string(now);
    let fresh = p.string(fresh);
    format!(
        "SET {} = {}, {} = {}, {} = {now}, {created} = if_not_exists({created}, {now}), \
         {incarnation} = if_not_exists({incarnation}, {fresh}), \
         {version} = if_not_exists({version}, {}) + {}",
        p.name(CATEGORY),
        p.string(content.category.as_str()),
        p.name(FORMATS),
        p.value(formats),
        p.name(UPDATED_AT),
        p.number(0),
        p.number(1),
    )
}
