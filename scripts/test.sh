#!/usr/bin/env bash
# The whole test suite, from a fresh machine. CI runs exactly this.
#
#  1. cargo fmt --check and clippy -D warnings
#  2. every unit and integration test, against a real DynamoDB engine started here
#  3. the OpenAPI document: valid 3.1, and a typed TypeScript client compiles against it
#  4. the deployment artefacts: cfn-lint, hadolint, IAM least privilege, compose config
#  5. the release binary the image ships: migrate, serve, healthcheck, SIGTERM, start-up time
#  6. that binary live: the /docs page in headless Chromium, and a schemathesis contract test
#
# Each step fails loudly, saying what is missing; nothing is skipped.
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

log=$(mktemp)
passed=0
step() {
  echo "==> $*"
  "$@"
  passed=$((passed + 1))
}

step cargo fmt --all -- --check
step cargo clippy --all-targets --locked -- -D warnings
cargo test --all-targets --locked 2>&1 | tee "$log"
tests=$(awk '/^test result: ok\./ { for (i = 1; i <= NF; i++) if ($i == "passed;") s += $(i - 1) } END { print s + 0 }' "$log")
step scripts/check-openapi.sh
step scripts/lint-deploy.sh
step scripts/release-check.sh
export BOOKSTORE_BIN=target/x86_64-unknown-linux-gnu/release/bookstore
step scripts/check-docs-page.sh
step scripts/contract-test.sh

# One closing line that counts: cargo's tests plus each check above as one.
echo "bookstore suite: $((tests + passed)) passed, 0 failed"
