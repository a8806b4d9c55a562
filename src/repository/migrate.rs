//! Applies `migrations/` in order and records them, safely when several processes run at once.

use std::time::Duration;

use aws_sdk_dynamodb::{
    Client,
    error::ProvideErrorMetadata,
    types::{
        AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction,
        GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection,
        ProjectionType, ScalarAttributeType, TableDescription, TableStatus,
        TimeToLiveSpecification, TimeToLiveStatus,
    },
};
use serde::Deserialize;

use super::{
    client::instrumented, error::StoreError, expression::Placeholders, item::now_timestamp,
};

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
];

/// How long to wait for a table or index to become ACTIVE (a real GSI backfill takes minutes).
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// One migration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Migration {
    #[allow(dead_code)] // Documentation for readers of the file; logged nowhere else.
    description: String,
    #[serde(flatten)]
    step: Step,
}

/// What a migration does.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Step {
    CreateTable {
        partition_key: KeyAttribute,
        sort_key: Option<KeyAttribute>,
    },
    AddGlobalSecondaryIndex {
        index_name: String,
        partition_key: KeyAttribute,
        sort_key: Option<KeyAttribute>,
        projection: String,
    },
    /// A table beside the main one, named `<table><suffix>`, with TTL on `ttl_attribute`.
    CreateCompanionTable {
        suffix: String,
        partition_key: KeyAttribute,
        ttl_attribute: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyAttribute {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

impl KeyAttribute {
    fn definition(&self) -> Result<AttributeDefinition, StoreError> {
        AttributeDefinition::builder()
            .attribute_name(&self.name)
            .attribute_type(ScalarAttributeType::from(self.kind.as_str()))
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))
    }

    fn key(&self, role: KeyType) -> Result<KeySchemaElement, StoreError> {
        KeySchemaElement::builder()
            .attribute_name(&self.name)
            .key_type(role)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))
    }
}

/// What one run did, migration by migration.
#[derive(Debug, Default)]
pub struct MigrationReport {
    /// Migrations applied by this run.
    pub applied: Vec<String>,
    /// Migrations found already recorded.
    pub skipped: Vec<String>,
}

/// Name of the table that records applied migrations for `table`.
pub fn ledger_table(table: &str) -> String {
    format!("{table}-migrations")
}

/// Applies every migration not yet recorded for `table`, waiting until all is ACTIVE.
pub async fn run(client: &Client, table: &str) -> Result<MigrationReport, StoreError> {
    let ledger = ledger_table(table);
    ensure_table(
        client,
        &ledger,
        &KeyAttribute {
            name: "Id".into(),
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
        match &migration.step {
            Step::CreateTable {
                partition_key,
                sort_key,
            } => {
                ensure_table(client, table, partition_key, sort_key.as_ref()).await?;
            }
            Step::AddGlobalSecondaryIndex {
                index_name,
                partition_key,
                sort_key,
                projection,
            } => {
                if projection != "ALL" {
                    return Err(StoreError::Internal(format!(
                        "migration {id}: only projection ALL is supported"
                    )));
                }
                ensure_index(client, table, index_name, partition_key, sort_key.as_ref()).await?;
            }
            Step::CreateCompanionTable {
                suffix,
                partition_key,
                ttl_attribute,
            } => {
                let companion = format!("{table}{suffix}");
                ensure_table(client, &companion, partition_key, None).await?;
                ensure_ttl(client, &companion, ttl_attribute).await?;
            }
        }
        record(client, &ledger, id).await?;
        report.applied.push((*id).to_owned());
    }
    Ok(report)
}

/// Creates a table unless it exists, then waits until it is ACTIVE.
async fn ensure_table(
    client: &Client,
    table: &str,
    partition_key: &KeyAttribute,
    sort_key: Option<&KeyAttribute>,
) -> Result<(), StoreError> {
    if describe(client, table).await?.is_none() {
        let mut request = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(partition_key.definition()?)
            .key_schema(partition_key.key(KeyType::Hash)?);
        if let Some(sort_key) = sort_key {
            request = request
                .attribute_definitions(sort_key.definition()?)
                .key_schema(sort_key.key(KeyType::Range)?);
        }
        match instrumented("CreateTable", request.send()).await {
            Ok(_) => tracing::info!(table, "created table"),
            // Another migrate process created it first: that is the outcome we wanted.
            Err(e) if e.code() == Some("ResourceInUseException") => {}
            Err(e) => return Err(StoreError::from_sdk("CreateTable", e)),
        }
    }
    wait_until(client, table, |t| {
        t.table_status() == Some(&TableStatus::Active)
    })
    .await
}

/// Adds a GSI unless it exists (or is being added by another process), then waits until ACTIVE.
async fn ensure_index(
    client: &Client,
    table: &str,
    index_name: &str,
    partition_key: &KeyAttribute,
    sort_key: Option<&KeyAttribute>,
) -> Result<(), StoreError> {
    let has_index = |t: &TableDescription| {
        t.global_secondary_indexes()
            .iter()
            .any(|i| i.index_name() == Some(index_name))
    };
    let deadline = tokio::time::Instant::now() + ACTIVE_TIMEOUT;
    loop {
        let description = describe(client, table)
            .await?
            .ok_or_else(|| StoreError::Unavailable(format!("table {table} does not exist")))?;
        if has_index(&description) {
            break;
        }
        let mut create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(index_name)
            .key_schema(partition_key.key(KeyType::Hash)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            );
        let mut definitions = vec![partition_key.definition()?];
        if let Some(sort_key) = sort_key {
            create = create.key_schema(sort_key.key(KeyType::Range)?);
            definitions.push(sort_key.definition()?);
        }
        let create = create
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let call = client
            .update_table()
            .table_name(table)
            .set_attribute_definitions(Some(definitions))
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().create(create).build(),
            )
            .send();
        match instrumented("UpdateTable", call).await {
            Ok(_) => {
                tracing::info!(table, index_name, "adding index");
                break;
            }
            // The table is busy (another process is adding this index) or the index was just
            // added: look again rather than fail, so concurrent runs converge.
            Err(e)
                if matches!(
                    e.code(),
                    Some("ResourceInUseException" | "LimitExceededException")
                ) || (e.code() == Some("ValidationException")
                    && e.message().is_some_and(|m| m.contains("already exists"))) =>
            {
                if tokio::time::Instant::now() > deadline {
                    return Err(StoreError::from_sdk("UpdateTable", e));
                }
                tokio::time::sleep(POLL_INTERVAL).await;
            }
            // Whatever the error, another process may have added the index meanwhile (moto, for
            // one, answers a concurrent duplicate with a bare 500): if it is there, we are done.
            Err(e) => {
                let added_meanwhile = describe(client, table)
                    .await?
                    .as_ref()
                    .is_some_and(has_index);
                if !added_meanwhile {
                    return Err(StoreError::from_sdk("UpdateTable", e));
                }
                break;
            }
        }
    }
    wait_until(client, table, |t| {
        t.table_status() == Some(&TableStatus::Active)
            && t.global_secondary_indexes().iter().any(|i| {
                i.index_name() == Some(index_name) && i.index_status() == Some(&IndexStatus::Active)
            })
    })
    .await
}

