# syntax=docker/dockerfile:1
#
# Image for the `bookstore` binary: one image serves every role (serve, migrate,
# seed, openapi, healthcheck); the role is the command, so ECS, compose and a
# developer all run exactly the same bytes.
#
# Size: the final image is the distroless "static" base (~2 MiB: CA certificates,
# tzdata, /etc/passwd with the nonroot user, nothing else) plus the one static
# binary (size: see README). No shell, no package manager, no libc: nothing for an
# attacker to live off, nothing for a CVE scanner to flag.

# Pinned so that a rebuild of the same commit uses the same compiler; bump it on
# purpose together with the code (edition 2024 needs >= 1.85).
ARG RUST_VERSION=1.95

# ---------------------------------------------------------------------------
# chef: toolchain + cargo-chef, shared by planner and builder.
# ---------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS chef
# musl-tools gives musl-gcc, which aws-lc-sys (rustls' crypto backend, pulled in
# by the AWS SDK) needs to compile its C code for the musl target. The builder
# stage is thrown away, so apt versions are not pinned here (pinning Debian point
# releases only breaks builds when bookworm ships a security update).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl \
 && cargo install --locked cargo-chef --version 0.1.73
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
# The musl target links statically by default (crt-static), so the binary runs
# on the distroless "static" base, which has no libc at all. The same --target on
# cook and build matters: a mismatch silently rebuilds every dependency.
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --locked --target x86_64-unknown-linux-musl --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl --bin bookstore \
 && cp target/x86_64-unknown-linux-musl/release/bookstore /bookstore

# ---------------------------------------------------------------------------
# runtime
# ---------------------------------------------------------------------------
# Tag-pinned rather than digest-pinned so that base-image security rebuilds are
# picked up; pin the digest in the release pipeline if reproducibility matters more.
FROM gcr.io/distroless/static-debian12:nonroot
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
