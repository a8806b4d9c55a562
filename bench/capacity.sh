#!/usr/bin/env bash
# DynamoDB read and write units per route, measured on dynoxide (which bills by DynamoDB's rules)
# with the benchmark's data set: bench/capacity.py. Prints a Markdown table (the README's capacity note).
#
#   bench/capacity.sh
set -euo pipefail
cd "$(dirname "$0")/.."

port=${BENCH_CAPACITY_PORT:-8792}
out=$(mktemp -d)
bin=$(scripts/release-build.sh)
export BOOKSTORE_ENGINE=dynoxide BOOKSTORE_ENGINE_DB=''
BOOKSTORE_ENGINE=moto scripts/dynamodb-engine.sh install # boto3 lives in the engine venv
scripts/dynamodb-engine.sh start "$port" >&2
trap 'scripts/dynamodb-engine.sh stop "$port" >&2; rm -rf "$out"' EXIT
python3 bench/gen_data.py "$out" http://127.0.0.1 500 20 20 >&2
.tools/venv-engine/bin/python bench/capacity.py "$bin" "$port" "$out"
