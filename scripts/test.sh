#!/usr/bin/env bash
# The whole test suite, from a fresh machine. CI runs exactly this.
#
#  1. cargo fmt --check and clippy -D warnings, then cargo-deny: licences, duplicate crates, sources
#     (scripts/deny.sh, rules in deny.toml)
#  2. every unit and integration test against dynoxide (the default engine, which the tests start
#     in-process: `cargo test` alone runs them), including the tests that need conditional writes
#     to one item to be serialised (tests/serialised_writes) and the fault-and-load test
#     (tests/nothing_lost: its own engine process, paused twice and killed once); here nothing may
#     skip (BOOKSTORE_TEST_REQUIRE_ALL)
#  3. the integration suite (tests/api) again against moto_server, the second engine
#  4. the OpenAPI document: valid 3.1, and a typed TypeScript client compiles against it
#  5. the deployment artefacts: cfn-lint, hadolint, IAM least privilege, compose config
#  6. the release binary the image ships: migrate, serve, healthcheck, SIGTERM, start-up time
#     then the image: built from that binary, run, and run by docker compose (scripts/image-check.sh)
#  7. that binary live: the /docs page in headless Chromium, and a schemathesis contract test
#
# Each step fails loudly, saying what is missing; nothing is skipped. moto is started here
# (scripts/dynamodb-engine.sh) unless BOOKSTORE_TEST_MOTO_ENDPOINT points at one already.
set -euo pipefail
cd "$(dirname "$0")/.."

moto_port=${BOOKSTORE_TEST_MOTO_PORT:-8012}

# The tutorial-compatibility test runs the tutorial's boto3 calls with moto's Python, which has boto3.
BOOKSTORE_ENGINE=moto scripts/dynamodb-engine.sh install
export BOOKSTORE_TEST_PYTHON=${BOOKSTORE_TEST_PYTHON:-$PWD/.tools/venv-engine/bin/python}
# Under this script a test that cannot find what it needs fails rather than skips.
export BOOKSTORE_TEST_REQUIRE_ALL=1

started=()
# shellcheck disable=SC2329  # called by the EXIT trap
stop_engines() {
  for port in "${started[@]}"; do BOOKSTORE_ENGINE=moto scripts/dynamodb-engine.sh stop "$port" || true; done
}
trap stop_engines EXIT
moto_endpoint=${BOOKSTORE_TEST_MOTO_ENDPOINT:-}
if [ -z "$moto_endpoint" ]; then
  BOOKSTORE_ENGINE=moto scripts/dynamodb-engine.sh start "$moto_port"
  started+=("$moto_port")
  moto_endpoint="http://127.0.0.1:$moto_port"
fi

steps=0
step() {
  echo "==> $*"
  "$@"
  steps=$((steps + 1))
}

step cargo fmt --all -- --check
step cargo clippy --all-targets --locked -- -D warnings
step scripts/deny.sh
echo "(engine: dynoxide, in-process)"
# --show-output prints what passing tests print: the fault-and-load test's closing counts.
BOOKSTORE_TEST_ENGINE=dynoxide step cargo test --all-targets --locked -- --show-output
echo "(engine: moto_server at $moto_endpoint)"
BOOKSTORE_TEST_ENGINE=moto BOOKSTORE_TEST_DYNAMODB_ENDPOINT="$moto_endpoint" step cargo test --locked --test api
step scripts/check-openapi.sh
step scripts/lint-deploy.sh
step scripts/release-check.sh
step scripts/image-check.sh
BOOKSTORE_BIN=$(scripts/release-build.sh --path)
export BOOKSTORE_BIN
step scripts/check-docs-page.sh
step scripts/contract-test.sh

# Reached only if every step passed (set -e): cargo printed its own test counts above.
echo "bookstore suite: all $steps steps passed"
