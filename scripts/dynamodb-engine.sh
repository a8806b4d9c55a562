#!/usr/bin/env bash
# Fetches and runs the local DynamoDB engine: moto_server from PyPI, in a venv under .tools/.
#
#   scripts/dynamodb-engine.sh start [PORT]   start it on 127.0.0.1:PORT (default 8000), wait until it answers
#   scripts/dynamodb-engine.sh stop [PORT]    stop the one this script started on PORT
#   scripts/dynamodb-engine.sh status [PORT]  exit 0 if something answers DynamoDB calls on PORT
#   scripts/dynamodb-engine.sh install        only install it (its venv also has boto3, for the tutorial test)
#
# Why moto and not DynamoDB Local: this workplace's package policy marks the Maven artifact
# software.amazon.dynamodb:DynamoDBLocal "not-to-use" (the vendor's licence is not open source).
# moto_server runs the whole tutorial flow (UpdateTable-added GSIs and transactions included).
# Any other engine, DynamoDB Local in Docker included, can be used by pointing
# BOOKSTORE_TEST_DYNAMODB_ENDPOINT (tests) or AWS_ENDPOINT_URL_DYNAMODB (the service) at it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
venv="$tools/venv"
cmd=${1:-}
port=${2:-8000}
pidfile="$tools/engine-$port.pid"
logfile="$tools/engine-$port.log"

die() { echo "dynamodb-engine: $*" >&2; exit 1; }

answers() {
  # A DynamoDB ListTables call; any engine that speaks the protocol answers 200.
  "$venv/bin/python" - "$port" <<'PY' >/dev/null 2>&1
import sys, urllib.request
req = urllib.request.Request(
    f"http://127.0.0.1:{sys.argv[1]}/", data=b"{}", method="POST",
    headers={"X-Amz-Target": "DynamoDB_20120810.ListTables",
             "Content-Type": "application/x-amz-json-1.0",
             "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"})
urllib.request.urlopen(req, timeout=2).read()
PY
}

install() {
  command -v python3 >/dev/null || die "python3 is required (Debian: apt-get install python3 python3-venv)"
  local stamp="$venv/.installed-$(sha256sum "$root/scripts/engine-requirements.txt" | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  mkdir -p "$tools"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" || die "cannot create a venv (Debian: apt-get install python3-venv)"
  fi
  echo "dynamodb-engine: installing moto[server] into $venv (once)" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/scripts/engine-requirements.txt" \
    || die "pip could not install moto[server] from PyPI; check network access to PyPI"
  touch "$stamp"
}

case "$cmd" in
  install)
    install
    ;;
  start)
    install
    if answers; then
      echo "dynamodb-engine: already answering on 127.0.0.1:$port" >&2
      exit 0
    fi
    nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
      if answers; then
        echo "dynamodb-engine: moto_server answering on 127.0.0.1:$port (log: $logfile)" >&2
        exit 0
      fi
      kill -0 "$(cat "$pidfile")" 2>/dev/null || break
      sleep 0.2
    done
    tail -n 20 "$logfile" >&2 || true
    die "moto_server did not start on 127.0.0.1:$port (see the log above)"
    ;;
  stop)
    if [ -f "$pidfile" ]; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
      rm -f "$pidfile"
    fi
    ;;
  status)
    [ -x "$venv/bin/python" ] || exit 1
    answers
    ;;
  *)
    die "usage: $0 install|start|stop|status [PORT]"
    ;;
esac
