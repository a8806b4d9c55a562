#!/usr/bin/env bash
# How many GETs per second one Fargate-sized task serves: runs the service in a cgroup whose CPU
# quota is a task's vCPU share (as ECS sets it), and drives GET one book at fixed rates with oha,
# printing p50/p99 and the CPU used at each rate. deploy/README.md's scaling arithmetic is this output.
#
#   bench/quota.sh [BINARY]        default: the shipped build (scripts/release-build.sh)
#   BENCH_QUOTA_VCPU=0.25 BENCH_QUOTA_RATES="250 500 750 1000" BENCH_QUOTA_SECONDS=10 bench/quota.sh
#
# Needs root and the cgroup v1 cpu controller at /sys/fs/cgroup/cpu, or cgroup v2 with the cpu
# controller enabled at /sys/fs/cgroup (what a container runtime uses for --cpus). The tokio
# runtime sizes itself from the quota (std::thread::available_parallelism reads it), as on Fargate.
set -euo pipefail
cd "$(dirname "$0")/.."

vcpu=${BENCH_QUOTA_VCPU:-0.25}
rates=${BENCH_QUOTA_RATES:-250 500 750 1000 1250}
seconds=${BENCH_QUOTA_SECONDS:-10}
connections=${BENCH_QUOTA_CONNECTIONS:-32}
engine_port=${BENCH_ENGINE_PORT:-8793}
port=${BENCH_PORT:-8096}
oha=${BENCH_OHA:-.tools/oha/bin/oha}
die() { echo "quota: $*" >&2; exit 1; }
[ -x "$oha" ] || die "$oha is missing; bench/run.sh installs it"
bin=${1:-$(scripts/release-build.sh)}

# The engine, its credentials, migrate, serve and the wait for readiness: scripts/lib/service.sh.
# shellcheck source=scripts/lib/service.sh
. scripts/lib/service.sh
service_init quota
out=$SERVICE_WORKDIR
cg=
# shellcheck disable=SC2329  # called by the EXIT trap
cleanup() {
  service_cleanup >&2
  if [ -n "$cg" ]; then rmdir "$cg" 2>/dev/null || true; fi # only once the service has left it
}
trap cleanup EXIT

period=100000
quota=$(awk -v v="$vcpu" -v p="$period" 'BEGIN { printf "%d", v * p }')
group="bookstore-quota-$$"
if [ -d /sys/fs/cgroup/cpu ] && [ -w /sys/fs/cgroup/cpu ]; then
  cg=/sys/fs/cgroup/cpu/$group
  mkdir "$cg"
  echo "$period" >"$cg/cpu.cfs_period_us"
  echo "$quota" >"$cg/cpu.cfs_quota_us"
elif [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
  cg=/sys/fs/cgroup/$group
  mkdir "$cg"
  echo "$quota $period" >"$cg/cpu.max"
else
  die "no writable cgroup cpu controller (run as root on a host or privileged container)"
fi

export BOOKSTORE_ENGINE=dynoxide BOOKSTORE_ENGINE_DB=''
service_engine_start "$engine_port" >&2
service_local_aws "$engine_port"
export BOOKSTORE_TABLE=Books BOOKSTORE_API_TOKENS=quota-token BOOKSTORE_ADDR="127.0.0.1:$port"
python3 bench/gen_data.py "$out" "http://127.0.0.1:$port" 500 20 20 >&2
service_run "$bin" migrate
service_run "$bin" seed "$out/books.json"

# The service alone in the group: a shell joins it and execs the binary (so SERVICE_PID is the service).
# shellcheck disable=SC2016  # $$ and $1 are the inner shell's
service_serve "$out/service.log" sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" serve' sh "$cg" "$bin"
svc=$SERVICE_PID
service_wait_ready "http://127.0.0.1:$port"
threads=$(awk '/^Threads:/ { print $2 }' "/proc/$svc/status")
clk=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$svc/stat"; }

"$oha" --no-tui -c "$connections" -q 200 -z 3s --urls-from-file "$out/urls-get.txt" >/dev/null # warm-up
echo "GET one book, $connections connections, service in a ${vcpu}-vCPU cgroup quota ($threads threads), $seconds s per rate:"
echo
echo "| offered req/s | served req/s | p50 ms | p99 ms | CPU used (vCPU) |"
echo "|---:|---:|---:|---:|---:|"
for rate in $rates; do
  t0=$(ticks)
  json=$("$oha" --no-tui --output-format json -c "$connections" -q "$rate" -z "${seconds}s" --urls-from-file "$out/urls-get.txt")
  t1=$(ticks)
  python3 bench/quota_row.py "$json" "$rate" \
    "$(awk -v a="$t0" -v b="$t1" -v c="$clk" -v s="$seconds" 'BEGIN { print (b - a) / c / s }')"
done
