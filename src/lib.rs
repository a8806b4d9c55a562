//! The bookstore service: the AWS DynamoDB tutorial's `Books` table behind a REST API.
//!
//! Read top-down: `domain` says what a book is, `repository` stores it in DynamoDB, `http`
//! serves it, and `cli`, `server` and `telemetry` run the process. `auth_policy` is shared by
//! the settings that choose it and the HTTP layer that enforces it.

/// The service assembled from its settings, as `serve` runs it and the tests start it.
pub mod application;
/// Who may write.
pub mod auth_policy;
/// The command line: `args` parses it (clap), `run` executes the parsed subcommand.
pub mod cli;
/// Books, names, validation and preconditions; no HTTP, no DynamoDB.
pub mod domain;
/// Routes, extractors, problem+json errors and the middleware stack.
pub mod http;
/// The DynamoDB table: one operation per route, migrations and seeding.
pub mod repository;
/// Serving with graceful shutdown.
pub mod server;
/// JSON logs and the Prometheus recorder.
pub mod telemetry;
