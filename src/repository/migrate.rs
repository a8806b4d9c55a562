//! Applies `migrations/` in order and records them, safely when several processes run at once.

mod step;
mod tables;

use aws_sdk_dynamodb::Client;

use super::{
    client::instrumented,
    error::{StoreError, condition_failed},
    expression::Placeholders,
    item::now_timestamp,
};
use step::Migration;
use tables::{KeyAttribute, ensure_table};

/// The migrations, compiled in so the binary needs no files beside it. Keep in file-name order.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_create_books_table",
        include_str!("../../migrations/0001_create_books_table.json"),
    ),
    (
        "0002_add_category_index",
        include_str!("../../migrations/0002_add_category_index.json"),
    ),
    (
        "0003_create_idempotency_table",
        include_str!("../../migrations/0003_create_idempotency_table.json"),
    ),
    (
        "0004_create_catalogue_table",
        include_str!("../../migrations/0004_create_catalogue_table.json"),
    ),
    (
        "0005_recount_catalogue",
        include_str!("../../migrations/0005_recount_catalogue.json"),
    ),
];

/// The ledger's partition key: a migration's id.
const LEDGER_KEY: &str = "Id";
/// When the migration was recorded, RFC 3339.
const APPLIED_AT: &str = "AppliedAt";

/// What one run did, migration by migration.
#[derive(Debug, Default)]
pub struct MigrationReport {
    /// Migrations applied by this run.
    pub applied: Vec<String>,
    /// Migrations found already recorded.
    pub skipped: Vec<String>,
}

/// Appended to the Books table's name for the table that records applied migrations.
pub const LEDGER_SUFFIX: &str = "-migrations";

/// Name of the table that records applied migrations for `table`.
pub fn ledger_table(table: &str) -> String {
    format!("{table}{LEDGER_SUFFIX}")
}

/// Applies every migration not yet recorded for `table`, waiting until all is ACTIVE.
pub async fn run(client: &Client, table: &str) -> Result<MigrationReport, StoreError> {
    let ledger = ledger_table(table);
    ensure_table(
        client,
        &ledger,
        &KeyAttribute {
            name: LEDGER_KEY.into(),
            kind: "S".into(),
        },
        None,
    )
    .await?;
    let mut report = MigrationReport::default();
    for (id, source) in MIGRATIONS {
        let migration: Migration = serde_json::from_str(source)
            .map_err(|e| StoreError::Internal(format!("migration {id} is malformed: {e}")))?;
        if is_recorded(client, &ledger, id).await? {
            report.skipped.push((*id).to_owned());
            continue;
        }
        tracing::info!(migration = id, table, "applying migration");
        migration.step.apply(client, table, id).await?;
        record(client, &ledger, id).await?;
        report.applied.push((*id).to_owned());
    }
    Ok(report)
}

/// Whether the ledger records migration `id` as applied.
async fn is_recorded(client: &Client, ledger: &str, id: &str) -> Result<bool, StoreError> {
    let call = client
        .get_item()
        .table_name(ledger)
        .key(
            LEDGER_KEY,
            aws_sdk_dynamodb::types::AttributeValue::S(id.to_owned()),
        )
        .consistent_read(true)
        .send();
    let output = instrumented("GetItem", call)
        .await
        .map_err(|e| StoreError::from_sdk("GetItem", e))?;
    Ok(output.item.is_some_and(|i| !i.is_empty()))
}

/// Records a migration; if a concurrent run recorded it first, that is success too.
async fn record(client: &Client, ledger: &str, id: &str) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    let mut p = Placeholders::default();
    let condition = format!("attribute_not_exists({})", p.name(LEDGER_KEY));
    let call = client
        .put_item()
        .table_name(ledger)
        .item(LEDGER_KEY, S(id.to_owned()))
        .item(APPLIED_AT, S(now_timestamp()))
        .condition_expression(condition)
        .set_expression_attribute_names(p.names())
        .send();
    match instrumented("PutItem", call).await {
        Ok(_) => Ok(()),
        Err(e) if condition_failed(&e).is_some() => Ok(()),
        Err(e) => Err(StoreError::from_sdk("PutItem", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_migrations_is_compiled_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|name| name.strip_suffix(".json").map(str::to_owned))
            .collect();
        on_disk.sort();
        let compiled: Vec<&str> = MIGRATIONS.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            on_disk, compiled,
            "add new migration files to MIGRATIONS in migrate.rs"
        );
    }

    #[test]
    fn the_migrations_create_the_keys_and_index_the_repository_uses() {
        use crate::repository::{
            CATEGORY_INDEX,
            item::{AUTHOR, CATEGORY, TITLE},
        };
        let json = |i: usize| serde_json::from_str::<serde_json::Value>(MIGRATIONS[i].1).unwrap();
        let table = &json(0)["create_table"];
        assert_eq!(table["partition_key"]["name"], AUTHOR);
        assert_eq!(table["sort_key"]["name"], TITLE);
        let index = &json(1)["add_global_secondary_index"];
        assert_eq!(index["index_name"], CATEGORY_INDEX);
        assert_eq!(index["partition_key"]["name"], CATEGORY);
        assert_eq!(index["sort_key"]["name"], TITLE);
    }

    #[test]
    fn every_migration_parses() {
        for (id, source) in MIGRATIONS {
            serde_json::from_str::<Migration>(source).unwrap_or_else(|e| panic!("{id}: {e}"));
        }
    }
}
