#!/usr/bin/env bash
# A/B-compares service variants on the benchmark's load: each variant is a binary plus optional
# environment, measured in interleaved rounds against one dynoxide (bench/compare.py).
#
#   bench/compare.sh NAME=BINARY[,VAR=VALUE...] ...
#   e.g. bench/compare.sh glibc=target/x86_64-unknown-linux-gnu/profiling/bookstore \
#                         jemalloc=target/x86_64-unknown-linux-gnu/profiling/bookstore,LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
#
# Settings: bench/bench.py's BENCH_* variables (BENCH_RUNS rounds, BENCH_OPS, BENCH_DURATION ...).
set -euo pipefail
cd "$(dirname "$0")/.."

engine_port=${BENCH_ENGINE_PORT:-8790}
oha=${BENCH_OHA:-.tools/oha/bin/oha}
[ -x "$oha" ] || { echo "compare: $oha is missing; bench/run.sh installs it" >&2; exit 1; }
if scripts/dynamodb-engine.sh status "$engine_port"; then
  echo "compare: something already answers on 127.0.0.1:$engine_port; set BENCH_ENGINE_PORT" >&2
  exit 1
fi
export BOOKSTORE_ENGINE=dynoxide BOOKSTORE_ENGINE_DB='' BENCH_ENGINE_PORT=$engine_port
scripts/dynamodb-engine.sh start "$engine_port"
trap 'scripts/dynamodb-engine.sh stop "$engine_port"' EXIT
python3 bench/compare.py "$@"
