#!/usr/bin/env bash
# Runs the service locally on a fresh machine: starts the DynamoDB engine on 127.0.0.1:8000,
# creates the table and index, loads the tutorial's five books, and serves on :8080.
# Writes need `Authorization: Bearer dev-token` (override with BOOKSTORE_API_TOKENS).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/dynamodb-engine.sh start 8000
export AWS_ENDPOINT_URL_DYNAMODB=${AWS_ENDPOINT_URL_DYNAMODB:-http://127.0.0.1:8000}
export AWS_REGION=${AWS_REGION:-us-east-1}
# The local engine accepts any credentials; real ones are never needed or sent anywhere else.
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-local} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-local}
export BOOKSTORE_API_TOKENS=${BOOKSTORE_API_TOKENS:-dev-token}
export BOOKSTORE_ADDR=${BOOKSTORE_ADDR:-0.0.0.0:8080}

cargo build --release --locked
bin=target/release/bookstore
"$bin" migrate
"$bin" seed
exec "$bin" serve
