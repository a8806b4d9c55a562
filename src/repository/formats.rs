//! Changes to a book's formats (and, for a merge patch, its category) in one UpdateItem.

use aws_sdk_dynamodb::types::ReturnValue;

use super::{
    BookRepository, MAX_WRITE_ATTEMPTS, StoreError,
    books::{self, Answer},
    catalogue::{CountChanges, Counted},
    expression::{self, Placeholders, expectation_condition},
    item::{self, AUTHOR, BookItem, CATEGORY, FORMATS, UPDATED_AT, VERSION, now_timestamp},
    parse_book,
};
use crate::domain::{Book, BookKey, Category, Expectation, FormatChange, MAX_FORMATS};

impl BookRepository {
    /// UpdateItem on the `Formats` map: `SET Formats.#n = :v`, `REMOVE Formats.#m`, `ADD Version 1`.
    ///
    /// The 32-format cap is enforced by the condition `size(Formats) <= 32 - added`, which is exact
    /// unless added names already exist or removed ones are counted. When that conservative check
    /// (or a missing `Formats` map on an item from another tool) fails, DynamoDB hands back the old
    /// item; the exact result is computed from it and written with `Version = :seen`, so the cap
    /// still holds atomically. Only that rare path costs a second operation.
    pub async fn update_formats(
        &self,
        key: &BookKey,
        change: &FormatChange,
        expectation: &Expectation,
    ) -> Result<Book, StoreError> {
        self.update_content(key, None, change, expectation).await
    }

    /// `update_formats`, also setting `Category` when one is given, in the same write.
    ///
    /// A category change moves the book between two counts. The first attempt's condition
    /// therefore also says "the category is already this one" (`Category = :new`): when it
    /// holds, nothing moves and the write stays one UpdateItem. When it fails, DynamoDB's answer
    /// (the item as stored) names the old category, and the exact write goes into one
    /// TransactWriteItems with the two count changes, conditioned on that revision in that
    /// category.
    pub(super) async fn update_content(
        &self,
        key: &BookKey,
        category: Option<&Category>,
        change: &FormatChange,
        expectation: &Expectation,
    ) -> Result<Book, StoreError> {
        let now = now_timestamp();
        // The item as the last refused write showed it; `None` until one has.
        let mut seen: Option<Option<BookItem>> = None;
        for _ in 0..=MAX_WRITE_ATTEMPTS {
            let old = match seen.take() {
                Some(old) => old,
                None => {
                    let mut p = Placeholders::default();
                    let update = change_expression(category, change, &now, &mut p);
                    let condition = room_condition(category, change, expectation, &mut p);
                    match self.update_returning_new(key, update, condition, p).await? {
                        UpdateResult::Written(book) => return Ok(book),
                        UpdateResult::Refused(old) => old,
                    }
                }
            };
            let old = still_expected(old, expectation)?;
            let next = change.apply_to(&old.formats);
            if next.len() > MAX_FORMATS {
                return Err(StoreError::TooManyFormats(next.len()));
            }
            let mut p = Placeholders::default();
            let formats =
                serde_dynamo::to_attribute_value(&next).map_err(StoreError::malformed_item)?;
            let mut sets = vec![
                format!("{} = {}", p.name(FORMATS), p.value(formats)),
                format!("{} = {}", p.name(UPDATED_AT), p.string(&now)),
            ];
            sets.extend(set_category(category, &mut p));
            let update = set_and_bump(&sets, &mut p);
            let condition = books::unchanged_condition(Some(&old), &mut p);
            let Some(to) = category.filter(|c| c.as_str() != old.category) else {
                seen = match self.update_returning_new(key, update, condition, p).await? {
                    UpdateResult::Written(book) => return Ok(book),
                    UpdateResult::Refused(old) => Some(old),
                };
                continue;
            };
            let write = self.transaction_update(key, update, condition, &p)?;
            let mut changes = CountChanges::default();
            changes.moved(&old.category, to.as_str());
            match self.write_counted(write, None, &changes).await? {
                // A transaction returns no new image; this is the one the update leaves.
                Counted::Written => {
                    return Ok(BookItem {
                        category: to.to_string(),
                        formats: next,
                        version: old.version + 1,
                        updated_at: Some(now),
                        ..old
                    }
                    .into_book());
                }
                Counted::Refused(current) => {
                    seen = current.map(|i| books::parse_image(Some(i))).transpose()?;
                }
            }
        }
        Err(StoreError::Contention)
    }

