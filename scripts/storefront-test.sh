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
# Installs chromium (apt-get) and the pinned npm packages on first use.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
app=examples/storefront

die() { echo "storefront-test: $*" >&2; exit 1; }

# ---- Inside scripts/with-service.sh: the service is up; seed, serve the app, run the browser. ----
if [ "${1:-}" = --inside ]; then
  "$BOOKSTORE_BIN" seed "$app/seed-books.json" >/dev/null || die "'bookstore seed $app/seed-books.json' failed"
  cat >"$STOREFRONT_DIST/config.json" <<EOF
{
  "apiBaseUrl": "$BOOKSTORE_URL",
  "issuer": "$STOREFRONT_ISSUER",
  "clientId": "storefront",
  "scope": "openid profile bookstore/write",
  "resource": "$BOOKSTORE_URL"
}
EOF
  (cd "$app" && exec node_modules/.bin/vite preview --outDir "$STOREFRONT_DIST" --host 127.0.0.1 \
    --port "$STOREFRONT_APP_PORT" --strictPort >"$STOREFRONT_WORK/app.log" 2>&1) &
  preview_pid=$!
  trap 'kill "$preview_pid" 2>/dev/null || true' EXIT
  deadline=$((SECONDS + 30))
  until curl -fsS -o /dev/null --max-time 2 "$STOREFRONT_APP_URL/config.json" 2>/dev/null; do
    kill -0 "$preview_pid" 2>/dev/null || { cat "$STOREFRONT_WORK/app.log" >&2; die "vite preview exited"; }
    [ "$SECONDS" -lt "$deadline" ] || die "vite preview did not answer within 30 s"
    sleep 0.2
  done
  node scripts/storefront-test.mjs
  exit $?
fi

# ---- Outside: check and build the app, start the issuer, then the service around --inside. ----
# shellcheck source=scripts/openapi/tools.sh
. scripts/openapi/tools.sh
ensure_chromium
command -v node >/dev/null || tools_die "node is required (Debian: apt-get install nodejs npm)"
ensure_node_tools
ensure_npm_ci "$root/$app"

bin=${BOOKSTORE_BIN:-target/debug/bookstore}
[ -x "$bin" ] || die "no bookstore binary at '$bin': build it first, or point BOOKSTORE_BIN at one"
BOOKSTORE_BIN=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
export BOOKSTORE_BIN

work=$(mktemp -d "${TMPDIR:-/tmp}/storefront-test.XXXXXX")
issuer_pid=
# shellcheck disable=SC2329  # called by the EXIT trap
cleanup() {
  local rc=$?
  [ -n "$issuer_pid" ] && kill "$issuer_pid" 2>/dev/null && wait "$issuer_pid" 2>/dev/null
  if [ "$rc" != 0 ] && [ -f "$work/issuer.log" ]; then
    echo "---- issuer log ----" >&2; tail -n 20 "$work/issuer.log" >&2
  fi
  rm -rf "$work/dist"
  exit "$rc"
}
trap cleanup EXIT

echo "== openapi-typescript openapi/openapi.json: is $app/src/openapi.d.ts up to date?"
"$app/node_modules/.bin/openapi-typescript" openapi/openapi.json -o "$work/openapi.d.ts" >/dev/null
if ! diff -u "$app/src/openapi.d.ts" "$work/openapi.d.ts"; then
  die "$app/src/openapi.d.ts is stale: run 'npm run gen' in $app and commit it"
fi
echo "PASS generated types are current"
echo "== tsc --noEmit and vite build ($app)"
(cd "$app" && node_modules/.bin/tsc --noEmit && node_modules/.bin/vite build --outDir "$work/dist" --emptyOutDir --logLevel warn) \
  || die "the storefront does not build"
echo "PASS the storefront builds"

engine_port=${STOREFRONT_TEST_ENGINE_PORT:-8031}
api_port=${STOREFRONT_TEST_API_PORT:-8093}
issuer_port=${STOREFRONT_TEST_ISSUER_PORT:-8094}
app_port=${STOREFRONT_TEST_APP_PORT:-8095}
api_url="http://127.0.0.1:$api_port"
app_url="http://127.0.0.1:$app_port"
issuer_url="http://127.0.0.1:$issuer_port"
password=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')

node "$app/issuer/issuer.mjs" --port "$issuer_port" --redirect-uri "$app_url/" --resource "$api_url" \
  --user reader --password "$password" >"$work/issuer.log" 2>&1 &
issuer_pid=$!
deadline=$((SECONDS + 20))
until curl -fsS -o /dev/null --max-time 2 "$issuer_url/.well-known/openid-configuration" 2>/dev/null; do
  kill -0 "$issuer_pid" 2>/dev/null || { cat "$work/issuer.log" >&2; issuer_pid=; die "the issuer exited"; }
  [ "$SECONDS" -lt "$deadline" ] || die "the issuer did not answer within 20 s"
  sleep 0.2
done

export BOOKSTORE_OIDC_ISSUER="$issuer_url" BOOKSTORE_OIDC_AUDIENCE="$api_url" BOOKSTORE_WRITE_SCOPE=bookstore/write
export BOOKSTORE_CORS_ORIGINS="$app_url"
export BOOKSTORE_CHECK_ENGINE_PORT="$engine_port" BOOKSTORE_CHECK_PORT="$api_port"
export STOREFRONT_WORK="$work" STOREFRONT_DIST="$work/dist" STOREFRONT_APP_PORT="$app_port"
export STOREFRONT_APP_URL="$app_url" STOREFRONT_ISSUER="$issuer_url"
export STOREFRONT_USER=reader STOREFRONT_PASSWORD="$password"
export STOREFRONT_SCREENSHOTS=${STOREFRONT_SCREENSHOTS:-$work/screenshots}
scripts/with-service.sh "$0" --inside