/// Enables TTL on `attribute` unless it is already enabled (or being enabled) on it.
///
/// DynamoDB refuses a second UpdateTimeToLive while one is in progress or when TTL is already
/// on, which is what a concurrent `migrate` sees: whatever the error, if TTL is now on for this
/// attribute the outcome is the one wanted.
async fn ensure_ttl(client: &Client, table: &str, attribute: &str) -> Result<(), StoreError> {
    if ttl_enabled_on(client, table, attribute).await? {
        return Ok(());
    }
    let specification = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(attribute)
        .build()
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    let call = client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(specification)
        .send();
    match instrumented("UpdateTimeToLive", call).await {
        Ok(_) => {
            tracing::info!(table, attribute, "enabled TTL");
            Ok(())
        }
        Err(e) => {
            if ttl_enabled_on(client, table, attribute).await? {
                Ok(())
            } else {
                Err(StoreError::from_sdk("UpdateTimeToLive", e))
            }
        }
    }
}

/// Whether TTL is enabled, or being enabled, on `attribute`.
async fn ttl_enabled_on(client: &Client, table: &str, attribute: &str) -> Result<bool, StoreError> {
    let call = client.describe_time_to_live().table_name(table).send();
    let output = instrumented("DescribeTimeToLive", call)
        .await
        .map_err(|e| StoreError::from_sdk("DescribeTimeToLive", e))?;
    Ok(output.time_to_live_description.is_some_and(|d| {
        d.attribute_name() == Some(attribute)
            && matches!(
                d.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            )
    }))
}

async fn describe(client: &Client, table: &str) -> Result<Option<TableDescription>, StoreError> {
    match instrumented(
        "DescribeTable",
        client.describe_table().table_name(table).send(),
    )
    .await
    {
        Ok(output) => Ok(output.table),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(StoreError::from_sdk("DescribeTable", e)),
    }
}

async fn wait_until(
    client: &Client,
    table: &str,
    ready: impl Fn(&TableDescription) -> bool,
) -> Result<(), StoreError> {
    let deadline = tokio::time::Instant::now() + ACTIVE_TIMEOUT;
    loop {
        if describe(client, table).await?.as_ref().is_some_and(&ready) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(StoreError::Unavailable(format!(
                "{table} did not become ACTIVE"
            )));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

async fn is_recorded(client: &Client, ledger: &str, id: &str) -> Result<bool, StoreError> {
    let call = client
        .get_item()
        .table_name(ledger)
        .key(
            "Id",
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
    let condition = format!("attribute_not_exists({})", p.name("Id"));
    let call = client
        .put_item()
        .table_name(ledger)
        .item("Id", S(id.to_owned()))
        .item("AppliedAt", S(now_timestamp()))
        .condition_expression(condition)
        .set_expression_attribute_names(p.names())
        .send();
    match instrumented("PutItem", call).await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(()),
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
    fn every_migration_parses() {
        for (id, source) in MIGRATIONS {
            serde_json::from_str::<Migration>(source).unwrap_or_else(|e| panic!("{id}: {e}"));
        }
    }
}
