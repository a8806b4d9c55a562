# shellcheck shell=bash
# Sourced by the OpenAPI and docs-page checks: installs their pinned tools, once per pin.
#   ensure_py_tools    openapi-spec-validator and schemathesis (scripts/openapi/requirements.txt) in .tools/venv
#   ensure_node_tools  openapi-typescript, typescript, playwright-core (scripts/openapi/package-lock.json)
# Expects $root (the repository root) to be set.

tools_die() { echo "openapi-tools: $*" >&2; exit 1; }
: "${root:?set root to the repository root before sourcing scripts/openapi/tools.sh}"

ensure_py_tools() {
  local venv="$root/.tools/venv" req="$root/scripts/openapi/requirements.txt"
  command -v python3 >/dev/null || tools_die "python3 is required (Debian: apt-get install python3 python3-venv)"
  if [ ! -x "$venv/bin/python" ]; then
    mkdir -p "$root/.tools"
    python3 -m venv "$venv" || tools_die "cannot create a venv (Debian: apt-get install python3-venv)"
  fi
  local stamp
  stamp="$venv/.installed-openapi-$(cat "$req" "$root/scripts/engine-requirements.txt" | sha256sum | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  echo "openapi-tools: installing $(grep -v '^#' "$req" | tr '\n' ' ')into $venv (once)" >&2
  # Installed together with the engine's pins so that neither upgrades the other's dependencies.
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
      -r "$req" -r "$root/scripts/engine-requirements.txt" \
    || tools_die "pip could not install $req from PyPI"
  touch "$stamp"
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
