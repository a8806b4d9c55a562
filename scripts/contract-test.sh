#!/usr/bin/env bash
# Contract test: schemathesis generates requests from the service's own /openapi.json and checks
# every response against it (status codes, content types, headers, bodies, no 5xx, auth enforced,
# 405 with Allow, invalid input rejected, ...). Runs the live service under scripts/with-service.sh,
# so it needs a built binary: ${BOOKSTORE_BIN:-target/debug/bookstore}.
#
#   scripts/contract-test.sh [EXTRA SCHEMATHESIS ARGS...]
#
# Settings that are not flags (expected statuses per check) are in scripts/openapi/schemathesis.toml.
# CONTRACT_WORKERS defaults to 1: with more, Python 3.11 threads can trip a CPython AST bug inside
# hypothesis ("AST constructor recursion depth mismatch"), reported as a schemathesis Runtime Error.
# CONTRACT_MAX_EXAMPLES (default 30) bounds the cases per operation; CONTRACT_SEED fixes the
# random seed (default: a fixed one, so runs are repeatable); reports (JUnit XML, NDJSON) go to
# CONTRACT_REPORT_DIR (default .tools/contract-report). CONTRACT_SCHEMA tests another document
# (a file or URL; default: the service's own /openapi.json), e.g. a draft fix of openapi/openapi.json.
# Exits non-zero on any failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/openapi/tools.sh
. scripts/openapi/tools.sh

if [ "${1:-}" != --inside ]; then
  ensure_py_tools
  exec scripts/with-service.sh "$0" --inside "$@"
fi
shift

: "${BOOKSTORE_URL:?run under scripts/with-service.sh}" "${BOOKSTORE_TOKEN:?run under scripts/with-service.sh}"
report_dir=${CONTRACT_REPORT_DIR:-$root/.tools/contract-report}
mkdir -p "$report_dir"

checks=(
  not_a_server_error
  status_code_conformance
  content_type_conformance
  response_headers_conformance
  response_schema_conformance
  negative_data_rejection
  positive_data_acceptance
  missing_required_header
  unsupported_method
  allow_header_conformance
  ignored_auth
  use_after_free
  ensure_resource_availability
)
# Not run: object_level_authorization (there is one kind of token; no per-user objects).

set +e
.tools/venv-openapi/bin/schemathesis --config-file scripts/openapi/schemathesis.toml run "${CONTRACT_SCHEMA:-$BOOKSTORE_URL/openapi.json}" \
  --url "$BOOKSTORE_URL" \
  --header "Authorization: Bearer $BOOKSTORE_TOKEN" \
  --checks "$(IFS=,; echo "${checks[*]}")" \
  --max-examples "${CONTRACT_MAX_EXAMPLES:-30}" \
  --seed "${CONTRACT_SEED:-20261124}" \
  --workers "${CONTRACT_WORKERS:-1}" \
  --max-redirects 0 \
  --request-timeout 10 \
  --generation-database none \
  --report junit,ndjson --report-dir "$report_dir" \
  --no-color \
  "$@"
status=$?
set -e

if [ -n "${BOOKSTORE_SERVER_LOG:-}" ] && grep -q '"level":"ERROR"' "$BOOKSTORE_SERVER_LOG" 2>/dev/null; then
  echo "---- ERROR lines in the server log ----"
  grep '"level":"ERROR"' "$BOOKSTORE_SERVER_LOG" | head -n 40
fi
echo "contract-test: reports in $report_dir"
exit "$status"
