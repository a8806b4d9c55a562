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

export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  [ "$CHROMIUM" = /usr/bin/chromium ] || tools_die "no Chromium at CHROMIUM=$CHROMIUM"
  command -v apt-get >/dev/null || tools_die "/usr/bin/chromium is missing and there is no apt-get to install it"
  echo "check-docs-page: installing Debian's chromium (once)" >&2
  if [ "$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi
  if ! { $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2; }; then
    tools_die "apt-get install chromium failed"
  fi
fi
command -v node >/dev/null || tools_die "node is required (Debian: apt-get install nodejs npm)"
ensure_node_tools

exec scripts/with-service.sh node scripts/docs-page-test.mjs
