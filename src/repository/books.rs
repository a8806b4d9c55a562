//! One book by its key: read, create, replace and delete, one DynamoDB operation each.

use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::{
    BookRepository, StoreError,
    client::instrumented,
    error::condition_failed,
    expression::{Placeholders, WithPlaceholders, expectation_condition},
    item::{
        self, BookItem, CATEGORY, CREATED_AT, FORMATS, ForBook, INCARNATION, Item, UPDATED_AT,
        VERSION, now_timestamp, parse_timestamp, stored_formats,
    },
    parse_book, precondition_failed,
};
use crate::domain::{Book, BookContent, BookKey, Expectation, NewBook, PutOutcome, Revision};

impl BookRepository {
    /// GetItem, strongly consistent.
    pub async fn get(&self, key: &BookKey) -> Result<Option<Book>, StoreError> {
        let call = self
            .client
            .get_item()
            .for_book(self.table(), key)
            .consistent_read(true)
            .send();
        let output = instrumented("GetItem", call)
            .await
            .map_err(|e| StoreError::from_sdk("GetItem", e))?;
        output.item.map(parse_book).transpose()
    }

    /// PutItem with `attribute_not_exists(Author)`: creates the book or reports that it exists.
    pub async fn create(&self, book: &NewBook) -> Result<Book, StoreError> {
        let stored = BookItem::new(book, &now_timestamp());
        let mut p = Placeholders::default();
        let condition = expectation_condition(&Expectation::absent(), &mut p);
        let call = self
            .client
            .put_item()
            .table_name(self.table())
            .set_item(Some(stored.to_item().map_err(StoreError::malformed_item)?))
            .set_condition_expression(condition)
            .placeholders(&p)
            .send();
        match instrumented("PutItem", call).await {
            Ok(_) => Ok(stored.into_book()),
            Err(e) if condition_failed(&e).is_some() => Err(StoreError::AlreadyExists),
            Err(e) => Err(StoreError::from_sdk("PutItem", e)),
        }
    }

    /// UpdateItem as an upsert: replaces category and formats, keeps `CreatedAt`, bumps `Version`.
    ///
    /// Returns the book as stored, created or replaced. This one asks DynamoDB for ALL_OLD
    /// rather than ALL_NEW: the old image is the only way to tell "created" from "replaced" in one
    /// round trip, and the new image follows from it exactly (every attribute we serve is set here
    /// or derived from the old value, atomically).
    pub async fn put(
        &self,
        book: &NewBook,
        expectation: &Expectation,
    ) -> Result<PutOutcome, StoreError> {
        let now = now_timestamp();
        let fresh = Revision::new_incarnation();
        let mut p = Placeholders::default();
        let update = replace_expression(&book.content, &now, &fresh, &mut p);
        let condition = expectation_condition(expectation, &mut p);
        let answer = self
            .update_item(&book.key, update, condition, p, ReturnValue::AllOld)
            .await?;
        let old = match answer {
            Answer::Written(old) => item::stored_image(old),
            Answer::Refused(current) => return Err(precondition_failed(current.as_ref())),
        };
        let old = old
            .map(BookItem::from_item)
            .transpose()
            .map_err(StoreError::malformed_item)?;
        let created = old.is_none();
        let stored = replaced_book(book, old, &now, fresh);
        Ok(if created {
            PutOutcome::Created(stored)
        } else {
            PutOutcome::Replaced(stored)
        })
    }

    /// DeleteItem; a missing book is `NotFound` (or `PreconditionFailed` under If-Match).
    pub async fn delete(&self, key: &BookKey, expectation: &Expectation) -> Result<(), StoreError> {
        let mut p = Placeholders::default();
        let condition = expectation_condition(expectation, &mut p);
        let call = self
            .client
            .delete_item()
            .for_book(self.table(), key)
            .set_condition_expression(condition)
            .placeholders(&p)
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send();
        match instrumented("DeleteItem", call).await {
            Ok(output) => match item::stored_image(output.attributes) {
                Some(_) => Ok(()),
                None => Err(StoreError::NotFound),
            },
            Err(e) => match condition_failed(&e) {
                Some(failure) => Err(precondition_failed(failure.item())),
                None => Err(StoreError::from_sdk("DeleteItem", e)),
            },
        }
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
