#!/usr/bin/env bash
# Checks the committed OpenAPI document the way its users consume it:
#   1. openapi-spec-validator: openapi/openapi.json is a valid OpenAPI 3.1 document;
#   2. openapi-typescript generates TypeScript types from it (scripts/openapi/generated/, gitignored),
#      and scripts/openapi/client.ts, a frontend's typed client over those types, passes
#      `tsc --strict --noEmit`.
# Tools are pinned in scripts/openapi/requirements.txt and scripts/openapi/package-lock.json and
# installed on first use (.tools/venv-openapi, scripts/openapi/node_modules). Needs no service.
#
#   scripts/check-openapi.sh [DOCUMENT]   (default openapi/openapi.json)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/openapi/tools.sh
. scripts/openapi/tools.sh

doc=${1:-openapi/openapi.json}
[ -f "$doc" ] || tools_die "no OpenAPI document at $doc"
dir=scripts/openapi
failed=0

ensure_py_tools
ensure_node_tools

echo "== openapi-spec-validator $doc"
if .tools/venv-openapi/bin/openapi-spec-validator --schema 3.1 --validation-errors all "$doc"; then
  echo "PASS openapi-spec-validator"
else
  echo "FAIL openapi-spec-validator"
  failed=1
fi

echo "== openapi-typescript $doc -> $dir/generated/bookstore.ts"
rm -rf "$dir/generated"
mkdir -p "$dir/generated"
if "$dir/node_modules/.bin/openapi-typescript" "$doc" -o "$dir/generated/bookstore.ts"; then
  echo "PASS openapi-typescript"
  echo "== tsc --strict --noEmit ($dir/client.ts)"
  if "$dir/node_modules/.bin/tsc" -p "$dir/tsconfig.json" --strict --noEmit; then
    echo "PASS tsc"
  else
    echo "FAIL tsc: $dir/client.ts does not type-check against the generated types"
    failed=1
  fi
else
  echo "FAIL openapi-typescript"
  failed=1
fi

if [ "$failed" = 0 ]; then
  echo "check-openapi: all checks passed"
else
  echo "check-openapi: FAILED" >&2
fi
exit "$failed"
