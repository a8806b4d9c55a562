#!/usr/bin/env bash
# Runs the service locally on a fresh machine: starts dynoxide (the local DynamoDB engine) on
# 127.0.0.1:8000 with its data in .local/dynoxide.db, creates the table and index, loads the
# tutorial's five books on the first start, and serves on :8080. Ctrl-C stops both.
#
#   scripts/run-local.sh            keep the books from earlier runs
#   scripts/run-local.sh --reset    start from an empty database (deletes .local/dynoxide.db)
#
# Writes need `Authorization: Bearer dev-token` (override with BOOKSTORE_API_TOKENS).
# Needs only Rust: the engine and the service are both built with cargo, once.
set -euo pipefail
cd "$(dirname "$0")/.."

engine_port=${BOOKSTORE_LOCAL_ENGINE_PORT:-8000}
export BOOKSTORE_ENGINE=dynoxide
export BOOKSTORE_ENGINE_DB=${BOOKSTORE_ENGINE_DB:-$PWD/.local/dynoxide.db}

case "${1:-}" in
  --reset) rm -f "$BOOKSTORE_ENGINE_DB"; echo "run-local: starting from an empty database" >&2 ;;
  "") ;;
  *) echo "usage: $0 [--reset]" >&2; exit 2 ;;
esac

# The same build as the release check and the image (scripts/release-build.sh), so it is built once.
bin=$(scripts/release-build.sh)

# The engine, its credentials, migrate, serve and the wait for readiness: scripts/lib/service.sh.
# shellcheck source=scripts/lib/service.sh
. scripts/lib/service.sh
service_init run-local
SERVICE_VERBOSE=1 # migrate's and seed's output belongs on this terminal

first_start=1
[ -f "$BOOKSTORE_ENGINE_DB" ] && first_start=0
service_engine_start "$engine_port"
service_local_aws "$engine_port"
export BOOKSTORE_API_TOKENS=${BOOKSTORE_API_TOKENS:-dev-token}
export BOOKSTORE_ADDR=${BOOKSTORE_ADDR:-0.0.0.0:8080}

service_run "$bin" migrate
# Only a new database gets the sample books: later starts keep what the user changed or deleted.
# (`seed` itself never overwrites a book that exists.)
if [ "$first_start" = 1 ]; then
  service_run "$bin" seed
fi

# The server logs to this terminal. Ctrl-C reaches it directly (it drains and exits) and runs the
# EXIT trap, which waits for that drain and then stops the engine.
service_serve - "$bin" serve
service_wait_ready "http://127.0.0.1:${BOOKSTORE_ADDR##*:}"
echo "run-local: ready at http://127.0.0.1:${BOOKSTORE_ADDR##*:}; Ctrl-C stops the service and the engine" >&2
wait "$SERVICE_PID"
