//! Configuration: the command line, its environment variables, and their validation.
//!
//! Every setting can come from a flag or from its `BOOKSTORE_*` variable; AWS settings come from
//! the standard AWS variables and files, read by `aws-config`.

use std::{fmt, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use axum::http::HeaderValue;
use clap::{Args, Parser, Subcommand};

use crate::{
    http::{self, AuthPolicy, HttpOptions},
    server::{self, ConnectionLimits},
};

/// The bookstore service: a REST API over the tutorial's DynamoDB `Books` table.
#[derive(Debug, Parser)]
#[command(name = "bookstore", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API.
    Serve(ServeArgs),
    /// Create the table and its index (idempotent; safe to run from several tasks at once).
    Migrate(TableArgs),
    /// Load books with BatchWriteItem (default: the tutorial's five sample books).
    Seed(SeedArgs),
    /// Print the OpenAPI document.
    Openapi,
    /// Exit 0 if the local server answers /health/live, else 1 (for container health checks).
    Healthcheck(HealthcheckArgs),
}

/// Which table to use.
#[derive(Debug, Args)]
pub struct TableArgs {
    /// DynamoDB table name.
    #[arg(
        long,
        env = "BOOKSTORE_TABLE",
        value_name = "BOOKSTORE_TABLE",
        default_value = "Books"
    )]
    pub table: String,
}

/// Settings of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(
        long,
        env = "BOOKSTORE_ADDR",
        value_name = "BOOKSTORE_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub table: TableArgs,
    /// Comma-separated bearer tokens allowed to write.
    #[arg(
        long,
        env = "BOOKSTORE_API_TOKENS",
        value_name = "BOOKSTORE_API_TOKENS",
        hide_env_values = true
    )]
    pub api_tokens: Option<Secret>,
    /// `none` lets anyone write (local development only).
    #[arg(long, env = "BOOKSTORE_AUTH", value_name = "BOOKSTORE_AUTH")]
    pub auth: Option<String>,
    /// Comma-separated browser origins allowed by CORS (e.g. `https://shop.example.com`).
    #[arg(
        long,
        env = "BOOKSTORE_CORS_ORIGINS",
        value_name = "BOOKSTORE_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Seconds a client has to send complete request headers before its connection is closed.
    #[arg(
        long,
        env = "BOOKSTORE_HEADER_READ_TIMEOUT_SECS",
        value_name = "BOOKSTORE_HEADER_READ_TIMEOUT_SECS",
        default_value_t = server::DEFAULT_HEADER_READ_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..=300)
    )]
    pub header_read_timeout_secs: u64,
    /// Seconds an idle keep-alive connection is kept open. Longer than the ALB's 60 s idle
    /// timeout, so the load balancer, not the service, closes idle connections (no 502s).
    #[arg(
        long,
        env = "BOOKSTORE_IDLE_TIMEOUT_SECS",
        value_name = "BOOKSTORE_IDLE_TIMEOUT_SECS",
        default_value_t = server::DEFAULT_IDLE_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub idle_timeout_secs: u64,
    /// Requests handled at once; beyond it a request gets an immediate 503 with `Retry-After`.
    #[arg(
        long,
        env = "BOOKSTORE_MAX_IN_FLIGHT",
        value_name = "BOOKSTORE_MAX_IN_FLIGHT",
        default_value_t = http::DEFAULT_MAX_IN_FLIGHT,
        value_parser = clap::value_parser!(u32).range(1..=65_536)
    )]
    pub max_in_flight: u32,
    /// Serve `/metrics` on this address instead of the API port (e.g. `0.0.0.0:9090`).
    #[arg(
        long,
        env = "BOOKSTORE_METRICS_ADDR",
        value_name = "BOOKSTORE_METRICS_ADDR"
    )]
    pub metrics_addr: Option<SocketAddr>,
}

/// Settings of `seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// A JSON array of books (`author`, `title`, `category`, `formats`); default: the tutorial's books.
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub table: TableArgs,
}

/// Settings of `healthcheck`.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The address `serve` listens on; the check connects to its port on 127.0.0.1.
    #[arg(
        long,
        env = "BOOKSTORE_ADDR",
        value_name = "BOOKSTORE_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    pub addr: SocketAddr,
}

/// A setting that must never be printed: its `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: &str) -> Self {
        Self(Arc::from(value))
    }

    /// The secret itself, for the one place that compares it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

