#!/usr/bin/env bash
# Installs every tool the test command needs besides Rust, in parallel, so that scripts/test.sh
# can run it in the background while cargo compiles: the installs wait on the network and the
# disk, the compiler on the CPU. Each check script still installs what it needs when run alone
# (every install here is the same function, idempotent, keyed by its pinned versions).
#
#   scripts/install-tools.sh     (exit 0 when everything is installed; each failure says what)
#
# What it installs, each into the repository's .tools/ unless it is a Debian package:
#   Debian (one apt-get run, as dpkg allows one at a time): chromium (the docs page and the
#     storefront in a real browser), docker.io and mmdebstrap (the image check)
#   Python venvs (scripts/lib/venv.sh): moto_server and boto3, the OpenAPI tools, the linters
#   npm: the OpenAPI client check and playwright-core (scripts/openapi)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p .tools
# shellcheck source=scripts/openapi/tools.sh
. scripts/openapi/tools.sh

# Debian packages, only those missing; needs root (or sudo).
# shellcheck disable=SC2329  # run through the jobs list below
apt_packages() {
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v docker >/dev/null || missing+=(docker.io)
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || { echo "install-tools: ${missing[*]} missing and no apt-get" >&2; return 1; }
  local sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "install-tools: apt-get install ${missing[*]}" >&2
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"; } \
    >.tools/install-apt.log 2>&1 \
    || { echo "install-tools: apt-get install ${missing[*]} failed (log: .tools/install-apt.log)" >&2; return 1; }
}

jobs=(
  "apt_packages"
  "BOOKSTORE_ENGINE=moto scripts/dynamodb-engine.sh install"
  "ensure_py_tools"
  "ensure_venv lint scripts/lint-requirements.txt"
  "ensure_node_tools"
)
pids=()
for job in "${jobs[@]}"; do
  # Subshells, so that a failing install's `exit` ends only its own job.
  (eval "$job") &
  pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "install-tools: '${jobs[$i]}' failed" >&2
    failed=1
  fi
done
exit "$failed"
