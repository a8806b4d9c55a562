# shellcheck shell=bash
# The storefront's moving parts (examples/storefront), shared by scripts/run-local.sh --storefront
# and scripts/storefront-test.sh:
#
#   storefront_build DIST                         npm ci (once per lock file), tsc, vite build into DIST
#   storefront_config DIST API_URL ISSUER_URL     DIST/config.json: where the app finds the API and issuer
#   storefront_issuer PORT APP_URL API_URL USER PASSWORD LOG
#                                                 starts the local OIDC issuer; sets storefront_issuer_pid
#   storefront_app DIST PORT LOG                  `vite preview` of DIST; sets storefront_app_pid
#   storefront_wait URL PID NAME LOG              waits (30 s at most) until URL answers, or dies if PID exits
#
# Everything listens on 127.0.0.1: the service accepts an http issuer on loopback only.
# Expects $root (the repository root).

: "${root:?set root to the repository root before sourcing scripts/lib/storefront.sh}"
# shellcheck source=scripts/openapi/tools.sh
. "$root/scripts/openapi/tools.sh"
storefront_dir="$root/examples/storefront"

storefront_build() {
  command -v node >/dev/null || tools_die "node is required for the storefront (Debian: apt-get install nodejs npm)"
  ensure_npm_ci "$storefront_dir"
  (cd "$storefront_dir" && node_modules/.bin/tsc --noEmit \
    && node_modules/.bin/vite build --outDir "$1" --emptyOutDir --logLevel warn) \
    || tools_die "the storefront (examples/storefront) does not build"
}

storefront_config() {
  cat >"$1/config.json" <<EOF
{
  "apiBaseUrl": "$2",
  "issuer": "$3",
  "clientId": "storefront",
  "scope": "openid profile bookstore/write",
  "resource": "$2"
}
EOF
}

storefront_issuer() {
  # --name=VALUE: a generated password may begin with "-", which parseArgs would take for an option.
  node "$storefront_dir/issuer/issuer.mjs" --port "$1" --redirect-uri "$2/" --resource "$3" \
    --user="$4" --password="$5" >"$6" 2>&1 &
  # shellcheck disable=SC2034  # read by the script that sourced this file
  storefront_issuer_pid=$!
}

storefront_app() {
  (cd "$storefront_dir" && exec node_modules/.bin/vite preview --outDir "$1" --host 127.0.0.1 --port "$2" --strictPort) \
    >"$3" 2>&1 &
  # shellcheck disable=SC2034  # read by the script that sourced this file
  storefront_app_pid=$!
}

storefront_wait() {
  local deadline=$((SECONDS + 30))
  until curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; do
    if ! kill -0 "$2" 2>/dev/null; then
      cat "$4" >&2
      tools_die "$3 exited before answering at $1 (log above)"
    fi
    [ "$SECONDS" -lt "$deadline" ] || tools_die "$3 did not answer at $1 within 30 s (log: $4)"
    sleep 0.2
  done
}
