#!/usr/bin/env bash
# Builds the binary exactly as the Dockerfile does (scripts/release-build.sh: release, the image's target)
# and runs it here against the DynamoDB engine: migrate (twice, concurrently), seed, serve,
# healthcheck, a request, SIGTERM. Prints the binary's size and its start-up time to ready.
#
#   scripts/release-check.sh            (starts and stops its own engine)
set -euo pipefail
cd "$(dirname "$0")/.."

port=${BOOKSTORE_RELEASE_ENGINE_PORT:-8031}
http_port=${BOOKSTORE_RELEASE_HTTP_PORT:-8097}
table="Books-release-$$"

scripts/dynamodb-engine.sh start "$port"
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  scripts/dynamodb-engine.sh stop "$port"
}
trap cleanup EXIT

grep -q 'scripts/release-build.sh' Dockerfile || { echo "release-check: the Dockerfile no longer builds with scripts/release-build.sh" >&2; exit 1; }
bin=$(scripts/release-build.sh)

export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port" AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
export BOOKSTORE_TABLE="$table" BOOKSTORE_API_TOKENS=release-token BOOKSTORE_ADDR="127.0.0.1:$http_port"
export RUST_LOG=warn

fail() { echo "release-check: $*" >&2; exit 1; }

# Two migrate processes at once, as two ECS tasks would start them.
"$bin" migrate & a=$!
"$bin" migrate & b=$!
wait "$a" || fail "first concurrent migrate failed"
wait "$b" || fail "second concurrent migrate failed"
"$bin" seed

# The health check must fail while nothing listens, then pass once the server is up.
if "$bin" healthcheck 2>/dev/null; then fail "healthcheck passed with no server"; fi

# Milliseconds from spawn to the first 200 from /health/ready, then SIGTERM must exit 0.
python=python3 # the probe needs only the standard library
samples=()
for _ in 1 2 3 4 5; do
  samples+=("$("$python" scripts/startup_probe.py "$bin" "127.0.0.1:$http_port")") || fail "serve did not become ready or did not exit 0 on SIGTERM"
done
median=$(printf '%s\n' "${samples[@]}" | sort -n | sed -n 3p)

"$bin" serve & server_pid=$!
for _ in $(seq 1 200); do "$bin" healthcheck 2>/dev/null && break; sleep 0.05; done
"$bin" healthcheck || fail "healthcheck failed against a running server"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/books/John%20Grisham/The%20Rainmaker")
[ "$status" = 200 ] || fail "GET The Rainmaker answered $status"
kill -TERM "$server_pid"
wait "$server_pid" || fail "serve did not exit 0 on SIGTERM"
server_pid=

size=$(stat -c %s "$bin")
echo "release-check: OK: $bin ($(numfmt --to=iec-i --suffix=B "$size"), $size bytes; $(file -b "$bin" | cut -d, -f1-2))"
echo "release-check: start-up to ready (table migrated): median ${median} ms of 5: ${samples[*]}"
