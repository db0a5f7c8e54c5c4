# service-keys.sh - which of keygen's files each service gets, and nothing more.
#
# POSIX sh, sourced by scripts/k8s-secrets.sh (one Secret per service) and by the compose
# key job (deploy/compose/init-keys.sh, one directory per service). A service holds its own
# certificate pair, the public certificates of the services it admits or calls, its own
# database password and the secrets only it reads; so a compromised container can neither
# pose as another service nor read another service's data.
#
# The links mirror common/cm_svc.c (who may connect: the default ALLOWED_PEERS) and
# common/cm_config.c (which *_ENDPOINTS a service reads); `make deploy-check` compares
# them with that source.
# shellcheck shell=sh disable=SC2034

SERVICES="gateway auth missions evidence privacy audit"
BACKENDS="auth missions evidence privacy audit"

# Services whose keys may connect to $1: the default ALLOWED_PEERS plus the service
# itself, whose health probe (bin/zping --as <itself>) connects with its own key.
svc_admits() {
    case $1 in
    auth | missions) echo "gateway privacy $1" ;;
    evidence) echo "gateway privacy missions evidence" ;;
    privacy) echo "gateway privacy" ;;
    audit) echo "gateway auth missions evidence privacy audit" ;;
    gateway) echo "" ;;
    *) return 1 ;;
    esac
}

# ALLOWED_PEERS for $1, comma-separated.
svc_allowed_peers() {
    svc_admits "$1" | tr ' ' ','
}

# Services $1 calls (the *_ENDPOINTS it reads).
svc_calls() {
    case $1 in
    gateway) echo "auth missions evidence privacy audit" ;;
    privacy) echo "auth missions evidence audit" ;;
    missions) echo "evidence audit" ;;
    auth | evidence) echo "audit" ;;
    audit) echo "" ;;
    *) return 1 ;;
    esac
}

# Public certificates $1 needs besides its own, one name a line.
svc_peer_certs() {
    for peer in $(svc_admits "$1") $(svc_calls "$1"); do
        [ "$peer" = "$1" ] || echo "$peer"
    done | sort -u
}

# Which service reads KEYS_DIR/secrets/$1.key. Fails for a name no service claims, so a
# secret keygen starts to make is never handed out by guess.
secret_owner() {
    case $1 in
    auth_* | auth) echo auth ;;
    evidence_* | upload_url) echo evidence ;;
    audit_*) echo audit ;;
    privacy_*) echo privacy ;;
    missions_*) echo missions ;;
    *) return 1 ;;
    esac
}

# Services that talk to Redis (REDIS_URL, REDIS_PASSWORD_FILE).
svc_uses_redis() {
    case $1 in
    gateway | auth) return 0 ;;
    *) return 1 ;;
    esac
}
