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
    auth_policy::{AuthPolicy, DEFAULT_WRITE_SCOPE, OidcSettings, OidcSetupError, OidcVerifier},
    http::{
        self, HttpOptions,
        quota::{self, WriteQuota},
    },
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
    /// Create the books that do not exist yet, each counted in the catalogue; existing ones are kept
    /// (default: the tutorial's five sample books).
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
    /// Which table to use.
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
    /// OIDC issuer whose JWT access tokens may write (e.g. a Cognito user pool's
    /// `https://cognito-idp.<region>.amazonaws.com/<pool id>`); needs the audience too.
    #[arg(long, env = "BOOKSTORE_OIDC_ISSUER")]
    #[arg(value_name = "BOOKSTORE_OIDC_ISSUER")]
    #[arg(value_parser = non_blank("BOOKSTORE_OIDC_ISSUER"))]
    pub oidc_issuer: Option<String>,
    /// The access tokens' `aud`, or their `client_id` when they have no `aud` (Cognito).
    #[arg(long, env = "BOOKSTORE_OIDC_AUDIENCE")]
    #[arg(value_name = "BOOKSTORE_OIDC_AUDIENCE")]
    #[arg(value_parser = non_blank("BOOKSTORE_OIDC_AUDIENCE"))]
    pub oidc_audience: Option<String>,
    /// The scope an access token needs to write.
    #[arg(long, env = "BOOKSTORE_WRITE_SCOPE")]
    #[arg(value_name = "BOOKSTORE_WRITE_SCOPE")]
    #[arg(default_value = DEFAULT_WRITE_SCOPE, value_parser = scope_token)]
    pub write_scope: String,
    /// Writes per second each principal (token or OIDC subject) may sustain; 0 turns the quota off.
    #[arg(long, env = "BOOKSTORE_WRITE_RATE")]
    #[arg(value_name = "BOOKSTORE_WRITE_RATE")]
    #[arg(default_value_t = quota::DEFAULT_WRITE_RATE)]
    pub write_rate: u32,
    /// Writes each principal may make at once before the rate applies; 0 turns the quota off.
    #[arg(long, env = "BOOKSTORE_WRITE_BURST")]
    #[arg(value_name = "BOOKSTORE_WRITE_BURST")]
    #[arg(default_value_t = quota::DEFAULT_WRITE_BURST)]
    pub write_burst: u32,
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
    /// Which table to use.
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
    /// Neither tokens, nor an issuer, nor the explicit opt-out.
    #[error(
        "set BOOKSTORE_API_TOKENS (comma-separated bearer tokens for writes), BOOKSTORE_OIDC_ISSUER with BOOKSTORE_OIDC_AUDIENCE, or, for local development only, BOOKSTORE_AUTH=none"
    )]
    NoAuth,
    /// Credentials and the opt-out: ambiguous, so refused.
    #[error(
        "BOOKSTORE_AUTH=none is set with BOOKSTORE_API_TOKENS or BOOKSTORE_OIDC_ISSUER; set only one"
    )]
    ConflictingAuth,
    /// An issuer without an audience or the reverse: every token would be refused.
    #[error("BOOKSTORE_OIDC_ISSUER and BOOKSTORE_OIDC_AUDIENCE go together; set both or neither")]
    IncompleteOidc,
    /// The issuer cannot be used.
    #[error(transparent)]
    Oidc(#[from] OidcSetupError),
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

/// A value that is not blank, trimmed.
fn non_blank(name: &'static str) -> impl Fn(&str) -> Result<String, String> + Clone {
    move |value| {
        let value = value.trim();
        if value.is_empty() {
            Err(format!("{name} is blank"))
        } else {
            Ok(value.to_owned())
        }
    }
}

/// One OAuth scope (RFC 6749 §3.3 scope-token), which is also safe in a `WWW-Authenticate`
/// quoted string.
fn scope_token(scope: &str) -> Result<String, String> {
    let ok = !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
    if ok {
        Ok(scope.to_owned())
    } else {
        Err(format!(
            "BOOKSTORE_WRITE_SCOPE must be one scope: printable ASCII without spaces, quotes or backslashes, got '{scope}'"
        ))
    }
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
        let oidc = self.oidc_settings()?;
        match (
            &self.api_tokens,
            oidc,
            self.auth.unwrap_or(AuthMode::Tokens),
        ) {
            (None, None, AuthMode::Open) => Ok(AuthPolicy::Open),
            (_, _, AuthMode::Open) => Err(ConfigError::ConflictingAuth),
            (None, None, AuthMode::Tokens) => Err(ConfigError::NoAuth),
            (Some(tokens), None, AuthMode::Tokens) => Ok(AuthPolicy::Tokens(tokens.clone())),
            (tokens, Some(oidc), AuthMode::Tokens) => Ok(AuthPolicy::TokensOrOidc {
                tokens: tokens.clone().unwrap_or_else(|| Arc::from(Vec::new())),
                oidc: Arc::new(OidcVerifier::new(&oidc)?),
            }),
        }
    }

    /// The OIDC issuer's settings, if one is configured.
    pub fn oidc_settings(&self) -> Result<Option<OidcSettings>, ConfigError> {
        match (&self.oidc_issuer, &self.oidc_audience) {
            (None, None) => Ok(None),
            (Some(issuer), Some(audience)) => Ok(Some(OidcSettings {
                issuer: issuer.clone(),
                audience: audience.clone(),
                write_scope: self.write_scope.clone(),
            })),
            _ => Err(ConfigError::IncompleteOidc),
        }
    }

    /// The write quota per principal, or `None` when either setting is 0.
    pub fn write_quota(&self) -> Option<WriteQuota> {
        WriteQuota::new(self.write_rate, self.write_burst)
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
    fn oidc_stands_alone_or_beside_tokens() {
        let issuer = ["--oidc-issuer", "https://issuer.example"];
        let both = [
            "--oidc-issuer",
            "https://issuer.example",
            "--oidc-audience",
            "api",
        ];
        assert!(matches!(policy(&issuer), Err(ConfigError::IncompleteOidc)));
        assert!(matches!(
            policy(&["--oidc-audience", "api"]),
            Err(ConfigError::IncompleteOidc)
        ));
        let Ok(AuthPolicy::TokensOrOidc { tokens, .. }) = policy(&both) else {
            panic!("OIDC expected");
        };
        assert!(tokens.is_empty());
        let with_tokens = [&both[..], &["--api-tokens", "a"]].concat();
        let Ok(AuthPolicy::TokensOrOidc { tokens, .. }) = policy(&with_tokens) else {
            panic!("OIDC and tokens expected");
        };
        assert_eq!(tokens.len(), 1);
        let open = [&both[..], &["--auth", "none"]].concat();
        assert!(matches!(policy(&open), Err(ConfigError::ConflictingAuth)));
        let plain_http = [
            "--oidc-issuer",
            "http://issuer.example",
            "--oidc-audience",
            "a",
        ];
        assert!(matches!(policy(&plain_http), Err(ConfigError::Oidc(_))));
        let local = [
            "--oidc-issuer",
            "http://localhost:3000",
            "--oidc-audience",
            "a",
        ];
        assert!(policy(&local).is_ok());
    }

    #[test]
    fn the_write_scope_is_one_scope_token() {
        assert_eq!(serve(&[]).unwrap().write_scope, "bookstore/write");
        assert!(serve(&["--write-scope", "api:write"]).is_ok());
        for bad in ["", "a b", "a\"b", "a\\b"] {
            assert!(serve(&["--write-scope", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_write_quota_defaults_on_and_zero_turns_it_off() {
        assert!(serve(&[]).unwrap().write_quota().is_some());
        assert!(
            serve(&["--write-rate", "0"])
                .unwrap()
                .write_quota()
                .is_none()
        );
        assert!(
            serve(&["--write-burst", "0"])
                .unwrap()
                .write_quota()
                .is_none()
        );
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
