#!/usr/bin/env bash
# Builds the shipped binary and prints its path: the one place that names the image's target and the
# build command. The Dockerfile, the release and image checks, the local run and the benchmark all
# build through it, so they share one fat-LTO build instead of making one each.
#
#   scripts/release-build.sh                     build bookstore (release, --locked), print its path
#   scripts/release-build.sh --example NAME      build examples/NAME the same way, print its path
#   scripts/release-build.sh --path              print bookstore's path only, building nothing
#   scripts/release-build.sh --triple            print the target triple only
#
# The target is explicit (not the host default) so that the binary tested here, outside Docker, is
# the one the Dockerfile's builder stage compiles: same triple, same profile, same Cargo.lock.
set -euo pipefail
cd "$(dirname "$0")/.."
# The shipped binary is compiled by rustc alone: scripts/test.sh runs its test build through
# clippy-driver, which turns MIR optimisation off.
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS

triple=x86_64-unknown-linux-gnu
dir="${CARGO_TARGET_DIR:-target}/$triple/release"

case "${1:-}" in
  --triple) echo "$triple" ;;
  --path) echo "$dir/bookstore" ;;
  --example)
    [ -n "${2:-}" ] || { echo "usage: $0 --example NAME" >&2; exit 2; }
    cargo build --release --locked --target "$triple" --example "$2" >&2
    echo "$dir/examples/$2"
    ;;
  "")
    cargo build --release --locked --target "$triple" --bin bookstore >&2
    echo "$dir/bookstore"
    ;;
  *) echo "usage: $0 [--example NAME | --path | --triple]" >&2; exit 2 ;;
esac
