#!/usr/bin/env bash
# Opens the service's documentation page (/docs/, Swagger UI) in headless Chromium and checks it:
# every operation listed, nothing loaded from outside localhost, "Try it out" on GET /books/... works.
# Runs scripts/docs-page-test.mjs under scripts/with-service.sh (so it needs a built binary:
# ${BOOKSTORE_BIN:-target/debug/bookstore}). Screenshot: ${DOCS_PAGE_SCREENSHOT:-/tmp/docs-page.png}.
# Installs Debian's chromium (apt-get) and the pinned playwright-core (npm ci) on first use.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/openapi/tools.sh
. scripts/openapi/tools.sh

ensure_chromium
command -v node >/dev/null || tools_die "node is required (Debian: apt-get install nodejs npm)"
ensure_node_tools

exec scripts/with-service.sh node scripts/docs-page-test.mjs
