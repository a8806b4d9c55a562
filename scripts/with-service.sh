#!/usr/bin/env bash
# Runs a command against a live bookstore service on a throwaway table:
#
#   scripts/with-service.sh CMD [ARGS...]
#
# Starts the local DynamoDB engine (scripts/dynamodb-engine.sh) on BOOKSTORE_CHECK_ENGINE_PORT
# (default 8021), runs `migrate` and `seed` on a fresh table `Books-check-<pid>`, serves on
# 127.0.0.1:BOOKSTORE_CHECK_PORT (default 8091) with the write token `check-token`, waits for
# GET /health/ready, then runs CMD with
#
#   BOOKSTORE_URL=http://127.0.0.1:<port>   BOOKSTORE_TOKEN=check-token
#   BOOKSTORE_SERVER_LOG=<the server's JSON log file, removed afterwards>
#
# exported. Afterwards it stops the server and the engine (if it started the engine) and exits
# with CMD's status. It builds nothing: it runs ${BOOKSTORE_BIN:-target/debug/bookstore}.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

die() { echo "with-service: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: $0 CMD [ARGS...]"

bin=${BOOKSTORE_BIN:-target/debug/bookstore}
[ -x "$bin" ] || die "no bookstore binary at '$bin': build it first (cargo build), or point BOOKSTORE_BIN at one"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

engine_port=${BOOKSTORE_CHECK_ENGINE_PORT:-8021}
port=${BOOKSTORE_CHECK_PORT:-8091}
table="Books-check-$$"
token=check-token

port_in_use() {
  # bash's /dev/tcp: succeeds if something accepts connections on 127.0.0.1:$1.
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

port_in_use "$port" && die "port 127.0.0.1:$port is already in use; set BOOKSTORE_CHECK_PORT to a free one"

workdir=$(mktemp -d "${TMPDIR:-/tmp}/bookstore-check.XXXXXX")
server_log="$workdir/server.log"
server_pid=
started_engine=0

# shellcheck disable=SC2329  # called by the EXIT trap
cleanup() {
  local rc=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$started_engine" = 1 ]; then
    scripts/dynamodb-engine.sh stop "$engine_port" || true
  fi
  if [ "${BOOKSTORE_CHECK_KEEP_LOG:-0}" = 1 ]; then
    echo "with-service: server log kept at $server_log" >&2
  else
    rm -rf "$workdir"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if scripts/dynamodb-engine.sh status "$engine_port" 2>/dev/null; then
  echo "with-service: using the DynamoDB engine already answering on 127.0.0.1:$engine_port" >&2
else
  started_engine=1
  scripts/dynamodb-engine.sh start "$engine_port"
fi

export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$engine_port"
export AWS_REGION=${AWS_REGION:-us-east-1}
# The local engine accepts any credentials; these never go anywhere else.
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
export BOOKSTORE_TABLE="$table"
export BOOKSTORE_ADDR="127.0.0.1:$port"
export BOOKSTORE_API_TOKENS="$token"
unset BOOKSTORE_AUTH
export RUST_LOG=${RUST_LOG:-info}

echo "with-service: migrating and seeding table $table" >&2
"$bin" migrate >"$workdir/migrate.log" 2>&1 || { cat "$workdir/migrate.log" >&2; die "'bookstore migrate' failed (log above)"; }
"$bin" seed >"$workdir/seed.log" 2>&1 || { cat "$workdir/seed.log" >&2; die "'bookstore seed' failed (log above)"; }

"$bin" serve >"$server_log" 2>&1 &
server_pid=$!

url="http://127.0.0.1:$port"
deadline=$((SECONDS + 30))
until curl -fsS -o /dev/null --max-time 2 "$url/health/ready" 2>/dev/null; do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "---- server log ($server_log) ----" >&2
    cat "$server_log" >&2
    die "'bookstore serve' exited before it was ready (log above)"
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "---- server log ($server_log) ----" >&2
    tail -n 50 "$server_log" >&2
    die "$url/health/ready did not answer 200 within 30 s (log above)"
  fi
  sleep 0.2
done
echo "with-service: bookstore ready at $url (table $table)" >&2

export BOOKSTORE_URL="$url" BOOKSTORE_TOKEN="$token" BOOKSTORE_SERVER_LOG="$server_log"
set +e
"$@"
status=$?
set -e
if [ "$status" -ne 0 ] && [ "${BOOKSTORE_CHECK_SHOW_LOG:-0}" = 1 ]; then
  echo "---- server log (last 50 lines) ----" >&2
  tail -n 50 "$server_log" >&2
fi
exit "$status"
