//! The command line parsed by clap: flags, their `BOOKSTORE_*` variables, and the parsers that
//! validate each value, so a bad one is refused before anything runs.
//!
//! Every setting can come from a flag or from its `BOOKSTORE_*` variable; AWS settings come from
//! the standard AWS variables and files, read by `aws-config`.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use axum::http::HeaderValue;
use clap::{Args, Parser, Subcommand, builder::RangedU64ValueParser, value_parser};
use secrecy::SecretString;

use crate::{
    auth_policy::AuthPolicy,
    http::{self, HttpOptions},
    repository::MAX_TABLE_NAME,
    server::{ConnectionLimits, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT},
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
    /// Rebuild every category and author count from the table (after writes by other tools).
    Recount(TableArgs),
    /// Load books with BatchWriteItem (default: the tutorial's five sample books).
    Seed(SeedArgs),
    /// Print the OpenAPI document.
    Openapi,
    /// Exit 0 if the local server answers /health/live, else 1 (for container health checks).
    Healthcheck(HealthcheckArgs),
}

// One `#[arg]` a line, in the same order for every setting: the flag and its variable; the
// variable again as the value's name in the help; then how the value is read (default, parser).

/// Where `serve` listens unless told otherwise; `healthcheck` assumes the same.
const DEFAULT_ADDR: &str = "0.0.0.0:8080";

/// Which table to use.
#[derive(Debug, Args)]
pub struct TableArgs {
    /// DynamoDB table name.
    #[arg(long, env = "BOOKSTORE_TABLE")]
    #[arg(value_name = "BOOKSTORE_TABLE")]
    #[arg(default_value = "Books", value_parser = table_name)]
    pub table: String,
}

/// Settings of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BOOKSTORE_ADDR")]
    #[arg(value_name = "BOOKSTORE_ADDR")]
    #[arg(default_value = DEFAULT_ADDR)]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub table: TableArgs,
    /// Comma-separated bearer tokens allowed to write.
    #[arg(long, env = "BOOKSTORE_API_TOKENS")]
    #[arg(value_name = "BOOKSTORE_API_TOKENS")]
    #[arg(hide_env_values = true, value_parser = token_list)]
    pub api_tokens: Option<Tokens>,
    /// `none` lets anyone write (local development only).
    #[arg(long, env = "BOOKSTORE_AUTH")]
    #[arg(value_name = "BOOKSTORE_AUTH")]
    #[arg(value_parser = auth_mode)]
    pub auth: Option<AuthMode>,
    /// Comma-separated browser origins allowed by CORS (e.g. `https://shop.example.com`).
    #[arg(long, env = "BOOKSTORE_CORS_ORIGINS")]
    #[arg(value_name = "BOOKSTORE_CORS_ORIGINS")]
    #[arg(value_delimiter = ',', value_parser = cors_origin)]
    pub cors_origins: Vec<Option<HeaderValue>>,
    /// Seconds a client has to send complete request headers before its connection is closed.
    #[arg(long, env = "BOOKSTORE_HEADER_READ_TIMEOUT_SECS")]
    #[arg(value_name = "BOOKSTORE_HEADER_READ_TIMEOUT_SECS")]
    #[arg(default_value_t = DEFAULT_HEADER_READ_TIMEOUT.as_secs())]
    #[arg(value_parser = seconds(300))]
    pub header_read_timeout_secs: u64,
    /// Seconds an idle keep-alive connection is kept open. Longer than the ALB's 60 s idle
    /// timeout, so the load balancer, not the service, closes idle connections (no 502s).
    #[arg(long, env = "BOOKSTORE_IDLE_TIMEOUT_SECS")]
    #[arg(value_name = "BOOKSTORE_IDLE_TIMEOUT_SECS")]
    #[arg(default_value_t = DEFAULT_IDLE_TIMEOUT.as_secs())]
    #[arg(value_parser = seconds(3600))]
    pub idle_timeout_secs: u64,
    /// Requests handled at once; beyond it a request gets an immediate 503 with `Retry-After`.
    #[arg(long, env = "BOOKSTORE_MAX_IN_FLIGHT")]
    #[arg(value_name = "BOOKSTORE_MAX_IN_FLIGHT")]
    #[arg(default_value_t = http::DEFAULT_MAX_IN_FLIGHT)]
    #[arg(value_parser = value_parser!(u32).range(1..=65_536))]
    pub max_in_flight: u32,
    /// Serve `/metrics` on this address instead of the API port (e.g. `0.0.0.0:9090`).
    #[arg(long, env = "BOOKSTORE_METRICS_ADDR")]
    #[arg(value_name = "BOOKSTORE_METRICS_ADDR")]
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
    #[arg(long, env = "BOOKSTORE_ADDR")]
    #[arg(value_name = "BOOKSTORE_ADDR")]
    #[arg(default_value = DEFAULT_ADDR)]
    pub addr: SocketAddr,
}

/// The bearer tokens of `BOOKSTORE_API_TOKENS`, at least one; `Debug` never shows them.
pub type Tokens = Arc<[SecretString]>;

