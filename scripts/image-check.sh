#!/usr/bin/env bash
# Builds the container image's runtime stage from the release binary scripts/release-check.sh built,
# on a local stand-in for its distroless base, and runs it; then runs docker-compose.yml the same way.
# No registry is needed: the builder stage (cargo-chef on rust:) is the one part never run here.
#
#   scripts/image-check.sh        (after scripts/release-check.sh; scripts/test.sh runs both)
#
# Proves, on the image: it runs as uid 65532 with a read-only root filesystem; docker inspect shows the
# user, the entrypoint, port 8080 and the HEALTHCHECK, and the container becomes healthy; migrate, seed
# and serve work as separate containers against the DynamoDB engine on the host network (a fresh table),
# and GET /books/John%20Grisham/The%20Rainmaker answers the tutorial's book; `docker stop` (SIGTERM)
# exits 0 within the drain time; a build from an unknown base or without the binary fails. Prints the
# image size. Then `docker compose up` with the same local base and prebuilt binaries (API and the
# dynoxide engine image), a GET of the Rainmaker through it, and `docker compose down -v`.
#
# Needs root on a Debian machine: installs docker.io and mmdebstrap with apt-get if they are missing and
# starts dockerd if none answers (flags below, log in .tools/dockerd.log). That dockerd keeps running
# afterwards, like any system daemon; everything else this starts is stopped and removed. The base image
# (tag below) is made once with mmdebstrap from the Debian mirror apt uses, then reused.
#
#   BOOKSTORE_IMAGE_ENGINE_PORT (8041), BOOKSTORE_IMAGE_HTTP_PORT (8098): the docker-run part's ports
#   BOOKSTORE_COMPOSE_HTTP_PORT (8099), BOOKSTORE_COMPOSE_ENGINE_PORT (8042): the compose part's ports
#
# What it reads back (apt's sources, the base's /etc/passwd, docker inspect, /proc of the server, the
# GET, docker stop) is parsed and judged by scripts/image_check.py, which scripts/test_image_check.py
# tests; the engine and its credentials come from scripts/lib/service.sh, as for every local run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started_at=$SECONDS

bin=$(scripts/release-build.sh --path) # built by scripts/release-check.sh
tools="$root/.tools"
# Same packages and the same nonroot user as gcr.io/distroless/cc-debian12:nonroot.
base=bookstore-base:bookworm-nonroot
image=bookstore:check
compose_image=bookstore:check-compose # its own tag: compose labels what it builds, so the ID differs
engine_image=bookstore-engine:check
engine_port=${BOOKSTORE_IMAGE_ENGINE_PORT:-8041}
http_port=${BOOKSTORE_IMAGE_HTTP_PORT:-8098}
compose_http_port=${BOOKSTORE_COMPOSE_HTTP_PORT:-8099}
compose_engine_port=${BOOKSTORE_COMPOSE_ENGINE_PORT:-8042}
table="Books-image-$$"
server="bookstore-image-check-$$"
project=bookstore-check # fixed, so a rerun rebuilds identical (cached) images instead of new ones
build_log="$tools/image-check-build.log"

say() { echo "image-check: $*"; }
mib() { numfmt --to=iec-i --suffix=B --format=%.1f --round=nearest "$1"; }
fail() { echo "image-check: FAILED: $*" >&2; exit 1; }
# judge PREFIX SUBCOMMAND [ARGS]: scripts/image_check.py's verdict (stdin passed on); its summary
# lines are said after PREFIX, and its reasons, if any rule is broken, are the failure.
judge() {
  local prefix=$1 out
  shift
  out=$(python3 scripts/image_check.py "$@" 2>&1) || fail "$prefix$out"
  if [ -n "$out" ]; then
    while IFS= read -r line; do say "$prefix$line"; done <<<"$out"
  fi
}

