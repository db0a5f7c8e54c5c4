#!/usr/bin/env bash
# run.sh - `make deploy-check`: the deployment files are checked without a container engine
# or a cluster.
#
#   1. docker-compose.yml parses (`docker-compose config`, Debian's docker-compose; no daemon)
#   2. every overlay in deploy/k8s/overlays renders (`kubectl kustomize`)
#   3. every rendered object validates against the Kubernetes schemas (validate.mjs)
#   4. the project's rules hold for the overlays, the compose file and the Dockerfile
#      (rules.mjs)
#   5. the checkers catch what they should (test/check.test.mjs)
#
# Everything it uses comes from `make deps` (scripts/deps.sh). KUBECTL and DOCKER_COMPOSE
# name other binaries. Prints one line per step; exits non-zero at the first failure.

if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
CHECK_DIR=$REPO_ROOT/deploy/check
KUBECTL=${KUBECTL:-kubectl}
DOCKER_COMPOSE=${DOCKER_COMPOSE:-docker-compose}
START=$SECONDS

die() {
    printf 'deploy-check: %s\n' "$*" >&2
    exit 1
}

for tool in "$KUBECTL" "$DOCKER_COMPOSE" node; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found; run make deps"
done
[[ -d $CHECK_DIR/node_modules/kubernetes-models ]] ||
    die "deploy/check/node_modules is missing; run make deps"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/deploy-check.XXXXXX")
trap 'rm -rf -- "$WORK"' EXIT

# 1. compose. Interpolation uses the file's own defaults, never the caller's settings.
if ! out=$(cd "$REPO_ROOT" && env -i PATH="$PATH" HOME="$WORK" \
    "$DOCKER_COMPOSE" --project-directory "$REPO_ROOT" -f docker-compose.yml config -q 2>&1); then
    printf '%s\n' "$out" >&2
    die "docker-compose.yml does not parse"
fi
echo "compose: docker-compose.yml parses ($("$DOCKER_COMPOSE" version --short 2>/dev/null || echo '?'))"

# 2. kustomize. kubectl >= 1.21 renders deploy/k8s as written. Debian 12's kubectl 1.20
# carries kustomize v2.0.3, which predates two spellings the overlays use; a scratch copy
# is rewritten to the old ones first (kustomize-v2.mjs refuses anything it cannot map).
minor=$("$KUBECTL" version --client -o json 2>/dev/null |
    sed -n 's/.*"minor": *"\([0-9]*\).*/\1/p' | head -n 1)
[[ $minor =~ ^[0-9]+$ ]] || die "cannot tell $KUBECTL's version"
if ((minor >= 21)); then
    TREE=$REPO_ROOT/deploy/k8s
    how="kubectl 1.$minor"
else
    cp -R "$REPO_ROOT/deploy/k8s" "$WORK/k8s"
    node "$CHECK_DIR/kustomize-v2.mjs" "$WORK/k8s"
    TREE=$WORK/k8s
    how="kubectl 1.$minor, kustomize v2 spelling"
fi
rendered=()
rules_args=()
for overlay in "$TREE"/overlays/*/; do
    name=$(basename "$overlay")
    if ! "$KUBECTL" kustomize "$overlay" >"$WORK/$name.yaml" 2>"$WORK/$name.err"; then
        cat "$WORK/$name.err" >&2
        die "overlay $name does not render"
    fi
    rendered+=("$WORK/$name.yaml")
    rules_args+=(--k8s "$name=$WORK/$name.yaml")
    echo "kustomize: overlays/$name renders $(grep -c '^kind:' "$WORK/$name.yaml") objects ($how)"
done
((${#rendered[@]})) || die "no overlay under deploy/k8s/overlays"

# 3. schemas
node "$CHECK_DIR/validate.mjs" "${rendered[@]}"

# 4. rules
node "$CHECK_DIR/rules.mjs" --repo "$REPO_ROOT" --compose "$REPO_ROOT/docker-compose.yml" \
    --dockerfile "$REPO_ROOT/Dockerfile" "${rules_args[@]}"

# 5. the checkers themselves
if ! node --test "$CHECK_DIR/test/check.test.mjs" >"$WORK/test.log" 2>&1; then
    cat "$WORK/test.log" >&2
    die "the checkers' own tests failed"
fi
echo "checkers: $(sed -n 's/^# pass /passed: /p' "$WORK/test.log"), $(sed -n 's/^# fail /failed: /p' "$WORK/test.log")"

echo "deploy-check: ok in $((SECONDS - START)) s"
