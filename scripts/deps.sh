#!/usr/bin/env bash
# deps.sh - make sure the Debian 12 packages needed to build, run and test are present.
#
# Silent when everything is installed, so `make test` can call it on every run.
# As root it installs what is missing; otherwise it prints the command to run and fails,
# because a half-provisioned machine only produces confusing build errors later.
#
# PACKAGES_EXTRA (space-separated) adds packages to the check; it exists to exercise
# the "missing" paths without uninstalling anything.

# Started as `sh script`: everything below needs bash, so hand over to it.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

PACKAGES=(
    # toolchain
    build-essential pkg-config
    clang
    libclang-rt-14-dev          # libFuzzer and sanitizer runtimes; only a Recommends of clang
    # libraries the services link against
    libczmq-dev libzmq3-dev libmsgpack-dev libpq-dev libhiredis-dev libcivetweb-dev
    libjwt-dev libssl-dev libargon2-dev libjansson-dev libcurl4-openssl-dev
    # unit tests
    libcriterion-dev
    # the local stack (scripts/stack.sh pins PostgreSQL 15's binary directory)
    postgresql-15 redis-server redis-tools
    # tools the scripts and black-box tests call
    curl jq wrk oathtool openssl procps python3
)

read -r -a extra <<<"${PACKAGES_EXTRA:-}"
PACKAGES+=("${extra[@]}")

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
