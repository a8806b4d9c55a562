# shellcheck shell=bash
# Sourced by the OpenAPI and docs-page checks: installs their pinned tools, once per pin.
#   ensure_py_tools    openapi-spec-validator and schemathesis (scripts/openapi/requirements.txt) in .tools/venv-openapi
#   ensure_node_tools  openapi-typescript, typescript, playwright-core (scripts/openapi/package-lock.json)
# Expects $root (the repository root) to be set.

tools_die() { echo "openapi-tools: $*" >&2; exit 1; }
: "${root:?set root to the repository root before sourcing scripts/openapi/tools.sh}"
# shellcheck source=scripts/lib/venv.sh
. "$root/scripts/lib/venv.sh"

ensure_py_tools() {
  ensure_venv openapi "$root/scripts/openapi/requirements.txt"
}

ensure_node_tools() {
  local dir="$root/scripts/openapi"
  command -v npm >/dev/null || tools_die "node and npm are required (Debian: apt-get install nodejs npm)"
  local stamp
  stamp="$dir/node_modules/.installed-$(cat "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  echo "openapi-tools: npm ci in scripts/openapi (once)" >&2
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2 \
    || tools_die "npm ci --prefix scripts/openapi failed"
  touch "$stamp"
}
