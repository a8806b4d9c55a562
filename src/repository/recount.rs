//! `bookstore recount`: rebuilds every count of the catalogue from the Books table.
//!
//! The service keeps the counts exact for its own writes; books written by other tools (the
//! tutorial's scripts, the console, a restore) are not counted until this runs. It scans the
//! Books table (strongly consistent), counts the books of every category and author whose name
//! passes the name rules, and makes the catalogue say exactly that: it sets what differs, deletes
//! what should not be there (zero counts, names that fail the rules) and leaves the rest alone,
//! so a second run changes nothing.
//!
//! Each correction is conditioned on the count it replaces, so a service write that lands on a
//! count between the scan and the correction is never overwritten: that count is reported as
//! raced, and the operator runs `recount` again once writes are quiet.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::{
    Client,
    operation::describe_table::DescribeTableError,
    types::{AttributeValue, ReturnValue},
};

use super::{
    StoreError,
    catalogue::{BOOKS, KIND, NAME, catalogue_table, count_key, name_count},
    client::instrumented,
    error::condition_failed,
    expression::{Placeholders, WithPlaceholders},
    item::{AUTHOR, CATEGORY, Item},
};
use crate::domain::NameKind;

/// One count that `recount` corrected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountFix {
    /// Category or author.
    pub kind: NameKind,
    /// The name.
    pub name: String,
    /// The count stored before, `None` when there was no count item.
    pub from: Option<i64>,
    /// The count now; 0 means the item was deleted.
    pub to: u64,
}

/// What one `recount` found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecountReport {
    /// Books in the table.
    pub books: usize,
    /// Books whose author or category fails the name rules, so counted nowhere under that name.
    pub uncounted: usize,
    /// The counts it corrected.
    pub fixes: Vec<CountFix>,
    /// Counts that a concurrent write changed before they could be corrected.
    pub raced: Vec<(NameKind, String)>,
}

type Counts = BTreeMap<(NameKind, String), i64>;

/// Rebuilds every count of `table`'s catalogue from `table`.
pub async fn recount(client: &Client, table: &str) -> Result<RecountReport, StoreError> {
    let catalogue = catalogue_table(table);
    for name in [table, catalogue.as_str()] {
        ensure_exists(client, name).await?;
    }
    let mut report = RecountReport::default();
    let truth = count_books(client, table, &mut report).await?;
    let stored = stored_counts(client, &catalogue).await?;
    let names: BTreeSet<&(NameKind, String)> = truth.keys().chain(stored.keys()).collect();
    for key in names {
        let want = truth.get(key).copied().unwrap_or(0);
        let have = stored.get(key).copied();
        if (have == Some(want) && want > 0) || (have.is_none() && want == 0) {
            continue;
        }
        let (kind, name) = key;
        if correct(client, &catalogue, *kind, name, have, want).await? {
            report.fixes.push(CountFix {
                kind: *kind,
                name: name.clone(),
                from: have,
                to: u64::try_from(want).unwrap_or(0),
            });
        } else {
            report.raced.push(key.clone());
        }
    }
    Ok(report)
}

/// A clear error when `table` is missing, rather than a failed scan.
async fn ensure_exists(client: &Client, table: &str) -> Result<(), StoreError> {
    let call = client.describe_table().table_name(table).send();
    match instrumented("DescribeTable", call).await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(DescribeTableError::is_resource_not_found_exception) =>
        {
            Err(StoreError::NoTable(table.to_owned()))
        }
        Err(e) => Err(StoreError::from_sdk("DescribeTable", e)),
    }
}

