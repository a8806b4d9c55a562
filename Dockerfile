# syntax=docker/dockerfile:1
#
# Image for the `bookstore` binary: one image serves every role (serve, migrate,
# seed, openapi, healthcheck); the role is the command, so ECS, compose and a
# developer all run exactly the same bytes.
#
# Target: scripts/release-build.sh's (x86_64 Linux, glibc) on Debian 12 (bookworm), the
# same target, toolchain and glibc that scripts/release-check.sh builds and runs outside Docker,
# so the binary tested there is the binary shipped here. (A static musl build would
# allow the smaller "static" base, but the musl target cannot be installed on the
# project's build machines, so it could never be tested before shipping.)
#
# Size: the distroless "cc" base (glibc, libgcc, CA certificates, tzdata,
# /etc/passwd with the nonroot user; no shell, no package manager) plus the one
# binary. scripts/image-check.sh builds the runtime stage on every test run and
# prints its size: 44.6 MiB (46,789,468 bytes) on 2026-12-01, that is its local
# stand-in for the base (22.1 MiB, the same Debian 12 packages) plus the 22.5 MiB
# binary. (Distroless is made from the same packages but not byte for byte the same
# files, so the shipped image's size may differ slightly; nothing here can pull it.)
#
# Build arguments (the defaults are what ships; a registry build uses only those):
#   RUNTIME_BASE   the runtime base image (default: distroless cc, nonroot tag)
#   BINARY_SOURCE  where /bookstore comes from: "builder" (default: compiled by
#                  the cargo-chef stages below) or "prebuilt" (a binary named
#                  `bookstore` at the root of the build context, compiled outside
#                  Docker with the same command, see scripts/image-check.sh)
# Needs BuildKit (the default builder since Docker 23, and compose v2's): it
# builds only the stages the runtime stage uses, so a "prebuilt" build never
# touches the rust: image and a default build never looks for a prebuilt binary.
# (Offline, the check also drops the `# syntax=` line, which would fetch the
# docker/dockerfile frontend from Docker Hub; the daemon's built-in frontend reads
# the same instructions.)

# Pinned so that a rebuild of the same commit uses the same compiler; bump it on
# purpose together with the code (edition 2024 needs >= 1.85).
ARG RUST_VERSION=1.95
# Tag-pinned rather than digest-pinned so that base-image security rebuilds are
# picked up; pin the digest in the release pipeline if reproducibility matters more.
ARG RUNTIME_BASE=gcr.io/distroless/cc-debian12:nonroot
ARG BINARY_SOURCE=builder

# ---------------------------------------------------------------------------
# chef: toolchain + cargo-chef, shared by planner and builder.
# ---------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS chef
RUN cargo install --locked cargo-chef --version 0.1.73
WORKDIR /app

# ---------------------------------------------------------------------------
# planner: reduce the source tree to a dependency "recipe". This stage sees every
# source change, but its output (recipe.json) only changes when Cargo.toml or
# Cargo.lock do, which is what keeps the expensive layer below cached.
# ---------------------------------------------------------------------------
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# ---------------------------------------------------------------------------
# builder: compile dependencies (cached layer), then the crate itself.
# ---------------------------------------------------------------------------
FROM chef AS builder
# scripts/release-build.sh names the target and the build command, for this stage and
# for every build outside Docker (scripts/release-check.sh runs its binary). The same
# --target on cook and build matters: a mismatch silently rebuilds every dependency.
COPY --from=planner /app/recipe.json recipe.json
COPY scripts/release-build.sh scripts/release-build.sh
RUN cargo chef cook --release --locked --target "$(scripts/release-build.sh --triple)" --recipe-path recipe.json
COPY . .
RUN cp "$(scripts/release-build.sh)" /bookstore

# ---------------------------------------------------------------------------
# prebuilt: the alternative to builder, a binary from the build context. The
# check builds with a small temporary context holding only this binary (the
# repository's .dockerignore keeps target/ out of the normal context, and should:
# it is gigabytes).
# ---------------------------------------------------------------------------
FROM scratch AS prebuilt
COPY bookstore /bookstore

# binary: whichever of the two BINARY_SOURCE names; /bookstore in either.
FROM ${BINARY_SOURCE} AS binary

# ---------------------------------------------------------------------------
# runtime
# ---------------------------------------------------------------------------
FROM ${RUNTIME_BASE}
COPY --from=binary /bookstore /bookstore
# 65532 is distroless' "nonroot". Numeric so that Kubernetes' runAsNonRoot and
# similar admission checks can verify it without reading /etc/passwd.
USER 65532:65532
EXPOSE 8080
# Liveness only (/health/live): readiness depends on DynamoDB and belongs to the
# load balancer. The binary does the HTTP GET itself because the image has no
# shell or curl. ECS ignores this instruction: the task definition repeats it.
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/bookstore", "healthcheck"]
ENTRYPOINT ["/bookstore"]
CMD ["serve"]
