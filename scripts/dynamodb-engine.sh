#!/usr/bin/env bash
# Installs and runs the local DynamoDB engine the tests, the local run and the benchmark use.
#
#   scripts/dynamodb-engine.sh start [PORT]   start it on 127.0.0.1:PORT (default 8000), wait until it answers
#   scripts/dynamodb-engine.sh stop [PORT]    stop the one this script started on PORT
#   scripts/dynamodb-engine.sh status [PORT]  exit 0 if something answers DynamoDB calls on PORT
#   scripts/dynamodb-engine.sh install        only install it
#   scripts/dynamodb-engine.sh path           print the engine's executable (installing it first)
#
#   BOOKSTORE_ENGINE=dynoxide (default)  dynoxide 3.2.0 (crates.io `dynoxide-rs`, Rust, SQLite-backed):
#                                        examples/dynamodb_engine.rs, built by cargo from the same
#                                        dev-dependency the tests run in-process (one dynoxide build)
#   BOOKSTORE_ENGINE=moto                moto_server (PyPI, scripts/engine-requirements.txt) in .tools/venv-engine
#   BOOKSTORE_ENGINE_DB=FILE             dynoxide keeps its tables in this SQLite file (default: in memory)
#
# Why these two and not DynamoDB Local: its licence is not open source. dynoxide is the default because
# it follows DynamoDB's validation and serialises conditional writes to one item; moto is the second
# opinion the integration suite also passes on, because the two deviate from DynamoDB in different places.
# Neither is ever part of the production image.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
engine=${BOOKSTORE_ENGINE:-dynoxide}
cmd=${1:-}
port=${2:-8000}
pidfile="$tools/engine-$port.pid"
logfile="$tools/engine-$port.log"

# The test profile's build: `cargo test` makes the same binary, so neither waits for the other.
dynoxide_bin="${CARGO_TARGET_DIR:-$root/target}/debug/examples/dynamodb_engine"
venv="$tools/venv-engine" # made by ensure_venv (scripts/lib/venv.sh)

die() { echo "dynamodb-engine: $*" >&2; exit 1; }
# shellcheck source=scripts/lib/venv.sh
. "$root/scripts/lib/venv.sh"

# The engine's executable, decided once: install, start and path all use it.
case "$engine" in
  dynoxide) engine_bin=$dynoxide_bin ;;
  moto) engine_bin="$venv/bin/moto_server" ;;
  *) die "BOOKSTORE_ENGINE must be dynoxide or moto, not '$engine'" ;;
esac

answers() {
  # A signed-looking ListTables call; any engine that speaks the protocol answers 200 (local engines
  # check that a signature is there, not that it is right).
  curl -fsS -o /dev/null --max-time 2 -X POST "http://127.0.0.1:$port/" \
    -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
    -H 'Content-Type: application/x-amz-json-1.0' \
    -H 'X-Amz-Date: 20260101T000000Z' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
    -d '{}' 2>/dev/null
}

install_dynoxide() {
  command -v cargo >/dev/null || die "cargo is required to build dynoxide (install Rust with rustup)"
  # Always asked, so an edited example or a new Cargo.lock is rebuilt; a no-op otherwise.
  (cd "$root" && cargo build --locked --quiet --example dynamodb_engine) \
    || die "cargo could not build examples/dynamodb_engine (dynoxide needs crates.io and a C compiler for SQLite)"
}

install_moto() {
  ensure_venv engine "$root/scripts/engine-requirements.txt"
}

install() {
  mkdir -p "$tools"
  "install_$engine"
}

start() {
  install
  command -v curl >/dev/null || die "curl is required (Debian: apt-get install curl)"
  if answers; then
    echo "dynamodb-engine: something already answers on 127.0.0.1:$port; using it" >&2
    return 0
  fi
  case "$engine" in
    dynoxide)
      local args=(--host 127.0.0.1 --port "$port")
      if [ -n "${BOOKSTORE_ENGINE_DB:-}" ]; then
        mkdir -p "$(dirname "$BOOKSTORE_ENGINE_DB")"
        args+=(--db-path "$BOOKSTORE_ENGINE_DB")
      fi
      nohup "$engine_bin" "${args[@]}" >"$logfile" 2>&1 &
      ;;
    moto)
      nohup "$engine_bin" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
      ;;
  esac
  echo $! >"$pidfile"
  for _ in $(seq 1 150); do
    if answers; then
      echo "dynamodb-engine: $engine answering on 127.0.0.1:$port${BOOKSTORE_ENGINE_DB:+ (data in $BOOKSTORE_ENGINE_DB)} (log: $logfile)" >&2
      return 0
    fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || break
    sleep 0.2
  done
  tail -n 20 "$logfile" >&2 || true
  die "$engine did not start on 127.0.0.1:$port (see the log above)"
}

stop() {
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  rm -f "$pidfile"
  kill "$pid" 2>/dev/null || return 0
  # Wait, so a persisted database is closed and the port is free when this returns.
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

case "$cmd" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) answers ;;
  path) install && echo "$engine_bin" ;;
  *) die "usage: $0 install|start|stop|status|path [PORT]" ;;
esac