/// Every page of a strongly consistent Scan of `table`, projected as `projection` names.
async fn scan(client: &Client, table: &str, attributes: &[&str]) -> Result<Vec<Item>, StoreError> {
    let mut p = Placeholders::default();
    let projection = attributes
        .iter()
        .map(|a| p.name(a))
        .collect::<Vec<_>>()
        .join(", ");
    let mut items = Vec::new();
    let mut start_key = None;
    loop {
        let call = client
            .scan()
            .table_name(table)
            .projection_expression(&projection)
            .set_expression_attribute_names(p.names())
            .consistent_read(true)
            .set_exclusive_start_key(start_key.take())
            .send();
        let output = instrumented("Scan", call)
            .await
            .map_err(|e| StoreError::from_sdk("Scan", e))?;
        items.extend(output.items.unwrap_or_default());
        start_key = output.last_evaluated_key.filter(|k| !k.is_empty());
        if start_key.is_none() {
            return Ok(items);
        }
    }
}

/// The counts the Books table implies, names that fail the rules left out.
async fn count_books(
    client: &Client,
    table: &str,
    report: &mut RecountReport,
) -> Result<Counts, StoreError> {
    let mut counts = Counts::new();
    for item in scan(client, table, &[AUTHOR, CATEGORY]).await? {
        report.books += 1;
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(s)) => s.as_str(),
            _ => "",
        };
        let mut counted = true;
        for (kind, name) in [
            (NameKind::Author, text(AUTHOR)),
            (NameKind::Category, text(CATEGORY)),
        ] {
            if kind.accepts(name) {
                *counts.entry((kind, name.to_owned())).or_default() += 1;
            } else {
                counted = false;
            }
        }
        if !counted {
            report.uncounted += 1;
        }
    }
    Ok(counts)
}

/// The counts as the catalogue table holds them, whatever their names.
async fn stored_counts(client: &Client, catalogue: &str) -> Result<Counts, StoreError> {
    let mut counts = Counts::new();
    for item in scan(client, catalogue, &[KIND, NAME, BOOKS]).await? {
        let kind = match item.get(KIND) {
            Some(AttributeValue::S(k)) => NameKind::ALL.into_iter().find(|n| n.as_str() == k),
            _ => None,
        };
        let Some(kind) = kind else { continue };
        let books = match item.get(BOOKS) {
            Some(AttributeValue::N(n)) => n.parse::<i64>().unwrap_or(0),
            _ => 0,
        };
        counts.insert((kind, name_count(&item)?.name), books);
    }
    Ok(counts)
}

/// Sets one count to `want` (deleting the item at 0), if it still holds `have`; `false` when a
/// concurrent write changed it first.
async fn correct(
    client: &Client,
    catalogue: &str,
    kind: NameKind,
    name: &str,
    have: Option<i64>,
    want: i64,
) -> Result<bool, StoreError> {
    let mut p = Placeholders::default();
    let condition = match have {
        None => format!("attribute_not_exists({})", p.name(KIND)),
        Some(n) => format!("{} = {}", p.name(BOOKS), p.number(n)),
    };
    let result = if want == 0 {
        let call = client
            .delete_item()
            .table_name(catalogue)
            .set_key(Some(count_key(kind, name)))
            .condition_expression(condition)
            .placeholders(&p)
            .send();
        instrumented("DeleteItem", call)
            .await
            .map(drop)
            .map_err(|e| match condition_failed(&e) {
                Some(_) => None,
                None => Some(StoreError::from_sdk("DeleteItem", e)),
            })
    } else {
        let update = format!("SET {} = {}", p.name(BOOKS), p.number(want));
        let call = client
            .update_item()
            .table_name(catalogue)
            .set_key(Some(count_key(kind, name)))
            .update_expression(update)
            .condition_expression(condition)
            .placeholders(&p)
            .return_values(ReturnValue::None)
            .send();
        instrumented("UpdateItem", call)
            .await
            .map(drop)
            .map_err(|e| match condition_failed(&e) {
                Some(_) => None,
                None => Some(StoreError::from_sdk("UpdateItem", e)),
            })
    };
    match result {
        Ok(()) => Ok(true),
        Err(None) => Ok(false),
        Err(Some(e)) => Err(e),
    }
}
