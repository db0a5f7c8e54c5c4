#!/bin/sh
# init-keys.sh - docker compose's one-shot key job (service "keys" in docker-compose.yml).
#
# Creates every missing key with bin/keygen under /keys/.generated (nothing existing is
# replaced), then gives each service a directory of its own holding only what it needs
# (deploy/service-keys.sh), owned by that service's user and closed to the others. It also
# prepares the PostgreSQL superuser password, Redis's ACL file and the ownership of the
# data volumes. Safe to run again: `docker compose run --rm keys` after
# `keygen --rotate-jwt` hands the new JWT key files to auth, which picks them up by itself.
#
# Runs as root with only CHOWN, DAC_OVERRIDE and FOWNER; prints file names, never keys.
set -eu
umask 077

. /opt/deploy/service-keys.sh

KEYS=/keys
GEN=$KEYS/.generated

# One user per service (docker-compose.yml sets the same numbers); 999 is the postgres
# and redis user of the official images.
svc_uid() {
    case $1 in
    gateway) echo 10001 ;;
    auth) echo 10002 ;;
    missions) echo 10003 ;;
    evidence) echo 10004 ;;
    privacy) echo 10005 ;;
    audit) echo 10006 ;;
    esac
}
DB_UID=999
REDIS_UID=999

# A random secret in $1 unless it is already there: 32 bytes, hex.
make_secret() {
    [ -s "$1" ] && return 0
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$1.tmp"
    echo >>"$1.tmp"
    mv -f "$1.tmp" "$1"
    echo "created $1"
}

# First line of a file, without its line end.
first_line() {
    head -n 1 "$1" | tr -d '\r\n'
}

# install SRC DST UID MODE: an atomic copy owned by UID.
put() {
    cp "$1" "$2.tmp"
    chown "$3:$3" "$2.tmp"
    chmod "$4" "$2.tmp"
    mv -f "$2.tmp" "$2"
}

# write DST UID MODE: stdin into DST, atomically.
write() {
    cat >"$1.tmp"
    chown "$2:$2" "$1.tmp"
    chmod "$3" "$1.tmp"
    mv -f "$1.tmp" "$1"
}

# A directory owned by UID, 0700.
own_dir() {
    mkdir -p "$1"
    chown "$2:$2" "$1"
    chmod 0700 "$1"
}

chmod 0711 "$KEYS"
mkdir -p "$GEN"
chmod 0700 "$GEN"
keygen --dir "$GEN"
make_secret "$GEN/redis.password"
make_secret "$GEN/postgres.password"

for svc in $SERVICES; do
    uid=$(svc_uid "$svc")
    dir=$KEYS/$svc
    own_dir "$dir" "$uid"
    put "$GEN/$svc.cert" "$dir/$svc.cert" "$uid" 0644
    put "$GEN/$svc.cert_secret" "$dir/$svc.cert_secret" "$uid" 0600
    for peer in $(svc_peer_certs "$svc"); do
        put "$GEN/$peer.cert" "$dir/$peer.cert" "$uid" 0644
    done
    case " $BACKENDS " in
    *" $svc "*) put "$GEN/db/$svc.password" "$dir/db.password" "$uid" 0600 ;;
    esac
    if svc_uses_redis "$svc"; then
        put "$GEN/redis.password" "$dir/redis.password" "$uid" 0600
    fi
done

# Service secrets go to the one service that reads them, at the default paths.
for file in "$GEN"/secrets/*.key; do
    [ -e "$file" ] || continue
    name=$(basename "$file" .key)
    if ! owner=$(secret_owner "$name"); then
        echo "init-keys: no service is known to read secrets/$name.key;" \
            "say which in deploy/service-keys.sh" >&2
        exit 1
    fi
    uid=$(svc_uid "$owner")
    own_dir "$KEYS/$owner/secrets" "$uid"
    put "$file" "$KEYS/$owner/secrets/$name.key" "$uid" 0600
done

# auth's JWT keys: the whole directory is replaced at once, so auth never sees half a set
# (its loader wants regular files of mode 0600 or stricter, which these are).
uid=$(svc_uid auth)
rm -rf "$KEYS/auth/jwt.new" "$KEYS/auth/jwt.old"
own_dir "$KEYS/auth/jwt.new" "$uid"
for file in "$GEN"/jwt/*.pem "$GEN"/jwt/rotation; do
    [ -e "$file" ] || continue
    put "$file" "$KEYS/auth/jwt.new/$(basename "$file")" "$uid" 0600
done
[ ! -d "$KEYS/auth/jwt" ] || mv "$KEYS/auth/jwt" "$KEYS/auth/jwt.old"
mv "$KEYS/auth/jwt.new" "$KEYS/auth/jwt"
rm -rf "$KEYS/auth/jwt.old"

# The database bootstrap job (user 999): the superuser's password file for psql and every
# service role's password.
own_dir "$KEYS/bootstrap" "$DB_UID"
printf 'postgres:5432:*:postgres:%s\n' "$(first_line "$GEN/postgres.password")" |
    write "$KEYS/bootstrap/pgpass" "$DB_UID" 0600
for svc in $BACKENDS; do
    put "$GEN/db/$svc.password" "$KEYS/bootstrap/$svc.password" "$DB_UID" 0600
done

# PostgreSQL reads its superuser password from here when it creates the cluster.
put "$GEN/postgres.password" /pg-secret/postgres.password "$DB_UID" 0600

# Redis gets only a SHA-256 of its password, in an ACL file.
printf 'user default on #%s ~* &* +@all\n' \
    "$(first_line "$GEN/redis.password" | tr -d '\n' | sha256sum | cut -d' ' -f1)" |
    write /redis-acl/users.acl "$REDIS_UID" 0600

# Data volumes belong to the service that writes them.
own_dir /data/evidence "$(svc_uid evidence)"
own_dir /data/audit-checkpoints "$(svc_uid audit)"
own_dir /data/gateway-spool "$(svc_uid gateway)"
own_dir /data/outbox "$(svc_uid auth)"

echo "keys ready in $KEYS (one directory per service)"