    /// One UpdateItem with ALL_NEW, handing back the old item when the condition fails.
    async fn update_returning_new(
        &self,
        key: &BookKey,
        update: String,
        condition: String,
        p: Placeholders,
    ) -> Result<UpdateResult, StoreError> {
        let answer = self
            .update_item(key, update, Some(condition), p, ReturnValue::AllNew)
            .await?;
        match answer {
            Answer::Written(new) => Ok(UpdateResult::Written(parse_book(new.unwrap_or_default())?)),
            Answer::Refused(old) => {
                let old = item::stored_image(old)
                    .map(|i| BookItem::from_item(i).map_err(StoreError::malformed_item))
                    .transpose()?;
                Ok(UpdateResult::Refused(old))
            }
        }
    }
}

/// What a conditional UpdateItem came back with.
enum UpdateResult {
    /// The write happened; the book as stored.
    Written(Book),
    /// The condition failed; the item as it was (none if it does not exist).
    Refused(Option<BookItem>),
}

/// The first attempt's update: sets and removes map entries in place, so a concurrent change
/// to other formats is kept.
fn change_expression(
    category: Option<&Category>,
    change: &FormatChange,
    now: &str,
    p: &mut Placeholders,
) -> String {
    let formats = p.name(FORMATS);
    let mut sets: Vec<String> = change
        .add()
        .iter()
        .map(|(name, id)| {
            format!(
                "{formats}.{} = {}",
                p.name(name.as_str()),
                p.string(id.as_str())
            )
        })
        .collect();
    sets.push(format!("{} = {}", p.name(UPDATED_AT), p.string(now)));
    sets.extend(set_category(category, p));
    let removes: Vec<String> = change
        .remove()
        .iter()
        .map(|name| format!("{formats}.{}", p.name(name.as_str())))
        .collect();
    let mut update = set_and_bump(&sets, p);
    if !removes.is_empty() {
        update.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    update
}

/// The first attempt's condition: the book and its map exist, there is room for every added
/// format even if none replaces one, the book is already in `category` when one is set (so no
/// count changes), and the client's precondition holds.
fn room_condition(
    category: Option<&Category>,
    change: &FormatChange,
    expectation: &Expectation,
    p: &mut Placeholders,
) -> String {
    let formats = p.name(FORMATS);
    let room = MAX_FORMATS - change.add().len();
    // `attribute_exists` first: real DynamoDB reads `size` of a missing map as false, but
    // some engines (moto) fail the whole request instead.
    let mut condition = format!(
        "attribute_exists({}) AND attribute_exists({formats}) AND size({formats}) <= {}",
        p.name(AUTHOR),
        p.number(room)
    );
    if let Some(category) = category {
        condition.push_str(&format!(
            " AND {} = {}",
            p.name(CATEGORY),
            p.string(category.as_str())
        ));
    }
    match expectation_condition(expectation, p) {
        Some(expected) => expression::conjoin(&[condition, expected]),
        None => condition,
    }
}

/// The item a refused write handed back, if the client's precondition still holds for it.
fn still_expected(
    seen: Option<BookItem>,
    expectation: &Expectation,
) -> Result<BookItem, StoreError> {
    match seen {
        None if expectation.holds_for(None) => Err(StoreError::NotFound),
        None => Err(StoreError::PreconditionFailed(None)),
        Some(old) if !expectation.holds_for(Some(&old.revision())) => Err(
            StoreError::PreconditionFailed(Some(Box::new(old.into_book()))),
        ),
        Some(old) => Ok(old),
    }
}

/// `SET <sets> ADD Version 1`: every write of content bumps the version once.
fn set_and_bump(sets: &[String], p: &mut Placeholders) -> String {
    format!(
        "SET {} ADD {} {}",
        sets.join(", "),
        p.name(VERSION),
        p.number(1)
    )
}

/// The `SET` clause of a category change, if there is one.
fn set_category(category: Option<&Category>, p: &mut Placeholders) -> Option<String> {
    category.map(|c| format!("{} = {}", p.name(CATEGORY), p.string(c.as_str())))
}
