# shellcheck shell=bash
# Sourced by the OpenAPI, docs-page and storefront checks: installs their pinned tools, once per pin.
#   ensure_py_tools    openapi-spec-validator and schemathesis (scripts/openapi/requirements.txt) in .tools/venv-openapi
#   ensure_node_tools  openapi-typescript, typescript, playwright-core (scripts/openapi/package-lock.json)
#   ensure_npm_ci DIR  the pinned packages of another package-lock.json (e.g. examples/storefront)
#   ensure_chromium    Debian's chromium for the browser checks
# Expects $root (the repository root) to be set.

tools_die() { echo "openapi-tools: $*" >&2; exit 1; }
: "${root:?set root to the repository root before sourcing scripts/openapi/tools.sh}"
# shellcheck source=scripts/lib/venv.sh
. "$root/scripts/lib/venv.sh"

ensure_py_tools() {
  ensure_venv openapi "$root/scripts/openapi/requirements.txt"
}

ensure_node_tools() {
  ensure_npm_ci "$root/scripts/openapi"
}

# npm ci in DIR, once per package.json + package-lock.json (a stamp in DIR/node_modules says so).
ensure_npm_ci() {
  local dir=$1
  command -v npm >/dev/null || tools_die "node and npm are required (Debian: apt-get install nodejs npm)"
  local stamp
  stamp="$dir/node_modules/.installed-$(cat "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  echo "openapi-tools: npm ci in ${dir#"$root"/} (once)" >&2
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2 \
    || tools_die "npm ci --prefix ${dir#"$root"/} failed"
  touch "$stamp"
}

# Debian's chromium at $CHROMIUM (default /usr/bin/chromium), installed with apt-get if missing:
# Playwright's own browser downloads cannot be fetched here, so the browser checks drive this one.
ensure_chromium() {
  export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
  [ -x "$CHROMIUM" ] && return 0
  [ "$CHROMIUM" = /usr/bin/chromium ] || tools_die "no Chromium at CHROMIUM=$CHROMIUM"
  command -v apt-get >/dev/null || tools_die "/usr/bin/chromium is missing and there is no apt-get to install it"
  echo "openapi-tools: installing Debian's chromium (once)" >&2
  local sudo=sudo
  [ "$(id -u)" = 0 ] && sudo=
  if ! { $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2; }; then
    tools_die "apt-get install chromium failed"
  fi
}
