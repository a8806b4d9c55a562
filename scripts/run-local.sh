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

first_start=1
[ -f "$BOOKSTORE_ENGINE_DB" ] && first_start=0
scripts/dynamodb-engine.sh start "$engine_port"
trap 'scripts/dynamodb-engine.sh stop "$engine_port"' EXIT

export AWS_ENDPOINT_URL_DYNAMODB=${AWS_ENDPOINT_URL_DYNAMODB:-http://127.0.0.1:$engine_port}
export AWS_REGION=${AWS_REGION:-us-east-1}
# The local engine accepts any credentials; real ones are never needed or sent anywhere else.
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-local} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-local}
export BOOKSTORE_API_TOKENS=${BOOKSTORE_API_TOKENS:-dev-token}
export BOOKSTORE_ADDR=${BOOKSTORE_ADDR:-0.0.0.0:8080}

"$bin" migrate
# Only a new database gets the sample books: later starts keep what the user changed or deleted.
# (`seed` itself never overwrites a book that exists.)
if [ "$first_start" = 1 ]; then
  "$bin" seed
fi
# Not exec: the trap above stops the engine once serve has drained and exited.
"$bin" serve
