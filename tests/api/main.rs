//! End-to-end tests: the real app on a socket, over a real DynamoDB engine (see `support`).
//!
//! One test binary so the heavy dependency graph is linked once. Each test gets its own table,
//! so tests run in parallel.

mod batch;
mod books;
mod catalogue;
mod conditional;
mod errors;
mod formats;
mod hardening;
mod hostile;
mod idempotency;
mod lifecycle;
mod listings;
mod merge_patch;
mod operations;
mod support;
mod tutorial;
