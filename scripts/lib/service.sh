# shellcheck shell=bash
# Sourced by every script that runs the bookstore against the local DynamoDB engine (with-service.sh,
# run-local.sh, release-check.sh, image-check.sh, bench/quota.sh), so that starting the engine, the
# local credentials, migrating, serving and waiting for readiness are written once.
#
#   service_init NAME                 NAME prefixes messages; makes SERVICE_WORKDIR (logs) and sets the
#                                     traps: on exit (or Ctrl-C, SIGTERM) service_cleanup runs. A script
#                                     with more to clean up sets its own EXIT trap calling service_cleanup.
#   service_engine_start PORT         the engine (scripts/dynamodb-engine.sh; BOOKSTORE_ENGINE and
#                                     BOOKSTORE_ENGINE_DB choose which and where) on 127.0.0.1:PORT,
#                                     unless one already answers there: that one is used and left alone
#   service_engine_stop               stops the engine now, if service_engine_start started it
#   service_local_aws PORT            exports the AWS SDK settings for that engine: its endpoint, a region
#                                     and dummy credentials (a local engine accepts any; real ones never
#                                     leave the machine), and unsets anything that could pick others
#   service_local_aws_vars PORT       the same settings as NAME=VALUE lines (for `docker run -e`)
#   service_run BIN COMMAND [ARGS]    runs `BIN COMMAND ARGS` (migrate, seed) with its output in a log,
#                                     shown if it fails (or always, with SERVICE_VERBOSE=1)
#   service_serve LOG CMD [ARGS]      starts CMD (`BIN serve`, or a wrapper that execs it) in the
#                                     background, output to LOG (`-`: this terminal); SERVICE_PID is its pid.
#                                     Refuses when BOOKSTORE_ADDR's port is already taken
#   service_port_in_use PORT          whether something accepts connections on 127.0.0.1:PORT
#   service_wait_ready URL [SECONDS]  waits (default 30 s) for URL/health/ready to answer 200; fails, with
#                                     the server's log, if the server exits first or the time runs out
#   service_stop [SECONDS]            SIGTERM to the server, waits for its drain (default 25 s: the drain
#                                     is 20 s), SIGKILL after; returns the server's exit status
#   service_cleanup                   stops the server and the engine this started; removes
#                                     SERVICE_WORKDIR unless SERVICE_KEEP_WORKDIR=1

SERVICE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SERVICE_NAME=${SERVICE_NAME:-service}
SERVICE_WORKDIR=
SERVICE_PID=
SERVICE_LOG=
SERVICE_ENGINE_PORT=

service_die() { echo "$SERVICE_NAME: $*" >&2; exit 1; }

service_init() {
  SERVICE_NAME=$1
  SERVICE_WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/bookstore-$SERVICE_NAME.XXXXXX")
  trap service_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

service_engine_start() {
  local port=$1
  if "$SERVICE_ROOT/scripts/dynamodb-engine.sh" status "$port" 2>/dev/null; then
    echo "$SERVICE_NAME: using the DynamoDB engine already answering on 127.0.0.1:$port" >&2
    return 0
  fi
  "$SERVICE_ROOT/scripts/dynamodb-engine.sh" start "$port"
  SERVICE_ENGINE_PORT=$port
}

service_engine_stop() {
  [ -n "$SERVICE_ENGINE_PORT" ] || return 0
  local port=$SERVICE_ENGINE_PORT
  SERVICE_ENGINE_PORT=
  "$SERVICE_ROOT/scripts/dynamodb-engine.sh" stop "$port"
}

service_local_aws_vars() {
  printf '%s\n' \
    "AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$1" \
    "AWS_REGION=${AWS_REGION:-us-east-1}" \
    AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
    AWS_EC2_METADATA_DISABLED=true
}

service_local_aws() {
  local var
  while IFS= read -r var; do export "${var?}"; done < <(service_local_aws_vars "$1")
  unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
}

service_run() {
  local bin=$1 log
  shift
  log=$(mktemp "$SERVICE_WORKDIR/$1.XXXXXX")
  if ! "$bin" "$@" >"$log" 2>&1; then
    cat "$log" >&2
    service_die "'bookstore $*' failed (its output is above)"
  fi
  if [ "${SERVICE_VERBOSE:-0}" = 1 ]; then cat "$log" >&2; fi
}

# bash's /dev/tcp: succeeds if something accepts connections on 127.0.0.1:PORT.
service_port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

service_serve() {
  SERVICE_LOG=$1
  shift
  # The server could not bind a port another process holds, and that process would answer the
  # readiness wait in its place: refuse before starting (every caller exports BOOKSTORE_ADDR).
  if [ -n "${BOOKSTORE_ADDR:-}" ] && service_port_in_use "${BOOKSTORE_ADDR##*:}"; then
    service_die "port 127.0.0.1:${BOOKSTORE_ADDR##*:} is already in use; stop what holds it or choose another port"
  fi
  if [ "$SERVICE_LOG" = - ]; then
    "$@" &
  else
    "$@" >"$SERVICE_LOG" 2>&1 &
  fi
  SERVICE_PID=$!
}

service_show_log() {
  [ -f "$SERVICE_LOG" ] || return 0
  echo "---- server log ($SERVICE_LOG, last 50 lines) ----" >&2
  tail -n 50 "$SERVICE_LOG" >&2
}

service_wait_ready() {
  local url=$1 deadline=$((SECONDS + ${2:-30}))
  until curl -fsS -o /dev/null --max-time 2 "$url/health/ready" 2>/dev/null; do
    if [ -n "$SERVICE_PID" ] && ! kill -0 "$SERVICE_PID" 2>/dev/null; then
      service_show_log
      service_die "the server exited before $url/health/ready answered 200"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      service_show_log
      service_die "$url/health/ready did not answer 200 within ${2:-30} s"
    fi
    sleep 0.2
  done
}

service_stop() {
  [ -n "$SERVICE_PID" ] || return 0
  local pid=$SERVICE_PID status=0 tenths
  SERVICE_PID=
  kill -TERM "$pid" 2>/dev/null || true
  for ((tenths = 0; tenths < ${1:-25} * 10; tenths++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || status=$?
  return "$status"
}

service_cleanup() {
  service_stop || true
  service_engine_stop || true
  if [ -n "$SERVICE_WORKDIR" ]; then
    if [ "${SERVICE_KEEP_WORKDIR:-0}" = 1 ]; then
      echo "$SERVICE_NAME: logs kept in $SERVICE_WORKDIR" >&2
    else
      rm -rf "$SERVICE_WORKDIR"
    fi
  fi
}
