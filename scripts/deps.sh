#!/usr/bin/env bash
# deps.sh - make sure the Debian 12 packages needed to build, run and test are present.
#
# Silent when everything is installed, so `make test` can call it on every run.
# As root it installs what is missing; otherwise it prints the command to run and fails,
# because a half-provisioned machine only produces confusing build errors later.
#
# PACKAGES_EXTRA (space-separated) adds packages to the check; it exists to exercise
# the "missing" paths without uninstalling anything.
#
#   deps.sh            everything `make run`, `make test` and `make deploy-check` need,
#                      including deploy/check's npm packages (pinned by its lockfile)
#   deps.sh --build    only the compiler and the libraries the services link against:
#                      what the Dockerfile's build stage installs
#   deps.sh --bench    everything, plus what `make bench` runs the FastAPI reference with

# Started as `sh script`: everything below needs bash, so hand over to it.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

BUILD_PACKAGES=(
    # toolchain
    build-essential pkg-config
    # libraries the services link against
    libczmq-dev libzmq3-dev libmsgpack-dev libpq-dev libhiredis-dev libcivetweb-dev
    libjwt-dev libssl-dev libargon2-dev libjansson-dev libcurl4-openssl-dev
)

PACKAGES=(
    "${BUILD_PACKAGES[@]}"
    clang
    libclang-rt-14-dev          # libFuzzer and sanitizer runtimes; only a Recommends of clang
    # unit tests
    libcriterion-dev
    # the local stack (scripts/stack.sh pins PostgreSQL 15's binary directory)
    postgresql-15 redis-server redis-tools
    # tools the scripts and black-box tests call
    curl jq wrk oathtool openssl procps python3
    # make deploy-check: `docker-compose config` parses docker-compose.yml without a daemon
    docker-compose
)

# make bench: the FastAPI reference stack it compares against (Debian's own packages)
BENCH_PACKAGES=(
    python3-fastapi python3-uvicorn python3-uvloop python3-httptools python3-asyncpg
    python3-jose python3-passlib python3-argon2 python3-email-validator python3-multipart
    python3-redis
)

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
BUILD_ONLY=0
case ${1:-} in
'') ;;
--build) BUILD_ONLY=1 ;;
--bench) PACKAGES+=("${BENCH_PACKAGES[@]}") ;;
*)
    echo "usage: deps.sh [--build | --bench]" >&2
    exit 2
    ;;
esac

if ((BUILD_ONLY)); then
    PACKAGES=("${BUILD_PACKAGES[@]}")
else
    # make deploy-check renders the kustomize overlays with kubectl and checks them with
    # node. Any kubectl will do (deploy/check/run.sh copes with Debian's 1.20); Debian's
    # kubernetes-client would clash with a kubectl installed another way, so it is only
    # asked for when there is none. The same goes for node and npm from another source.
    command -v kubectl >/dev/null 2>&1 || PACKAGES+=(kubernetes-client)
    command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
    command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
fi

read -r -a extra <<<"${PACKAGES_EXTRA:-}"
PACKAGES+=("${extra[@]}")

# deploy/check's npm packages, exactly as its lockfile pins them. A copy of the lockfile
# inside node_modules records what was installed, so this is silent and offline when
# nothing changed.
npm_modules() {
    local dir=$REPO_ROOT/deploy/check
    ((BUILD_ONLY)) && return 0
    [[ -f $dir/package-lock.json ]] || return 0
    cmp -s "$dir/package-lock.json" "$dir/node_modules/.installed-lock.json" 2>/dev/null &&
        return 0
    echo "installing deploy/check's npm packages (npm ci)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) ||
        { echo "deps: npm ci in deploy/check failed" >&2; return 1; }
    cp "$dir/package-lock.json" "$dir/node_modules/.installed-lock.json"
}

# One dpkg-query for all packages; unknown names print nothing (and an error we drop),
# which correctly counts them as missing.
declare -A installed=()
while read -r name status; do
    [[ $status == "install ok installed" ]] && installed[$name]=1
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)

missing=()
for pkg in "${PACKAGES[@]}"; do
    [[ -n ${installed[$pkg]:-} ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
    npm_modules
    exit 0
fi

if ((EUID != 0)); then
    echo "missing packages; run as root:" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
updated=0

# A fresh container has no package lists at all, and stale lists name versions the
# mirror no longer has; refresh only in those cases, and never more than once.
apt_update() {
    ((updated)) && return 0
    apt-get update -q
    updated=1
}

if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    apt_update
else
    for pkg in "${missing[@]}"; do
        candidate=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ { print $2 }')
        if [[ -z $candidate || $candidate == "(none)" ]]; then
            apt_update
            break
        fi
    done
fi

echo "installing: ${missing[*]}"
if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    ((updated)) && exit 1
    apt_update
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
npm_modules
