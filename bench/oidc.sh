#!/usr/bin/env bash
# What a write with an OIDC access token costs against one with a static token, and whether reads
# pay anything for OIDC being configured: bench/compare.sh over three variants, interleaved. BEFORE is
# a build from before OIDC existed (static tokens); AFTER is today's, once with static tokens only and
# once with OIDC configured against a real issuer (oidc-provider, examples/storefront/issuer), its
# writes sending a JWT access token from the issuer's client-credentials grant.
#
#   bench/oidc.sh BEFORE_BINARY AFTER_BINARY
#
# Settings: bench/bench.py's BENCH_* variables (default ops here: get,patch); BENCH_ISSUER_PORT
# (default 8797). Needs node; installs the storefront's npm packages (oidc-provider) once.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 BEFORE_BINARY AFTER_BINARY" >&2; exit 2; }
before=$1 after=$2
port=${BENCH_ISSUER_PORT:-8797}
issuer=http://127.0.0.1:$port audience=http://bookstore.bench secret=bench-$RANDOM$RANDOM
# shellcheck source=scripts/openapi/tools.sh
. scripts/openapi/tools.sh
ensure_npm_ci examples/storefront

mkdir -p bench/out
taskset -c "${BENCH_ENGINE_CPU:-0}" node examples/storefront/issuer/issuer.mjs --port "$port" \
  --redirect-uri http://127.0.0.1:1/ --resource "$audience" \
  --machine-client bench --machine-secret "$secret" > bench/out/issuer.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
token=
for _ in $(seq 50); do
  token=$(curl -sf -u "bench:$secret" -d grant_type=client_credentials -d "resource=$audience" \
    -d scope=bookstore/write "$issuer/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' 2>/dev/null) \
    && break
  sleep 0.2
done
[ -n "$token" ] || { echo "oidc: no token from the issuer; see bench/out/issuer.log" >&2; exit 1; }

oidc="BOOKSTORE_OIDC_ISSUER=$issuer,BOOKSTORE_OIDC_AUDIENCE=$audience"
BENCH_OPS=${BENCH_OPS:-get,patch} BENCH_BIN=$after bench/compare.sh "before=$before" \
  "static=$after" "static-oidc-on=$after,$oidc" "jwt=$after,$oidc,BENCH_TOKEN=$token"
