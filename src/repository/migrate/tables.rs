//! Tables, indexes and TTL made to exist, each step safe to repeat and to race.

use std::time::Duration;

use aws_sdk_dynamodb::{
    Client,
    error::{ProvideErrorMetadata, SdkError},
    operation::{
        create_table::CreateTableError,
        describe_table::DescribeTableError,
        update_table::{UpdateTableError, builders::UpdateTableFluentBuilder},
    },
    types::{
        AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction,
        GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection,
        ProjectionType, ScalarAttributeType, TableDescription, TableStatus,
        TimeToLiveSpecification, TimeToLiveStatus,
    },
};
use serde::Deserialize;

use crate::repository::{client::instrumented, error::StoreError};

/// How long to wait for a table or index to become ACTIVE (a real GSI backfill takes minutes).
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How often to look again while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Creates a table unless it exists, then waits until it is ACTIVE.
pub(super) async fn ensure_table(
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
            Err(e)
                if e.as_service_error()
                    .is_some_and(CreateTableError::is_resource_in_use_exception) => {}
            Err(e) => return Err(StoreError::from_sdk("CreateTable", e)),
        }
    }
    wait_until(client, table, |t| {
        t.table_status() == Some(&TableStatus::Active)
    })
    .await
}

/// Adds a GSI unless it exists (or is being added by another process), then waits until ACTIVE.
pub(super) async fn ensure_index(
    client: &Client,
    table: &str,
    index_name: &str,
    partition_key: &KeyAttribute,
    sort_key: Option<&KeyAttribute>,
) -> Result<(), StoreError> {
    let deadline = tokio::time::Instant::now() + ACTIVE_TIMEOUT;
    loop {
        let description = describe(client, table)
            .await?
            .ok_or_else(|| StoreError::Unavailable(format!("table {table} does not exist")))?;
        if has_index(&description, index_name) {
            break;
        }
        let call = add_index(client, table, index_name, partition_key, sort_key)?.send();
        match instrumented("UpdateTable", call).await {
            Ok(_) => {
                tracing::info!(table, index_name, "adding index");
                break;
            }
            Err(e) if another_is_adding(&e) => {
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
                    .is_some_and(|t| has_index(&t, index_name));
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

/// Whether the table has the index, in whatever state.
fn has_index(table: &TableDescription, index_name: &str) -> bool {
    table
        .global_secondary_indexes()
        .iter()
        .any(|i| i.index_name() == Some(index_name))
}

/// The UpdateTable that adds a GSI projecting every attribute.
fn add_index(
    client: &Client,
    table: &str,
    index_name: &str,
    partition_key: &KeyAttribute,
    sort_key: Option<&KeyAttribute>,
) -> Result<UpdateTableFluentBuilder, StoreError> {
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
    Ok(client
        .update_table()
        .table_name(table)
        .set_attribute_definitions(Some(definitions))
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder().create(create).build(),
        ))
}

/// The table is busy (another process is adding this index) or the index was just added: the
/// caller looks again rather than fail, so concurrent runs converge.
fn another_is_adding<R>(e: &SdkError<UpdateTableError, R>) -> bool {
    let busy = e
        .as_service_error()
        .is_some_and(|e| e.is_resource_in_use_exception() || e.is_limit_exceeded_exception());
    // Not a modelled error of UpdateTable, so only its code and message tell it apart.
    let just_added = e.code() == Some("ValidationException")
        && e.message().is_some_and(|m| m.contains("already exists"));
    busy || just_added
}

/// Enables TTL on `attribute` unless it is already enabled (or being enabled) on it.
///
/// DynamoDB refuses a second UpdateTimeToLive while one is in progress or when TTL is already
/// on, which is what a concurrent `migrate` sees: whatever the error, if TTL is now on for this
/// attribute the outcome is the one wanted.
pub(super) async fn ensure_ttl(
    client: &Client,
    table: &str,
    attribute: &str,
) -> Result<(), StoreError> {
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

/// The table as DescribeTable shows it; `None` when it does not exist.
async fn describe(client: &Client, table: &str) -> Result<Option<TableDescription>, StoreError> {
    match instrumented(
        "DescribeTable",
        client.describe_table().table_name(table).send(),
    )
    .await
    {
        Ok(output) => Ok(output.table),
        Err(e)
            if e.as_service_error()
                .is_some_and(DescribeTableError::is_resource_not_found_exception) =>
        {
            Ok(None)
        }
        Err(e) => Err(StoreError::from_sdk("DescribeTable", e)),
    }
}

/// Polls the table until `ready` holds, for at most [`ACTIVE_TIMEOUT`].
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

/// A key attribute as a migration names it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeyAttribute {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

impl KeyAttribute {
    /// The attribute's definition (name and scalar type) for CreateTable or UpdateTable.
    pub(super) fn definition(&self) -> Result<AttributeDefinition, StoreError> {
        AttributeDefinition::builder()
            .attribute_name(&self.name)
            .attribute_type(ScalarAttributeType::from(self.kind.as_str()))
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))
    }

    /// The attribute as the partition (`Hash`) or sort (`Range`) key of a key schema.
    pub(super) fn key(&self, role: KeyType) -> Result<KeySchemaElement, StoreError> {
        KeySchemaElement::builder()
            .attribute_name(&self.name)
            .key_type(role)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))
    }
}
