//! The bookstore service: the AWS DynamoDB tutorial's `Books` table behind a REST API.
//!
//! Read top-down: `domain` says what a book is, `repository` stores it in DynamoDB, `http`
//! serves it, and `cli`, `config`, `server` and `telemetry` run the process.

/// Subcommands: serve, migrate, seed, openapi, healthcheck.
pub mod cli;
/// Command line and environment settings, validated at start-up.
pub mod config;
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
