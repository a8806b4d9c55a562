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

# The engine, its credentials, migrate, serve and the wait for readiness: scripts/lib/service.sh.
# shellcheck source=scripts/lib/service.sh
. scripts/lib/service.sh
service_init release-check
fail() { service_die "$@"; }

service_engine_start "$port"

grep -q 'scripts/release-build.sh' Dockerfile || fail "the Dockerfile no longer builds with scripts/release-build.sh"
bin=$(scripts/release-build.sh)

service_local_aws "$port"
export BOOKSTORE_TABLE="$table" BOOKSTORE_API_TOKENS=release-token BOOKSTORE_ADDR="127.0.0.1:$http_port"
export RUST_LOG=warn

# Two migrate processes at once, as two ECS tasks would start them.
service_run "$bin" migrate & a=$!
service_run "$bin" migrate & b=$!
wait "$a" || fail "first concurrent migrate failed"
wait "$b" || fail "second concurrent migrate failed"
service_run "$bin" seed

# The health check must fail while nothing listens, then pass once the server is up.
if "$bin" healthcheck 2>/dev/null; then fail "healthcheck passed with no server"; fi

# Milliseconds from spawn to the first 200 from /health/ready, then SIGTERM must exit 0.
python=python3 # the probe needs only the standard library
samples=()
for _ in 1 2 3 4 5; do
  samples+=("$("$python" scripts/startup_probe.py "$bin" "127.0.0.1:$http_port")") || fail "serve did not become ready or did not exit 0 on SIGTERM"
done
median=$(printf '%s\n' "${samples[@]}" | sort -n | sed -n 3p)

service_serve "$SERVICE_WORKDIR/serve.log" "$bin" serve
service_wait_ready "http://127.0.0.1:$http_port"
"$bin" healthcheck || fail "healthcheck failed against a running server"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/books/John%20Grisham/The%20Rainmaker")
[ "$status" = 200 ] || fail "GET The Rainmaker answered $status"
service_stop || fail "serve did not exit 0 on SIGTERM"

size=$(stat -c %s "$bin")
echo "release-check: OK: $bin ($(numfmt --to=iec-i --suffix=B "$size"), $size bytes; $(file -b "$bin" | cut -d, -f1-2))"
echo "release-check: start-up to ready (table migrated): median ${median} ms of 5: ${samples[*]}"