/// A setting that is present but unusable; the message names the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither tokens nor the explicit opt-out.
    #[error(
        "set BOOKSTORE_API_TOKENS (comma-separated bearer tokens for writes) or, for local development only, BOOKSTORE_AUTH=none"
    )]
    NoAuth,
    /// Both tokens and the opt-out: ambiguous, so refused.
    #[error("BOOKSTORE_API_TOKENS and BOOKSTORE_AUTH=none are both set; set only one")]
    ConflictingAuth,
    /// An unknown `BOOKSTORE_AUTH`.
    #[error("BOOKSTORE_AUTH must be 'none' or unset, got '{0}'")]
    BadAuthMode(String),
    /// Tokens listed but all empty.
    #[error("BOOKSTORE_API_TOKENS holds no token")]
    EmptyTokens,
    /// A table name DynamoDB would refuse.
    #[error("BOOKSTORE_TABLE must be 3 to {max} characters of a-z, A-Z, 0-9, '_', '-' and '.', got '{0}'", max = MAX_TABLE_NAME)]
    BadTable(String),
    /// An origin that is not a valid header value.
    #[error("BOOKSTORE_CORS_ORIGINS holds an invalid origin '{0}'")]
    BadOrigin(String),
}

/// DynamoDB allows 255; `-migrations` and `-idempotency` (the longer) are appended for the
/// ledger and the Idempotency-Key records.
const MAX_TABLE_NAME: usize = 255 - "-idempotency".len();

impl TableArgs {
    /// The validated table name.
    pub fn validated(&self) -> Result<&str, ConfigError> {
        let ok = (3..=MAX_TABLE_NAME).contains(&self.table.len())
            && self
                .table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if ok {
            Ok(&self.table)
        } else {
            Err(ConfigError::BadTable(self.table.clone()))
        }
    }
}

impl ServeArgs {
    /// Who may write, refusing to start without an explicit choice.
    pub fn auth_policy(&self) -> Result<AuthPolicy, ConfigError> {
        let open = match self.auth.as_deref().map(str::trim) {
            None | Some("") => false,
            Some(mode) if mode.eq_ignore_ascii_case("none") => true,
            Some(other) => return Err(ConfigError::BadAuthMode(other.to_owned())),
        };
        match (&self.api_tokens, open) {
            (Some(_), true) => Err(ConfigError::ConflictingAuth),
            (None, true) => Ok(AuthPolicy::Open),
            (None, false) => Err(ConfigError::NoAuth),
            (Some(list), false) => {
                let tokens: Vec<Secret> = list
                    .expose()
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(Secret::new)
                    .collect();
                if tokens.is_empty() {
                    return Err(ConfigError::EmptyTokens);
                }
                Ok(AuthPolicy::Tokens(Arc::from(tokens)))
            }
        }
    }

    /// The connection timeouts of the server.
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
        }
    }

    /// The HTTP options: the in-flight cap and where `/metrics` is served.
    pub fn http_options(&self) -> HttpOptions {
        HttpOptions {
            max_in_flight: self.max_in_flight as usize,
            metrics_on_api_port: self.metrics_addr.is_none(),
        }
    }

    /// The CORS origins as header values.
    pub fn cors_origins(&self) -> Result<Vec<HeaderValue>, ConfigError> {
        self.cors_origins
            .iter()
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
            .map(|o| HeaderValue::from_str(o).map_err(|_| ConfigError::BadOrigin(o.to_owned())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(tokens: Option<&str>, auth: Option<&str>) -> ServeArgs {
        ServeArgs {
            addr: "127.0.0.1:0".parse().unwrap(),
            table: TableArgs {
                table: "Books".into(),
            },
            api_tokens: tokens.map(Secret::new),
            auth: auth.map(str::to_owned),
            cors_origins: vec![],
            header_read_timeout_secs: server::DEFAULT_HEADER_READ_TIMEOUT.as_secs(),
            idle_timeout_secs: server::DEFAULT_IDLE_TIMEOUT.as_secs(),
            max_in_flight: http::DEFAULT_MAX_IN_FLIGHT,
            metrics_addr: None,
        }
    }

    #[test]
    fn auth_needs_an_explicit_choice() {
        assert!(matches!(
            serve_args(None, None).auth_policy(),
            Err(ConfigError::NoAuth)
        ));
        assert!(matches!(
            serve_args(None, Some("none")).auth_policy(),
            Ok(AuthPolicy::Open)
        ));
        assert!(matches!(
            serve_args(Some("a"), Some("none")).auth_policy(),
            Err(ConfigError::ConflictingAuth)
        ));
        assert!(matches!(
            serve_args(None, Some("off")).auth_policy(),
            Err(ConfigError::BadAuthMode(_))
        ));
        assert!(matches!(
            serve_args(Some(" , "), None).auth_policy(),
            Err(ConfigError::EmptyTokens)
        ));
        let Ok(AuthPolicy::Tokens(tokens)) = serve_args(Some("a, b"), None).auth_policy() else {
            panic!("tokens expected");
        };
        assert_eq!(tokens.len(), 2);
    }

    #[test]
    fn secrets_never_print() {
        let args = serve_args(Some("hunter2"), None);
        assert!(!format!("{args:?}").contains("hunter2"));
    }

    #[test]
    fn table_names_follow_dynamodb_rules() {
        let table = |t: &str| TableArgs { table: t.into() }.validated().is_ok();
        assert!(table("Books") && table("books-test_1.x"));
        assert!(!table("ab") && !table("Bad Name") && !table(&"a".repeat(250)));
    }
}
