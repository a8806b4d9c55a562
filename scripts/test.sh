#!/usr/bin/env bash
# The whole test suite, from a fresh machine. CI runs exactly this.
#
#  1. cargo fmt --check, cargo-deny (licences, duplicate crates, sources: scripts/deny.sh, rules in
#     deny.toml), then the test build with Clippy's lints denied (-D warnings) on every target it
#     compiles: lib, bin, tests and examples, in test and normal mode, as `cargo clippy --all-targets`
#  2. every unit and integration test against dynoxide (the default engine, which the tests start
#     in-process: `cargo test` alone runs them), including the tests that need conditional writes
#     to one item to be serialised (tests/serialised_writes) and the fault-and-load test
#     (tests/nothing_lost: its own engine process, paused twice and killed once); here nothing may
#     skip (BOOKSTORE_TEST_REQUIRE_ALL)
#  3. the integration suite (tests/api) again against moto_server, the second engine
#  4. the OpenAPI document: valid 3.1, and a typed TypeScript client compiles against it
#  5. the deployment artefacts: cfn-lint, checkov, hadolint, IAM least privilege, compose config
#  6. the service live, in the test build: the /docs page in headless Chromium, a schemathesis
#     contract test, and the storefront (examples/storefront) in headless Chromium against it and
#     the local OIDC issuer: browse, sign in, edit, a 412 resolved, delete
#  7. the release binary the image ships: migrate, serve, healthcheck, SIGTERM, start-up time
#     then the image: built from that binary, run, and run by docker compose (scripts/image-check.sh)
#
# Each step fails loudly, saying what is missing; nothing is skipped. moto is started here
# (scripts/dynamodb-engine.sh) unless BOOKSTORE_TEST_MOTO_ENDPOINT points at one already.
#
# Where the time goes (the closing lines print each step's wall time): the three compilations,
# the test build, the Clippy pass and the fat-LTO release build, are most of the CPU a fresh run
# has. So:
#  - Clippy lints during the test build instead of in a `cargo clippy` of its own. clippy-driver
#    is rustc with Clippy's lint passes (the way Rust for Linux's CLIPPY=1 builds lint), and cargo
#    runs it for this workspace's crates only (RUSTC_WORKSPACE_WRAPPER, what `cargo clippy` sets),
#    so the dependencies are compiled once rather than also checked: measured from nothing,
#    `cargo clippy --all-targets` took 280 CPU-seconds on top of the test build's 298. Clippy
#    turns MIR optimisation off, which is why the release build (scripts/release-build.sh) is
#    compiled by rustc alone. A later plain `cargo test` recompiles this crate, not its
#    dependencies: the wrapper is part of its fingerprint.
#  - The release build starts first, and the test build is niced under it: the release build's
#    last three minutes (this crate, then the fat-LTO link) use one core, so its dependencies must
#    be done early for that tail to overlap the test build's end and the tests. The installs (network-bound) run beside the compilers; the OpenAPI and deployment
#    checks beside the tests; the live checks use the test build, while the release link runs.
#  - The tests run 8 at a time (.cargo/config.toml): most of their time is spent waiting out
#    deadlines, not computing.
#  - A rerun after a one-line change cannot be shorter than the fat-LTO rebuild of the release
#    binary (179 s on a quiet machine) plus the image check: BENCHMARKS.md measured the profile
#    without LTO (a 54 s rebuild) at 1.17x the CPU per GET, and kept fat LTO.
# Each background step's output is printed when it is joined, whole, in the order of the steps.
set -euo pipefail
cd "$(dirname "$0")/.."

moto_port=${BOOKSTORE_TEST_MOTO_PORT:-8012}
logs=.tools/test-logs
rm -rf "$logs"
mkdir -p "$logs"
# Under this script a test that cannot find what it needs fails rather than skips.
export BOOKSTORE_TEST_REQUIRE_ALL=1

steps=0
timings=()
started=()
background=()
# shellcheck disable=SC2329  # called by the EXIT trap
cleanup() {
  for pid in "${background[@]}"; do kill "$pid" 2>/dev/null || true; done
  for port in "${started[@]}"; do BOOKSTORE_ENGINE=moto scripts/dynamodb-engine.sh stop "$port" || true; done
}
trap cleanup EXIT

