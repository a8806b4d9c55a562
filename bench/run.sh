#!/usr/bin/env bash
# The benchmark, in one command: the service against DynamoDB's own ceiling on this machine.
#
#   bench/run.sh                               full run (about 13 minutes once built), writes BENCHMARKS.md
#   BENCH_RUNS=1 BENCH_DURATION=3 BENCH_WARMUP=1 BENCH_STARTS=3 bench/run.sh   a quick run
#
# It installs the load generator (oha, from crates.io, once into .tools/oha), builds the release
# binary (for the image's target, so it is the shipped binary), examples/bench_ceiling (the SDK
# alone) and examples/bench_floor (the same routes with only axum around them), starts the local
# DynamoDB engine (dynoxide, in memory: scripts/dynamodb-engine.sh) on 127.0.0.1:$BENCH_ENGINE_PORT, and hands over to
# bench/bench.py (settings: the BENCH_* variables at its top). Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

engine_port=${BENCH_ENGINE_PORT:-8790}
oha_version=1.16.0

die() { echo "bench: $*" >&2; exit 1; }
command -v python3 >/dev/null || die "python3 is required"
command -v taskset >/dev/null || die "taskset is required (Debian: util-linux)"

if [ -z "${BENCH_OHA:-}" ]; then
  oha=.tools/oha/bin/oha
  if ! [ -x "$oha" ] || ! "$oha" --version | grep -q " $oha_version"; then
    echo "bench: installing oha $oha_version into .tools/oha (once)" >&2
    cargo install oha --version "$oha_version" --locked --root .tools/oha
  fi
fi

# The service exactly as the Dockerfile builds it (same target and profile), then the ceiling client.
BENCH_BIN=$(scripts/release-build.sh)
BENCH_CEILING=$(scripts/release-build.sh --example bench_ceiling)
BENCH_FLOOR=$(scripts/release-build.sh --example bench_floor)
export BENCH_BIN BENCH_CEILING BENCH_FLOOR

if scripts/dynamodb-engine.sh status "$engine_port"; then
  die "something already answers on 127.0.0.1:$engine_port; set BENCH_ENGINE_PORT to a free port"
fi
# dynoxide in memory (the benchmark's data is made anew each run); exported, so that bench.py's
# report names the engine that was started.
export BOOKSTORE_ENGINE=dynoxide BOOKSTORE_ENGINE_DB=''
scripts/dynamodb-engine.sh start "$engine_port"
trap 'scripts/dynamodb-engine.sh stop "$engine_port"' EXIT

python3 bench/bench.py