# shellcheck source=scripts/lib/service.sh
. scripts/lib/service.sh
service_init image-check
mkdir -p "$tools"
work=$SERVICE_WORKDIR
compose=()
# shellcheck disable=SC2329  # called by the EXIT trap
cleanup() {
  docker rm -f "$server" >/dev/null 2>&1 || true
  if ((${#compose[@]})); then "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true; fi
  service_cleanup
}
trap cleanup EXIT

# --- 1. docker.io, mmdebstrap and a dockerd ----------------------------------------------------------
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
if ((${#missing[@]})); then
  [ "$(id -u)" = 0 ] || fail "${missing[*]} missing and not root: apt-get install ${missing[*]}"
  say "installing ${missing[*]} with apt-get"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"$tools/image-check-apt.log" 2>&1 \
    || fail "apt-get install ${missing[*]} failed (log: $tools/image-check-apt.log)"
fi
command -v docker >/dev/null || fail "no docker CLI on PATH (Debian: apt-get install docker.io)"

if ! docker info >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || fail "no Docker daemon answers and starting dockerd needs root"
  say "no Docker daemon answers: starting dockerd (log: $tools/dockerd.log); it keeps running afterwards"
  # No iptables and no default bridge: build machines have neither the netfilter rights nor a need for
  # them (the check's containers use --network host; compose's own network still works without NAT).
  # vfs: the one storage driver that works inside any container or overlay filesystem.
  setsid dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
    >"$tools/dockerd.log" 2>&1 </dev/null &
  dockerd_pid=$!
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.5
  done
  if ! docker info >/dev/null 2>&1; then
    tail -n 15 "$tools/dockerd.log" >&2 || true
    fail "dockerd did not start (its log is above and in $tools/dockerd.log)"
  fi
fi

# BuildKit is required (the legacy builder runs every stage, so it would need rust: from a registry).
# The docker CLI reaches it through the buildx plugin; Debian's docker.io 20.10 CLI has it built in.
if docker buildx version >/dev/null 2>&1; then
  build_cli=docker
elif [ -x /usr/bin/docker ] && /usr/bin/docker --version | grep -q 'version 20\.'; then
  build_cli=/usr/bin/docker
else
  fail "no BuildKit-capable docker CLI: install the docker buildx plugin"
fi
if docker compose version >/dev/null 2>&1; then
  compose_cli=(docker compose)
elif [ -x "$tools/bin/docker-compose-2.40.3" ]; then
  compose_cli=("$tools/bin/docker-compose-2.40.3") # scripts/lint-deploy.sh extracts it
else
  fail "no docker compose v2: run scripts/lint-deploy.sh (it installs one into .tools/bin) or install the compose plugin"
fi

# --- 2. the base: a local stand-in for gcr.io/distroless/cc-debian12:nonroot --------------------------
if docker image inspect "$base" >/dev/null 2>&1; then
  say "base $base: present, reused"
else
  mirror=$(python3 scripts/image_check.py debian-mirror /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    /etc/apt/sources.list.d/*.sources)
  [ -n "$mirror" ] || fail "no Debian bookworm mirror found in /etc/apt/sources.list{,.d/} for mmdebstrap"
  say "base $base: making it with mmdebstrap from $mirror"
  # extract: the packages' files only, no maintainer scripts, which is how distroless is made too; so
  # the hook writes what those scripts or distroless add: the users (nonroot = 65532, home
  # /home/nonroot) and the CA bundle that update-ca-certificates would generate.
  # shellcheck disable=SC2016  # $1 is expanded by mmdebstrap's hook shell, not here
  hook='printf "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n" >"$1/etc/passwd"
printf "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n" >"$1/etc/group"
mkdir -p "$1/home/nonroot" "$1/root" "$1/etc/ssl/certs"
chown 65532:65532 "$1/home/nonroot" && chmod 0700 "$1/home/nonroot" "$1/root"
cat "$1"/usr/share/ca-certificates/*/*.crt >"$1/etc/ssl/certs/ca-certificates.crt"'
  mmdebstrap --quiet --variant=extract --include=libc6,libgcc-s1,ca-certificates,tzdata,netbase \
      --extract-hook="$hook" bookworm "$work/rootfs.tar" "$mirror" >"$tools/image-check-base.log" 2>&1 \
    || fail "mmdebstrap failed (log: $tools/image-check-base.log)"
  # The same configuration as the distroless nonroot image.
  docker import \
      -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      -c 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
      -c 'USER 65532' -c 'WORKDIR /home/nonroot' \
      -m "local stand-in for gcr.io/distroless/cc-debian12:nonroot (scripts/image-check.sh)" \
      "$work/rootfs.tar" "$base" >/dev/null || fail "docker import of the base failed"
  rm -f "$work/rootfs.tar"
fi
# USER 65532:65532 must name distroless' nonroot: read /etc/passwd out of the base (it has no shell).
cid=$(docker create "$base" /none)
passwd=$(docker cp "$cid:/etc/passwd" - | tar -xO)
docker rm "$cid" >/dev/null
judge "base $base: " base-passwd <<<"$passwd"

# --- 3. the image, from the prebuilt binary -----------------------------------------------------------
[ -x "$bin" ] || fail "no release binary at $bin: scripts/release-check.sh builds it (this script builds nothing)"
dynoxide=$(scripts/dynamodb-engine.sh path)

# A small temporary build context rather than a `!target/...` exception in .dockerignore: the normal
# context stays small (no binary in it, ever), and the repository's .dockerignore stays about the
# builder stage. It has the repository's layout, so docker-compose.yml's paths work in it unchanged.
ctx="$work/context"
mkdir -p "$ctx/deploy"
cp "$bin" "$ctx/bookstore"
# The engine is the test profile's build (examples/dynamodb_engine.rs): its debug info is most of its
# 120 MB, and nothing in the engine image reads it.
strip --strip-debug -o "$ctx/dynoxide" "$dynoxide" || fail "cannot strip $dynoxide into the build context"
# The one difference from the repository's Dockerfile: no `# syntax=` line, which makes BuildKit fetch
# the docker/dockerfile frontend from Docker Hub. The frontend built into the daemon reads the same
# instructions (the file uses nothing newer).
sed '1{/^# syntax=/d}' Dockerfile >"$ctx/Dockerfile"
cp deploy/engine.Dockerfile "$ctx/deploy/engine.Dockerfile"

build() { # build WHAT ARGS...: one clear line on failure, the whole log in $build_log
  local what=$1
  shift
  if ! DOCKER_BUILDKIT=1 "$build_cli" build --progress=plain "$@" >"$build_log" 2>&1; then
    echo "image-check: building $what failed: $(grep -v '^[[:space:]]*$' "$build_log" | tail -n 1) (log: $build_log)" >&2
    return 1
  fi
}
build "$image" -t "$image" --build-arg RUNTIME_BASE="$base" --build-arg BINARY_SOURCE=prebuilt \
    -f "$ctx/Dockerfile" "$ctx" || fail "the image does not build from $bin on $base"

# Neither a missing base nor a missing binary may build something else instead.
mkdir -p "$work/empty"
if build "an image on an unknown base" -t bookstore:check-must-fail --build-arg RUNTIME_BASE=bookstore-base:no-such-tag \
    --build-arg BINARY_SOURCE=prebuilt -f "$ctx/Dockerfile" "$ctx" 2>"$work/why"; then
  fail "a build from an unknown base succeeded"
fi
say "as expected, $(sed 's/^image-check: //' "$work/why")"
if build "an image with no binary in the context" -t bookstore:check-must-fail --build-arg RUNTIME_BASE="$base" \
    --build-arg BINARY_SOURCE=prebuilt -f "$ctx/Dockerfile" "$work/empty" 2>"$work/why"; then
  fail "a build with no binary succeeded"
fi
say "as expected, $(sed 's/^image-check: //' "$work/why")"

size=$(docker image inspect -f '{{.Size}}' "$image")
base_size=$(docker image inspect -f '{{.Size}}' "$base")
say "image $image: $(mib "$size") ($size bytes): base $(mib "$base_size") + binary $(mib "$(stat -c %s "$bin")")"

# --- 4. what docker inspect shows -----------------------------------------------------------------------
inspected=$(docker image inspect "$image")
judge "" inspect <<<"$inspected"

# --- 5. migrate, seed and serve as separate containers ----------------------------------------------
service_engine_start "$engine_port"
run_opts=(--network host --read-only)
while IFS= read -r var; do run_opts+=(-e "$var"); done < <(service_local_aws_vars "$engine_port")
run_opts+=(-e BOOKSTORE_TABLE="$table" -e BOOKSTORE_API_TOKENS=image-check-token
  -e BOOKSTORE_ADDR="127.0.0.1:$http_port" -e RUST_LOG=warn)
docker run --rm "${run_opts[@]}" "$image" migrate || fail "migrate (container) failed"
docker run --rm "${run_opts[@]}" "$image" seed || fail "seed (container) failed"
say "migrate and seed: exit 0 (table $table)"

docker run -d --name "$server" "${run_opts[@]}" --health-interval=1s --health-timeout=3s --health-retries=3 \
  "$image" >/dev/null || fail "serve (container) did not start"
health=
for _ in $(seq 1 60); do
  health=$(docker inspect -f '{{.State.Health.Status}}' "$server")
  [ "$health" = healthy ] && break
  [ "$(docker inspect -f '{{.State.Running}}' "$server")" = true ] || break
  sleep 0.5
done
[ "$health" = healthy ] || { docker logs "$server" 2>&1 | tail -n 20 >&2; fail "serve never became healthy (health: $health)"; }
docker exec "$server" /bookstore healthcheck || fail "bookstore healthcheck failed inside the container"

# The kernel's view of the running server, not just the configuration.
judge "serve: healthy; bookstore healthcheck: exit 0; " process "$(docker inspect -f '{{.State.Pid}}' "$server")"

check_rainmaker() { # check_rainmaker LABEL URL: the tutorial's book, category Suspense
  local body
  body=$(curl -fsS --max-time 5 "$2") || fail "GET $2 failed"
  judge "$1GET /books/John%20Grisham/The%20Rainmaker: " book <<<"$body"
}
check_rainmaker "" "http://127.0.0.1:$http_port/books/John%20Grisham/The%20Rainmaker"

# The service drains for up to 20 s on SIGTERM; docker stop sends SIGTERM, then SIGKILL after -t.
stop_start=$(date +%s%N)
docker stop -t 25 "$server" >/dev/null
stop_ms=$((($(date +%s%N) - stop_start) / 1000000))
judge "" stopped "$(docker inspect -f '{{.State.ExitCode}}' "$server")" "$stop_ms"
docker rm "$server" >/dev/null
service_engine_stop

# --- 6. docker compose up, with the local base and the prebuilt binaries ------------------------------
# The shipped docker-compose.yml, unchanged; only its build arguments come from the environment.
export BOOKSTORE_BUILD_CONTEXT="$ctx" RUNTIME_BASE="$base" BINARY_SOURCE=prebuilt
export BOOKSTORE_IMAGE="$compose_image" BOOKSTORE_ENGINE_IMAGE="$engine_image"
export BOOKSTORE_HTTP_PORT="$compose_http_port" BOOKSTORE_ENGINE_PORT="$compose_engine_port"
compose=("${compose_cli[@]}" -p "$project" -f "$root/docker-compose.yml")
"${compose[@]}" build >"$build_log" 2>&1 \
  || fail "docker compose build failed: $(grep -v '^[[:space:]]*$' "$build_log" | tail -n 1) (log: $build_log)"
# up -d returns once migrate and seed have exited 0 (the api depends on that) and the api has started.
"${compose[@]}" up -d >"$work/compose-up.log" 2>&1 \
  || { cat "$work/compose-up.log" >&2; "${compose[@]}" logs >&2 || true; fail "docker compose up failed"; }
(service_wait_ready "http://127.0.0.1:$compose_http_port" 30) \
  || { "${compose[@]}" logs --tail 20 >&2 || true; fail "compose's api did not become ready (its logs are above)"; }
say "compose: $("${compose[@]}" ps -a --format '{{.Service}} {{.Status}}' | sort | paste -sd ';' | sed 's/;/; /g')"
check_rainmaker "compose " "http://127.0.0.1:$compose_http_port/books/John%20Grisham/The%20Rainmaker"
"${compose[@]}" down -v --remove-orphans >"$work/compose-down.log" 2>&1 || { cat "$work/compose-down.log" >&2; fail "docker compose down failed"; }
compose=()
left=$(docker ps -aq --filter "label=com.docker.compose.project=$project")
[ -z "$left" ] || fail "containers left after docker compose down: $left"
say "compose: up, GET, down -v: OK (engine image $engine_image: $(mib "$(docker image inspect -f '{{.Size}}' "$engine_image")"))"

say "OK in $((SECONDS - started_at)) s; nothing left running (dockerd stays up)"
