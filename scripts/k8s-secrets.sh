#!/usr/bin/env bash
# k8s-secrets.sh - the Kubernetes Secrets deploy/k8s refers to, generated fresh.
#
#   scripts/k8s-secrets.sh [--namespace NS] [--keys-dir DIR] | kubectl create -f -
#   scripts/k8s-secrets.sh bootstrap-sql [--namespace NS] | psql ... -f -
#
# The first form runs bin/keygen into a private temporary directory (removed on exit) and
# prints Secret manifests on stdout, one set per service (deploy/service-keys.sh decides
# who gets what):
#   <svc>-keys    gateway auth missions evidence privacy audit: the service's CURVE
#                 certificate pair, the public certificates of its peers, and the
#                 secrets only it reads (auth_data.key; evidence_master.key, upload_url.key;
#                 audit_master.key, audit_checkpoint.key)
#   auth-jwt      the JWT signing keys (<kid>.pem) and the rotation file, if any
#   <svc>-db      auth missions evidence privacy audit: kubernetes.io/basic-auth with
#                 username <svc>_svc and its password (CloudNativePG can use these as the
#                 roles' passwordSecret)
#   redis-auth    the Redis password (key "password"), for gateway and auth
# Nothing is written into the repository. Pipe it into `kubectl create` (which never
# replaces an existing Secret), or into your secrets tool. All of them belong together:
# create the set once; --keys-dir DIR keeps keygen's files in DIR instead, to add or
# rotate keys later from the same set (keygen only fills in what is missing).
#
# The second form prints the input for scripts/db-bootstrap.sql: \set lines with each
# role's password, read from the <svc>-db Secrets in the cluster, then the script; pipe it
# into psql connected as a superuser (or the database owner) to the application database.
# The passwords only ever travel through the pipe.

if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail
umask 077

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
KEYGEN=${KEYGEN:-$REPO_ROOT/bin/keygen}
KUBECTL=${KUBECTL:-kubectl}
# shellcheck source=deploy/service-keys.sh
. "$REPO_ROOT/deploy/service-keys.sh"

die() {
    printf 'k8s-secrets: %s\n' "$*" >&2
    exit 1
}

usage() {
    sed -n '3,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

MODE=manifests
NAMESPACE=
KEYS_DIR=
if [[ ${1:-} == bootstrap-sql ]]; then
    MODE=bootstrap-sql
    shift
fi
while (($#)); do
    case $1 in
    -n | --namespace) NAMESPACE=${2:?}; shift 2 ;;
    --keys-dir) KEYS_DIR=${2:?}; shift 2 ;;
    -h | --help) usage ;;
    *) usage ;;
    esac
done

# ---------------------------------------------------------------------------------------
# bootstrap-sql

psql_quote() {
    local v=${1//\\/\\\\}
    printf "'%s'" "${v//\'/\'\'}"
}

if [[ $MODE == bootstrap-sql ]]; then
    ns=()
    [[ -z $NAMESPACE ]] || ns=(--namespace "$NAMESPACE")
    for svc in $BACKENDS; do
        encoded=$("$KUBECTL" get secret "${ns[@]}" "$svc-db" -o 'jsonpath={.data.password}') ||
            die "cannot read Secret $svc-db"
        password=$(printf '%s' "$encoded" | base64 -d)
        [[ -n $password ]] || die "Secret $svc-db has no password"
        printf '\\set %s_password %s\n' "$svc" "$(psql_quote "$password")"
    done
    cat "$REPO_ROOT/scripts/db-bootstrap.sql"
    exit 0
fi

# ---------------------------------------------------------------------------------------
# manifests

[[ -x $KEYGEN ]] || die "$KEYGEN not found; build it first (make)"
if [[ -n $KEYS_DIR ]]; then
    DIR=$(realpath -m -- "$KEYS_DIR")
    [[ $DIR/ != "$REPO_ROOT"/* ]] || die "--keys-dir must be outside the repository"
    mkdir -p -- "$DIR"
else
    DIR=$(mktemp -d "${TMPDIR:-/tmp}/k8s-secrets.XXXXXX")
    trap 'rm -rf -- "$DIR"' EXIT
fi
"$KEYGEN" --dir "$DIR" >/dev/null || die "keygen failed"
if [[ ! -s $DIR/redis.password ]]; then
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$DIR/redis.password"
    echo >>"$DIR/redis.password"
fi

b64() {
    base64 -w0 <"$1"
}

# secret NAME SVC TYPE, then "key path" pairs on stdin
secret() {
    local name=$1 svc=$2 type=$3 key file
    echo "---"
    echo "apiVersion: v1"
    echo "kind: Secret"
    echo "metadata:"
    echo "  name: $name"
    [[ -z $NAMESPACE ]] || echo "  namespace: $NAMESPACE"
    echo "  labels:"
    echo "    app.kubernetes.io/name: $svc"
    echo "    app.kubernetes.io/part-of: secure-backend"
    echo "type: $type"
    echo "data:"
    while read -r key file; do
        [[ -s $file ]] || die "keygen left out $file"
        echo "  $key: $(b64 "$file")"
    done
}

echo "# Secrets for deploy/k8s: private keys and passwords. Keep them out of version control."
for svc in $SERVICES; do
    {
        echo "$svc.cert $DIR/$svc.cert"
        echo "$svc.cert_secret $DIR/$svc.cert_secret"
        for peer in $(svc_peer_certs "$svc"); do
            echo "$peer.cert $DIR/$peer.cert"
        done
        for file in "$DIR"/secrets/*.key; do
            [[ -e $file ]] || continue
            name=$(basename "$file" .key)
            owner=$(secret_owner "$name") ||
                die "no service is known to read secrets/$name.key; say which in deploy/service-keys.sh"
            [[ $owner != "$svc" ]] || echo "$name.key $file"
        done
    } | secret "$svc-keys" "$svc" Opaque
done

{
    for file in "$DIR"/jwt/*.pem "$DIR"/jwt/rotation; do
        if [[ -e $file ]]; then echo "$(basename "$file") $file"; fi
    done
} | secret auth-jwt auth Opaque

for svc in $BACKENDS; do
    printf '%s_svc' "$svc" >"$DIR/.username"
    # basic-auth wants the password without a line end
    tr -d '\r\n' <"$DIR/db/$svc.password" >"$DIR/.password"
    printf 'username %s\npassword %s\n' "$DIR/.username" "$DIR/.password" |
        secret "$svc-db" "$svc" kubernetes.io/basic-auth
    rm -f -- "$DIR/.username" "$DIR/.password"
done

tr -d '\r\n' <"$DIR/redis.password" >"$DIR/.password"
echo "password $DIR/.password" | secret redis-auth redis Opaque
rm -f -- "$DIR/.password"
