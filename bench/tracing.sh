#!/usr/bin/env bash
# What tracing costs per request: bench/compare.sh over four variants, interleaved. BEFORE is a
# build from before tracing existed; AFTER is today's, run with tracing off (no endpoint), and on
# at sampling ratios 1.0 and 0.05, exporting over OTLP/HTTP to a real receiver (bench/otlp_sink.py,
# which decodes every export with opentelemetry-proto).
#
#   bench/tracing.sh BEFORE_BINARY AFTER_BINARY
#
# Settings: bench/bench.py's BENCH_* variables; BENCH_OTLP_PORT (default 8796) for the receiver.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 BEFORE_BINARY AFTER_BINARY" >&2; exit 2; }
before=$1 after=$2
source scripts/lib/venv.sh
ensure_venv otlp bench/otlp-requirements.txt

port=${BENCH_OTLP_PORT:-8796}
mkdir -p bench/out
# On the engine's CPU, so that it takes none from the service's.
taskset -c "${BENCH_ENGINE_CPU:-0}" "$VENV/bin/python" bench/otlp_sink.py "$port" > bench/out/otlp-sink.log 2>&1 &
sink=$!
trap 'kill $sink 2>/dev/null; wait $sink 2>/dev/null; cat bench/out/otlp-sink.log' EXIT
sleep 1
kill -0 $sink || { echo "tracing: the OTLP receiver did not start; see bench/out/otlp-sink.log" >&2; exit 1; }

otel="OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$port,OTEL_TRACES_SAMPLER=parentbased_traceidratio"
BENCH_BIN=$after bench/compare.sh "before=$before" "off=$after" \
  "on-1.0=$after,$otel,OTEL_TRACES_SAMPLER_ARG=1.0" "on-0.05=$after,$otel,OTEL_TRACES_SAMPLER_ARG=0.05"
