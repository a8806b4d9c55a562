#!/usr/bin/env bash
# Runs the service locally on a fresh machine: starts dynoxide (the local DynamoDB engine) on
# 127.0.0.1:8000 with its data in .local/dynoxide.db, creates the table and index, loads the
# tutorial's five books on the first start, and serves on :8080. Ctrl-C stops both.
#
#   scripts/run-local.sh               keep the books from earlier runs
#   scripts/run-local.sh --reset       start from an empty database (deletes .local/dynoxide.db)
#   scripts/run-local.sh --storefront  also the storefront (examples/storefront) on :5173 and a local
#                                      OpenID Connect issuer on :9000 with one user, whose access
#                                      tokens the service accepts for writes (may follow --reset)
#
# Writes need `Authorization: Bearer dev-token` (override with BOOKSTORE_API_TOKENS).
# Needs only Rust: the engine and the service are both built with cargo, once. --storefront also
# needs Node.js (npm installs the app's pinned packages once); it prints where to open the app and
# the user's password (STOREFRONT_PASSWORD, default: a new one each run). Ports: STOREFRONT_APP_PORT,
# STOREFRONT_ISSUER_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."

engine_port=${BOOKSTORE_LOCAL_ENGINE_PORT:-8000}
export BOOKSTORE_ENGINE=dynoxide
export BOOKSTORE_ENGINE_DB=${BOOKSTORE_ENGINE_DB:-$PWD/.local/dynoxide.db}

storefront=0
for arg in "$@"; do
  case "$arg" in
    --reset) rm -f "$BOOKSTORE_ENGINE_DB"; echo "run-local: starting from an empty database" >&2 ;;
    --storefront) storefront=1 ;;
    *) echo "usage: $0 [--reset] [--storefront]" >&2; exit 2 ;;
  esac
done

# The same build as the release check and the image (scripts/release-build.sh), so it is built once.
bin=$(scripts/release-build.sh)

# The engine, its credentials, migrate, serve and the wait for readiness: scripts/lib/service.sh.
# shellcheck source=scripts/lib/service.sh
. scripts/lib/service.sh
service_init run-local
SERVICE_VERBOSE=1 # migrate's and seed's output belongs on this terminal

first_start=1
[ -f "$BOOKSTORE_ENGINE_DB" ] && first_start=0
background=() # the storefront's issuer and app, when --storefront
# shellcheck disable=SC2329  # called by the EXIT trap
stop_all() {
  for pid in "${background[@]}"; do kill "$pid" 2>/dev/null || true; done
  service_cleanup
}
trap stop_all EXIT
service_engine_start "$engine_port"
service_local_aws "$engine_port"
export BOOKSTORE_API_TOKENS=${BOOKSTORE_API_TOKENS:-dev-token}
export BOOKSTORE_ADDR=${BOOKSTORE_ADDR:-0.0.0.0:8080}

service_run "$bin" migrate
# Only a new database gets the sample books: later starts keep what the user changed or deleted.
# (`seed` itself never overwrites a book that exists.) The storefront's books add a category long
# enough to page through.
if [ "$first_start" = 1 ]; then
  if [ "$storefront" = 1 ]; then
    service_run "$bin" seed examples/storefront/seed-books.json
  else
    service_run "$bin" seed
  fi
fi
if [ "$storefront" = 1 ]; then
  root=$PWD
  # shellcheck source=scripts/lib/storefront.sh
  . scripts/lib/storefront.sh
  app_port=${STOREFRONT_APP_PORT:-5173}
  issuer_port=${STOREFRONT_ISSUER_PORT:-9000}
  api_url="http://127.0.0.1:${BOOKSTORE_ADDR##*:}"
  app_url="http://127.0.0.1:$app_port"
  issuer_url="http://127.0.0.1:$issuer_port"
  password=${STOREFRONT_PASSWORD:-$(head -c 9 /dev/urandom | base64 | tr '/+' '_-')}
  mkdir -p .local
  storefront_build "$PWD/.local/storefront"
  storefront_config "$PWD/.local/storefront" "$api_url" "$issuer_url"
  storefront_issuer "$issuer_port" "$app_url" "$api_url" reader "$password" .local/issuer.log
  background+=("$storefront_issuer_pid")
  storefront_wait "$issuer_url/.well-known/openid-configuration" "$storefront_issuer_pid" "the issuer" .local/issuer.log
  storefront_app "$PWD/.local/storefront" "$app_port" .local/storefront.log
  background+=("$storefront_app_pid")
  storefront_wait "$app_url/config.json" "$storefront_app_pid" "vite preview" .local/storefront.log
  # Writes also take the issuer's access tokens (aud = the API's URL, scope bookstore/write), and the
  # app's origin may call the API from the browser.
  export BOOKSTORE_OIDC_ISSUER="$issuer_url" BOOKSTORE_OIDC_AUDIENCE="$api_url" BOOKSTORE_WRITE_SCOPE=bookstore/write
  export BOOKSTORE_CORS_ORIGINS="$app_url"
  cat >&2 <<EOF

run-local: the storefront is at $app_url/  (use 127.0.0.1, not localhost: that is the origin CORS allows)
run-local: sign in as "reader" with the password "$password" (issuer $issuer_url)
run-local: the API is at $api_url (static write token: ${BOOKSTORE_API_TOKENS}); Ctrl-C stops everything

EOF
fi

# The server logs to this terminal. Ctrl-C reaches it directly (it drains and exits) and runs the
# EXIT trap, which waits for that drain and then stops the engine.
service_serve - "$bin" serve
service_wait_ready "http://127.0.0.1:${BOOKSTORE_ADDR##*:}"
echo "run-local: ready at http://127.0.0.1:${BOOKSTORE_ADDR##*:}; Ctrl-C stops everything run-local started" >&2
wait "$SERVICE_PID"
