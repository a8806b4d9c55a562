#!/usr/bin/env bash
# The whole test suite, from a fresh machine: starts the DynamoDB engine, checks formatting and
# lints, then runs every unit and integration test against the engine. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${BOOKSTORE_TEST_ENGINE_PORT:-8011}
if [ -z "${BOOKSTORE_TEST_DYNAMODB_ENDPOINT:-}" ]; then
  scripts/dynamodb-engine.sh start "$port"
  trap 'scripts/dynamodb-engine.sh stop "$port"' EXIT
  export BOOKSTORE_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
fi
# The tutorial-compatibility test runs the tutorial's boto3 calls with the engine's Python.
if [ -z "${BOOKSTORE_TEST_PYTHON:-}" ]; then
  scripts/dynamodb-engine.sh install
  export BOOKSTORE_TEST_PYTHON="$PWD/.tools/venv/bin/python"
fi

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --all-targets --locked
