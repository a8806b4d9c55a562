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
# BOOKSTORE_CHECK_KEEP_LOG=1 keeps the server's log afterwards; BOOKSTORE_CHECK_SHOW_LOG=1 prints its
# end when CMD fails. The engine, credentials, migrate, serve and wait are scripts/lib/service.sh's.
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

# shellcheck source=scripts/lib/service.sh
. "$root/scripts/lib/service.sh"
service_port_in_use "$port" && die "port 127.0.0.1:$port is already in use; set BOOKSTORE_CHECK_PORT to a free one"
service_init with-service
SERVICE_KEEP_WORKDIR=${BOOKSTORE_CHECK_KEEP_LOG:-0}
server_log="$SERVICE_WORKDIR/server.log"

service_engine_start "$engine_port"
service_local_aws "$engine_port"
export BOOKSTORE_TABLE="$table"
export BOOKSTORE_ADDR="127.0.0.1:$port"
export BOOKSTORE_API_TOKENS="$token"
unset BOOKSTORE_AUTH
export RUST_LOG=${RUST_LOG:-info}

echo "with-service: migrating and seeding table $table" >&2
service_run "$bin" migrate
service_run "$bin" seed

url="http://127.0.0.1:$port"
service_serve "$server_log" "$bin" serve
service_wait_ready "$url"
echo "with-service: bookstore ready at $url (table $table)" >&2

export BOOKSTORE_URL="$url" BOOKSTORE_TOKEN="$token" BOOKSTORE_SERVER_LOG="$server_log"
set +e
"$@"
status=$?
set -e
if [ "$status" -ne 0 ] && [ "${BOOKSTORE_CHECK_SHOW_LOG:-0}" = 1 ]; then service_show_log; fi
exit "$status"