/// What `BOOKSTORE_AUTH` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Unset or empty: writes need a token.
    Tokens,
    /// `none`: anyone may write.
    Open,
}

/// Settings that are each valid but do not go together; the message names the variables.
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
}

/// A table name DynamoDB accepts.
fn table_name(table: &str) -> Result<String, String> {
    let ok = (3..=MAX_TABLE_NAME).contains(&table.len())
        && table
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(table.to_owned())
    } else {
        Err(format!(
            "BOOKSTORE_TABLE must be 3 to {MAX_TABLE_NAME} characters of a-z, A-Z, 0-9, '_', '-' and '.', got '{table}'"
        ))
    }
}

/// A whole number of seconds from 1 to `max`.
fn seconds(max: u64) -> RangedU64ValueParser<u64> {
    value_parser!(u64).range(1..=max)
}

/// The comma-separated tokens, blanks dropped; none at all is refused.
fn token_list(list: &str) -> Result<Tokens, String> {
    let tokens: Vec<SecretString> = list
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(SecretString::from)
        .collect();
    if tokens.is_empty() {
        return Err("BOOKSTORE_API_TOKENS holds no token".to_owned());
    }
    Ok(Arc::from(tokens))
}

/// `none` (any case) or nothing.
fn auth_mode(mode: &str) -> Result<AuthMode, String> {
    match mode.trim() {
        "" => Ok(AuthMode::Tokens),
        mode if mode.eq_ignore_ascii_case("none") => Ok(AuthMode::Open),
        other => Err(format!(
            "BOOKSTORE_AUTH must be 'none' or unset, got '{other}'"
        )),
    }
}

/// One origin as a header value; a blank list element is `None` and ignored.
fn cors_origin(origin: &str) -> Result<Option<HeaderValue>, String> {
    let origin = origin.trim();
    if origin.is_empty() {
        return Ok(None);
    }
    HeaderValue::from_str(origin)
        .map(Some)
        .map_err(|_| format!("BOOKSTORE_CORS_ORIGINS holds an invalid origin '{origin}'"))
}

impl ServeArgs {
    /// Who may write, refusing to start without an explicit choice.
    pub fn auth_policy(&self) -> Result<AuthPolicy, ConfigError> {
        match (&self.api_tokens, self.auth.unwrap_or(AuthMode::Tokens)) {
            (Some(_), AuthMode::Open) => Err(ConfigError::ConflictingAuth),
            (None, AuthMode::Open) => Ok(AuthPolicy::Open),
            (None, AuthMode::Tokens) => Err(ConfigError::NoAuth),
            (Some(tokens), AuthMode::Tokens) => Ok(AuthPolicy::Tokens(tokens.clone())),
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

    /// The CORS origins, blanks dropped.
    pub fn cors_origins(&self) -> Vec<HeaderValue> {
        self.cors_origins.iter().flatten().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        let argv = ["bookstore", "serve"].iter().chain(args);
        match Cli::try_parse_from(argv)?.command {
            Command::Serve(args) => Ok(args),
            other => panic!("serve expected, got {other:?}"),
        }
    }

    fn policy(args: &[&str]) -> Result<AuthPolicy, ConfigError> {
        serve(args).expect("valid flags").auth_policy()
    }

    #[test]
    fn auth_needs_an_explicit_choice() {
        assert!(matches!(policy(&[]), Err(ConfigError::NoAuth)));
        assert!(matches!(policy(&["--auth", "none"]), Ok(AuthPolicy::Open)));
        assert!(matches!(policy(&["--auth", "None "]), Ok(AuthPolicy::Open)));
        assert!(matches!(policy(&["--auth", ""]), Err(ConfigError::NoAuth)));
        assert!(matches!(
            policy(&["--api-tokens", "a", "--auth", "none"]),
            Err(ConfigError::ConflictingAuth)
        ));
        assert!(serve(&["--auth", "off"]).is_err());
        assert!(serve(&["--api-tokens", " , "]).is_err());
        let Ok(AuthPolicy::Tokens(tokens)) = policy(&["--api-tokens", "a, b"]) else {
            panic!("tokens expected");
        };
        assert_eq!(tokens.len(), 2);
    }

    #[test]
    fn secrets_never_print() {
        let args = serve(&["--api-tokens", "hunter2"]).unwrap();
        assert!(!format!("{args:?}").contains("hunter2"));
    }

    #[test]
    fn table_names_follow_dynamodb_rules() {
        let table = |t: &str| table_name(t).is_ok();
        assert!(table("Books") && table("books-test_1.x"));
        assert!(!table("ab") && !table("Bad Name") && !table(&"a".repeat(250)));
    }

    #[test]
    fn cors_origins_drop_blanks_and_refuse_invalid_values() {
        let args = serve(&["--cors-origins", "https://a.example, ,https://b.example"]).unwrap();
        assert_eq!(
            args.cors_origins(),
            ["https://a.example", "https://b.example"]
        );
        assert!(serve(&["--cors-origins", "https://a.example\u{7f}"]).is_err());
    }
}