step() { # step CMD...: run it in the foreground
  local began=$SECONDS
  echo "==> $*"
  "$@"
  steps=$((steps + 1))
  timings+=("$((SECONDS - began)) s  $*")
}

declare -A began_at pid_of
spawn() { # spawn NAME CMD...: start it in the background, its output in $logs/NAME.log
  local name=$1
  shift
  began_at[$name]=$SECONDS
  "$@" >"$logs/$name.log" 2>&1 &
  pid_of[$name]=$!
  background+=("$!")
}
join() { # join NAME: wait for it, print its output; a failure stops the suite
  local name=$1 status=0
  wait "${pid_of[$name]}" || status=$?
  echo "==> $name (ran in the background)"
  cat "$logs/$name.log"
  [ "$status" = 0 ] || { echo "bookstore suite: $name failed (exit $status)" >&2; exit "$status"; }
  steps=$((steps + 1))
  timings+=("$((SECONDS - ${began_at[$name]})) s  $name (background, from its start to its join)")
}

spawn release-build scripts/release-build.sh
spawn install-tools scripts/install-tools.sh

spawn deny scripts/deny.sh
step cargo fmt --all -- --check
# From here on every cargo command of the test build (the test runs, and scripts/dynamodb-engine.sh
# building the engine example) compiles this crate through clippy-driver, so nothing is rebuilt.
# CLIPPY_ARGS is how cargo-clippy hands `-- -D warnings` to the driver.
RUSTC_WORKSPACE_WRAPPER=$(command -v clippy-driver) ||
  { echo "bookstore suite: clippy-driver not found (rustup component add clippy)" >&2; exit 1; }
export RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS=-Dwarnings
# Plain `cargo test`, not --all-targets: that builds examples as test harnesses, and the fault
# test runs examples/dynamodb_engine as the engine binary it pauses and kills. It still builds
# every target `cargo clippy --all-targets` checks (there are no benches). Niced: the release
# build is the longer chain (its last 180 s use one core), so it gets the CPU first; the tests
# themselves run at normal priority.
step nice -n 5 cargo test --locked --no-run
join deny

join install-tools
# The tutorial-compatibility test runs the tutorial's boto3 calls with moto's Python, which has boto3.
export BOOKSTORE_TEST_PYTHON=${BOOKSTORE_TEST_PYTHON:-$PWD/.tools/venv-engine/bin/python}
moto_endpoint=${BOOKSTORE_TEST_MOTO_ENDPOINT:-}
if [ -z "$moto_endpoint" ]; then
  BOOKSTORE_ENGINE=moto scripts/dynamodb-engine.sh start "$moto_port"
  started+=("$moto_port")
  moto_endpoint="http://127.0.0.1:$moto_port"
fi
spawn check-openapi scripts/check-openapi.sh
spawn lint-deploy scripts/lint-deploy.sh

echo "(engine: dynoxide, in-process)"
# --show-output prints what passing tests print: the fault-and-load test's closing counts.
BOOKSTORE_TEST_ENGINE=dynoxide step cargo test --locked -- --show-output
echo "(engine: moto_server at $moto_endpoint)"
BOOKSTORE_TEST_ENGINE=moto BOOKSTORE_TEST_DYNAMODB_ENDPOINT="$moto_endpoint" step cargo test --locked --test api
join check-openapi
join lint-deploy

# The live checks test the HTTP behaviour, which the test build has too (with overflow checks and
# debug assertions on): they run while the release build is still linking.
BOOKSTORE_BIN="${CARGO_TARGET_DIR:-target}/debug/bookstore"
export BOOKSTORE_BIN
step scripts/check-docs-page.sh
step scripts/contract-test.sh
step scripts/storefront-test.sh

join release-build
step scripts/release-check.sh
step scripts/image-check.sh

# Reached only if every step passed (set -e): cargo printed its own test counts above.
echo "bookstore suite: where the time went (wall seconds a step, $SECONDS s in all):"
printf '  %s\n' "${timings[@]}"
echo "bookstore suite: all $steps steps passed"
