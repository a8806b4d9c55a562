# Local DynamoDB engine for docker-compose.yml: dynoxide (crates.io `dynoxide-rs`,
# MIT/Apache-2.0, SQLite-backed), the same engine and version the test suite runs
# (scripts/dynamodb-engine.sh). It replaces DynamoDB Local, whose licence is not
# open source. Developer laptops and CI only: never part of production.
#
# Build arguments, mirroring the bookstore Dockerfile (the defaults need a registry):
#   RUNTIME_BASE   default distroless cc, nonroot: dynoxide needs only glibc and libgcc
#                  (SQLite is compiled in)
#   BINARY_SOURCE  "builder" (default: cargo install from crates.io on rust:) or
#                  "prebuilt" (a binary named `dynoxide` at the root of the build
#                  context, e.g. the one scripts/dynamodb-engine.sh installed)
#
# No `# syntax=` line: this file needs nothing beyond the Dockerfile frontend built
# into BuildKit, so a build never has to fetch one from Docker Hub.

ARG RUST_VERSION=1.95
ARG RUNTIME_BASE=gcr.io/distroless/cc-debian12:nonroot
ARG BINARY_SOURCE=builder

# The same version and features as scripts/dynamodb-engine.sh: the HTTP server and
# CLI only (no MCP server, no import tooling).
FROM rust:${RUST_VERSION}-bookworm AS builder
RUN cargo install --locked dynoxide-rs --version 3.2.0 \
      --no-default-features --features native-sqlite,http-server,cli --root /usr/local \
 && cp /usr/local/bin/dynoxide /dynoxide

FROM scratch AS prebuilt
COPY dynoxide /dynoxide

FROM ${BINARY_SOURCE} AS binary

FROM ${RUNTIME_BASE}
COPY --from=binary /dynoxide /dynoxide
USER 65532:65532
EXPOSE 8000
# No shell or curl in the base: dynoxide probes itself. In-memory tables by default;
# pass --db-path FILE (on a volume) to keep them.
HEALTHCHECK --interval=2s --timeout=2s --start-period=2s --retries=15 \
    CMD ["/dynoxide", "healthcheck", "--port", "8000"]
ENTRYPOINT ["/dynoxide"]
CMD ["--host", "0.0.0.0", "--port", "8000"]
