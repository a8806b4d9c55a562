//! What a migration file says, and how each kind of step is carried out.

use aws_sdk_dynamodb::Client;
use serde::Deserialize;

use super::tables::{KeyAttribute, ensure_index, ensure_table, ensure_ttl};
use crate::repository::{error::StoreError, recount};

/// One migration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Migration {
    #[allow(dead_code)] // Documentation for readers of the file; logged nowhere else.
    description: String,
    #[serde(flatten)]
    pub step: Step,
}

/// What a migration does.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Step {
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
    /// A table beside the main one, named `<table><suffix>`, with TTL on `ttl_attribute` if set.
    CreateCompanionTable {
        suffix: String,
        partition_key: KeyAttribute,
        sort_key: Option<KeyAttribute>,
        ttl_attribute: Option<String>,
    },
    /// Rebuilds every count of the catalogue from the table, as `bookstore recount` does.
    RecountCatalogue {},
}

impl Step {
    /// Carries the step out on `table`, leaving alone what is already there, so a run that
    /// stopped midway (or races another) can simply be repeated. `id` names the migration in errors.
    pub(super) async fn apply(
        &self,
        client: &Client,
        table: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        match self {
            Self::CreateTable {
                partition_key,
                sort_key,
            } => ensure_table(client, table, partition_key, sort_key.as_ref()).await,
            Self::AddGlobalSecondaryIndex {
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
                ensure_index(client, table, index_name, partition_key, sort_key.as_ref()).await
            }
            Self::CreateCompanionTable {
                suffix,
                partition_key,
                sort_key,
                ttl_attribute,
            } => {
                let companion = format!("{table}{suffix}");
                ensure_table(client, &companion, partition_key, sort_key.as_ref()).await?;
                match ttl_attribute {
                    Some(attribute) => ensure_ttl(client, &companion, attribute).await,
                    None => Ok(()),
                }
            }
            Self::RecountCatalogue {} => {
                let report = recount(client, table).await?;
                tracing::info!(
                    table,
                    books = report.books,
                    corrected = report.fixes.len(),
                    raced = report.raced.len(),
                    "recounted the catalogue"
                );
                Ok(())
            }
        }
    }
}
