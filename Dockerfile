# syntax=docker/dockerfile:1
#
# Image for the `bookstore` binary: one image serves every role (serve, migrate,
# seed, openapi, healthcheck); the role is the command, so ECS, compose and a
# developer all run exactly the same bytes.
#
# Target: x86_64-unknown-linux-gnu on Debian 12 (bookworm) glibc, the same target,
# toolchain and glibc that scripts/release-check.sh builds and runs outside Docker,
# so the binary tested there is the binary shipped here. (A static musl build would
# allow the smaller "static" base, but the musl target cannot be installed on the
# project's build machines, so it could never be tested before shipping.)
#
# Size: the distroless "cc" base (~23 MiB: glibc, libgcc, CA certificates, tzdata,
# /etc/passwd with the nonroot user; no shell, no package manager) plus the one
# binary (~21 MiB, see README): about 44 MiB.

# Pinned so that a rebuild of the same commit uses the same compiler; bump it on
# purpose together with the code (edition 2024 needs >= 1.85).
ARG RUST_VERSION=1.95

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
# The same --target on cook and build matters: a mismatch silently rebuilds every
# dependency. scripts/release-check.sh builds with this exact command.
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --locked --target x86_64-unknown-linux-gnu --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-gnu --bin bookstore \
 && cp target/x86_64-unknown-linux-gnu/release/bookstore /bookstore

# ---------------------------------------------------------------------------
# runtime
# ---------------------------------------------------------------------------
# Tag-pinned rather than digest-pinned so that base-image security rebuilds are
# picked up; pin the digest in the release pipeline if reproducibility matters more.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /bookstore /bookstore
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
