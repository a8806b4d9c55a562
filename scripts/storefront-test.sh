#!/usr/bin/env bash
# The storefront (examples/storefront) end to end, in headless Chromium:
#
#  1. its generated API types (src/openapi.d.ts) are what openapi-typescript makes of the committed
#     openapi/openapi.json today, it type-checks, and `vite build` builds it;
#  2. the local OIDC issuer (examples/storefront/issuer), the service (${BOOKSTORE_BIN}, on dynoxide,
#     through scripts/with-service.sh, with the issuer's JWTs and CORS for the app's origin) and
#     `vite preview` of that build are started, the storefront's seed books loaded;
#  3. scripts/storefront-test.mjs browses, signs in through the issuer's form, edits, resolves a
#     412 made by a second client, deletes, and fails on any console or page error.
#
# Screenshots go to ${STOREFRONT_SCREENSHOTS:-a new folder under /tmp}, printed at the end.
# Ports (127.0.0.1): STOREFRONT_TEST_ENGINE_PORT (8031), STOREFRONT_TEST_API_PORT (8093),
# STOREFRONT_TEST_ISSUER_PORT (8094), STOREFRONT_TEST_APP_PORT (8095).
# Installs chromium (apt-get) and the pinned npm packages on first use. Needs ${BOOKSTORE_BIN}
# (default target/debug/bookstore); the test command runs it on the release binary.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
app=examples/storefront

die() { echo "storefront-test: $*" >&2; exit 1; }

# shellcheck source=scripts/lib/storefront.sh
. scripts/lib/storefront.sh
ensure_chromium
ensure_node_tools

bin=${BOOKSTORE_BIN:-target/debug/bookstore}
[ -x "$bin" ] || die "no bookstore binary at '$bin': build it first, or point BOOKSTORE_BIN at one"
BOOKSTORE_BIN=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
export BOOKSTORE_BIN

work=$(mktemp -d "${TMPDIR:-/tmp}/storefront-test.XXXXXX")
pids=()
# shellcheck disable=SC2329  # called by the EXIT trap
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ "$rc" != 0 ]; then
    for log in "$work"/*.log; do [ -f "$log" ] && { echo "---- $log ----" >&2; tail -n 20 "$log" >&2; }; done
  fi
  rm -rf "$work/dist"
  exit "$rc"
}
trap cleanup EXIT

echo "== tsc --noEmit and vite build ($app)"
storefront_build "$work/dist"
echo "PASS the storefront builds"
echo "== openapi-typescript openapi/openapi.json: is $app/src/openapi.d.ts up to date?"
"$app/node_modules/.bin/openapi-typescript" openapi/openapi.json -o "$work/openapi.d.ts" >/dev/null
if ! diff -u "$app/src/openapi.d.ts" "$work/openapi.d.ts"; then
  die "$app/src/openapi.d.ts is stale: run 'npm run gen' in $app and commit it"
fi
echo "PASS the generated types are current"

engine_port=${STOREFRONT_TEST_ENGINE_PORT:-8031}
api_port=${STOREFRONT_TEST_API_PORT:-8093}
issuer_port=${STOREFRONT_TEST_ISSUER_PORT:-8094}
app_port=${STOREFRONT_TEST_APP_PORT:-8095}
api_url="http://127.0.0.1:$api_port"
app_url="http://127.0.0.1:$app_port"
issuer_url="http://127.0.0.1:$issuer_port"
password=$(head -c 12 /dev/urandom | base64 | tr '/+' '_-')

storefront_config "$work/dist" "$api_url" "$issuer_url"
storefront_issuer "$issuer_port" "$app_url" "$api_url" reader "$password" "$work/issuer.log"
pids+=("$storefront_issuer_pid")
storefront_app "$work/dist" "$app_port" "$work/app.log"
pids+=("$storefront_app_pid")
storefront_wait "$issuer_url/.well-known/openid-configuration" "$storefront_issuer_pid" "the issuer" "$work/issuer.log"
storefront_wait "$app_url/config.json" "$storefront_app_pid" "vite preview" "$work/app.log"

# The service takes the issuer's JWTs beside with-service.sh's static token, and CORS for the app.
export BOOKSTORE_OIDC_ISSUER="$issuer_url" BOOKSTORE_OIDC_AUDIENCE="$api_url" BOOKSTORE_WRITE_SCOPE=bookstore/write
export BOOKSTORE_CORS_ORIGINS="$app_url"
export BOOKSTORE_CHECK_ENGINE_PORT="$engine_port" BOOKSTORE_CHECK_PORT="$api_port"
export STOREFRONT_APP_URL="$app_url" STOREFRONT_ISSUER="$issuer_url"
export STOREFRONT_USER=reader STOREFRONT_PASSWORD="$password"
export STOREFRONT_SCREENSHOTS=${STOREFRONT_SCREENSHOTS:-$work/screenshots}
# shellcheck disable=SC2016  # expanded by the inner shell, under with-service.sh's environment
scripts/with-service.sh bash -c '"$BOOKSTORE_BIN" seed "$1" >/dev/null && exec node scripts/storefront-test.mjs' \
  _ "$app/seed-books.json"
