#!/usr/bin/env bash
# stack.sh - a throwaway local stack: PostgreSQL, Redis and the six services, all under RUN_DIR.
#
#   stack.sh up                 start what is not running, wait for /readyz, print the URL
#   stack.sh run                up, then stay in the foreground; Ctrl-C (or SIGTERM) stops all
#   stack.sh down               stop everything that runs; the data stays for the next up
#   stack.sh start-service NAME | stop-service NAME | kill-service NAME
#   stack.sh env NAME           the variables NAME is started with, one KEY=value a line
#   stack.sh stop-redis | start-redis   Redis alone (tests of what happens while it is away)
#   stack.sh stop-postgres | start-postgres   PostgreSQL alone, same data and port (likewise)
#   stack.sh start-replica NAME INDEX PORT | stop-replica NAME INDEX | kill-replica NAME INDEX
#                               one more process of backend NAME, bound to 127.0.0.1:PORT
#
# NAME is one of: gateway auth missions evidence privacy audit.
# Every setting below (STOP_TIMEOUT too: seconds a service gets after SIGTERM) can be
# overridden from the environment, and any other variable the caller exports (RATE_LIMIT_*,
# ADMIN_EMAILS, SERVICE_WORKERS, ...) reaches the services as is.
# Relative paths are taken from the repository root. No secret is ever printed or passed on a
# command line; services get file names, not values.

# Started as `sh script`: everything below needs bash, so hand over to it.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

# Keys, passwords, logs and evidence are created here: private unless opened up on purpose.
umask 077

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

abspath() {
    (cd "$REPO_ROOT" && realpath -m -- "$1")
}

RUN_DIR=$(abspath "${RUN_DIR:-.run}")
BIN_DIR=$(abspath "${BIN_DIR:-bin}")
KEYS_DIR=$(abspath "${KEYS_DIR:-$RUN_DIR/keys}")
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_PORT=${PG_PORT:-55433}
REDIS_PORT=${REDIS_PORT:-56380}
GATEWAY_BIND_ADDRESS=${GATEWAY_BIND_ADDRESS:-127.0.0.1}
GATEWAY_HTTP_PORT=${GATEWAY_HTTP_PORT:-8080}
GATEWAY_HTTPS_PORT=${GATEWAY_HTTPS_PORT:-8443}
GATEWAY_METRICS_PORT=${GATEWAY_METRICS_PORT:-9100}
AUTH_PORT=${AUTH_PORT:-7101}
MISSIONS_PORT=${MISSIONS_PORT:-7102}
EVIDENCE_PORT=${EVIDENCE_PORT:-7103}
PRIVACY_PORT=${PRIVACY_PORT:-7104}
AUDIT_PORT=${AUDIT_PORT:-7105}
LOG_LEVEL=${LOG_LEVEL:-info}
SERVICE_WRAPPER=${SERVICE_WRAPPER:-}
READY_TIMEOUT=${READY_TIMEOUT:-60}

STOP_TIMEOUT=${STOP_TIMEOUT:-15}
DB_NAME=app
LOG_DIR=$RUN_DIR/logs
PID_DIR=$RUN_DIR/pids
REDIS_DIR=$RUN_DIR/redis
TLS_DIR=$RUN_DIR/tls
REDIS_PASSWORD_PATH=$KEYS_DIR/redis.password

# Start order: audit first so every other service can deliver its events at once; the
# gateway last so /readyz only turns green when the whole chain is there.
SERVICES=(audit auth missions evidence privacy gateway)
BACKENDS=(auth missions evidence privacy audit)

# The cluster runs as the postgres OS user when we are root (initdb refuses to run as root),
# otherwise as whoever runs this script.
if ((EUID == 0)); then
    PG_OS_USER=postgres
    as_pg() { (cd / && runuser -u "$PG_OS_USER" -- "$@"); }
else
    PG_OS_USER=$(id -un)
    as_pg() { (cd / && "$@"); }
fi

# Filled in by pg_locate: where the cluster and its socket really are (see pg_prepare_dirs).
PG_DATA=
PG_SOCK=

# What the EXIT trap does: nothing, stop everything on failure (up), or always (run).
STOP_ON_EXIT=never
SLEEP_PID=
STOPPED=0

say() { printf 'stack: %s\n' "$*"; }
warn() { printf 'stack: %s\n' "$*" >&2; }
die() {
    printf 'stack: error: %s\n' "$*" >&2
    exit 1
}

usage() {
    sed -n '3,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

check_settings() {
    local name
    for name in PG_PORT REDIS_PORT GATEWAY_HTTP_PORT GATEWAY_HTTPS_PORT GATEWAY_METRICS_PORT \
        AUTH_PORT MISSIONS_PORT EVIDENCE_PORT PRIVACY_PORT AUDIT_PORT; do
        if [[ ! ${!name} =~ ^[1-9][0-9]{0,4}$ ]] || ((${!name} > 65535)); then
            die "$name must be a TCP port number, not '${!name}'"
        fi
    done
    [[ $READY_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "READY_TIMEOUT must be a number of seconds"
}

is_service() {
    local svc
    for svc in "${SERVICES[@]}"; do
        [[ $1 == "$svc" ]] && return 0
    done
    return 1
}

is_backend() {
    [[ $1 != gateway ]]
}

# The first line of a secret file, without its line end; the value never leaves this process
# except through stdin of a child.
read_secret() {
    local value=''
    [[ -r $1 ]] || die "cannot read $1"
    IFS= read -r value <"$1" || true
    value=${value%$'\r'}
    [[ -n $value ]] || die "$1 is empty"
    printf '%s' "$value"
}

# A host name curl can reach for a bind address ("any" binds are reached on loopback).
connect_host() {
    case $GATEWAY_BIND_ADDRESS in
    0.0.0.0 | '') echo 127.0.0.1 ;;
    :: | '[::]') echo '[::1]' ;;
    \[*) echo "$GATEWAY_BIND_ADDRESS" ;;
    *:*) echo "[$GATEWAY_BIND_ADDRESS]" ;;
    *) echo "$GATEWAY_BIND_ADDRESS" ;;
    esac
}

base_url() {
    echo "http://$(connect_host):$GATEWAY_HTTP_PORT"
}

# Refuses a port some other process already listens on: a service that cannot bind fails
# in confusing ways later, and a client of ours could end up talking to the stranger.
require_free_port() {
    local name=$1 port=$2 host=${3:-127.0.0.1}
    host=${host#[}
    host=${host%]}
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
        die "$name $port on $host is already in use by another process" \
            "(another stack? stop it or set $name)"
    fi
}

# ---------------------------------------------------------------------------------------
# Processes. A pid file alone cannot tell our service from an unrelated process that got
# the same pid after a reboot or a crash, so the kernel start time is kept beside it.

proc_starttime() {
    local stat state
    local -a fields
    { stat=$(</proc/"$1"/stat); } 2>/dev/null || return 1
    # The command name in field 2 may contain spaces and parentheses; skip past it.
    read -r -a fields <<<"${stat##*) }"
    state=${fields[0]}
    [[ $state != Z && $state != X ]] || return 1
    printf '%s\n' "${fields[19]}"
}

# Prints the pid of a running service; fails when it is not running.
svc_pid() {
    local svc=$1 pid='' start='' now
    [[ -f $PID_DIR/$svc.pid ]] || return 1
    read -r pid <"$PID_DIR/$svc.pid" || true
    [[ $pid =~ ^[1-9][0-9]*$ ]] || return 1
    [[ -f $PID_DIR/$svc.start ]] && { read -r start <"$PID_DIR/$svc.start" || true; }
    now=$(proc_starttime "$pid") || return 1
    [[ -z $start || $now == "$start" ]] || return 1
    printf '%s\n' "$pid"
}

# Waits for a pid to go away; fails if it is still there after $2 seconds.
wait_gone() {
    local pid=$1 start=$2 deadline=$((SECONDS + $3)) now
    while now=$(proc_starttime "$pid") && [[ -z $start || $now == "$start" ]]; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
    return 0
}

# ---------------------------------------------------------------------------------------
# Keys and TLS.

require_tools() {
    local tool missing=()
    for tool in "$PG_BIN/initdb" "$PG_BIN/pg_ctl" "$PG_BIN/psql" redis-server redis-cli \
        openssl curl setsid realpath; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    if ((EUID == 0)) && ! command -v runuser >/dev/null 2>&1; then
        missing+=(runuser)
    fi
    ((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (run scripts/deps.sh as root)"
}

require_binaries() {
    local svc missing=()
    # keygen first and on its own: keys and database passwords come from it.
    [[ -x $BIN_DIR/keygen ]] ||
        die "$BIN_DIR/keygen not found or not executable; build it first (make), or set BIN_DIR"
    for svc in "${SERVICES[@]}"; do
        [[ -x $BIN_DIR/$svc ]] || missing+=("$svc")
    done
    ((${#missing[@]} == 0)) ||
        die "not found or not executable in $BIN_DIR: ${missing[*]} (build them with make)"
}

make_dirs() {
    # Others may traverse RUN_DIR (the postgres user must reach its cluster), never list it.
    if [[ ! -d $RUN_DIR ]]; then
        (umask 022 && mkdir -p -- "$(dirname -- "$RUN_DIR")")
        mkdir -m 0711 -- "$RUN_DIR"
    fi
    mkdir -p "$LOG_DIR" "$PID_DIR" "$REDIS_DIR" "$TLS_DIR" "$KEYS_DIR" \
        "${MAIL_OUTBOX_DIR:-$RUN_DIR/outbox}" "${EVIDENCE_DIR:-$RUN_DIR/evidence}" \
        "${AUDIT_CHECKPOINT_DIR:-$RUN_DIR/audit-checkpoints}" \
        "${GATEWAY_AUDIT_SPOOL_DIR:-$RUN_DIR/gateway-spool}"
}

make_keys() {
    local svc file missing=()

    # keygen only fills in what is missing, so running it on every up is how a partly
    # deleted key directory heals. Its chatter goes to a log; only failures are shown.
    if ! "$BIN_DIR/keygen" --dir "$KEYS_DIR" >>"$LOG_DIR/keygen.log" 2>&1; then
        tail -n 20 "$LOG_DIR/keygen.log" >&2 || true
        die "keygen failed (log: $LOG_DIR/keygen.log)"
    fi
    for svc in "${SERVICES[@]}"; do
        for file in "$svc.cert" "$svc.cert_secret"; do
            [[ -s $KEYS_DIR/$file ]] || missing+=("$file")
        done
    done
    for svc in "${BACKENDS[@]}"; do
        [[ -s $KEYS_DIR/db/$svc.password ]] || missing+=("db/$svc.password")
    done
    ((${#missing[@]} == 0)) || die "keygen left out in $KEYS_DIR: ${missing[*]}"

    if [[ ! -s $REDIS_PASSWORD_PATH ]]; then
        openssl rand -hex 32 >"$REDIS_PASSWORD_PATH.tmp"
        chmod 0600 "$REDIS_PASSWORD_PATH.tmp"
        mv -f "$REDIS_PASSWORD_PATH.tmp" "$REDIS_PASSWORD_PATH"
    fi
}

make_tls() {
    [[ -s $TLS_DIR/server.crt && -s $TLS_DIR/server.key ]] && return 0
    # Written beside the final names and renamed, so an interrupted run never leaves a
    # certificate without its key.
    if ! openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
        -days 365 -subj /CN=localhost \
        -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
        -addext 'extendedKeyUsage=serverAuth' \
        -keyout "$TLS_DIR/server.key.tmp" -out "$TLS_DIR/server.crt.tmp" \
        >>"$LOG_DIR/openssl.log" 2>&1; then
        die "could not create the TLS pair (log: $LOG_DIR/openssl.log)"
    fi
    chmod 0600 "$TLS_DIR/server.key.tmp"
    chmod 0644 "$TLS_DIR/server.crt.tmp"
    mv -f "$TLS_DIR/server.key.tmp" "$TLS_DIR/server.key"
    mv -f "$TLS_DIR/server.crt.tmp" "$TLS_DIR/server.crt"
}

# ---------------------------------------------------------------------------------------
# PostgreSQL.

# Where the cluster lives: $RUN_DIR/pg and $RUN_DIR/pgsock, or, when those are symlinks
# (see pg_prepare_dirs), wherever they point.
pg_locate() {
    if [[ -L $RUN_DIR/pg ]]; then
        PG_DATA=$(readlink -f -- "$RUN_DIR/pg")
        PG_SOCK=$(readlink -f -- "$RUN_DIR/pgsock")
    else
        PG_DATA=$RUN_DIR/pg
        PG_SOCK=$RUN_DIR/pgsock
    fi
}

pg_running() {
    [[ -f $PG_DATA/PG_VERSION ]] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

# The cluster normally lives in RUN_DIR. Two things can rule that out: as root, the postgres
# user may be unable to reach RUN_DIR (a clone under a 0700 home), and a deep RUN_DIR makes
# the socket path longer than the 107 bytes a unix socket name allows. Then the cluster
# goes to a private directory in /tmp named after RUN_DIR, linked from RUN_DIR.
pg_prepare_dirs() {
    local reachable=1 sock_path="$RUN_DIR/pgsock/.s.PGSQL.$PG_PORT" base hash owner

    # Links into a /tmp that has since been cleaned (a reboot): start over.
    if [[ -L $RUN_DIR/pg && ! -e $RUN_DIR/pg ]]; then
        rm -f -- "$RUN_DIR/pg" "$RUN_DIR/pgsock"
    fi
    if ((EUID == 0)); then
        id -u "$PG_OS_USER" >/dev/null 2>&1 ||
            die "no '$PG_OS_USER' OS user; is PostgreSQL installed? (scripts/deps.sh)"
        as_pg test -x "$RUN_DIR" || reachable=0
    fi

    if [[ -e $RUN_DIR/pg && ! -L $RUN_DIR/pg ]]; then
        ((reachable)) || die "the '$PG_OS_USER' user cannot reach $RUN_DIR/pg;" \
            "make the parents of RUN_DIR traversable (chmod o+x) or use another RUN_DIR"
    elif [[ ! -e $RUN_DIR/pg ]] && { ((!reachable)) || ((${#sock_path} > 107)); }; then
        hash=$(printf '%s' "$RUN_DIR" | sha256sum | cut -c1-16)
        base=/tmp/stack-pg.$hash
        if [[ -e $base || -L $base ]]; then
            owner=$(stat -c %U -- "$base")
            [[ -d $base && ! -L $base && $owner == "$PG_OS_USER" ]] ||
                die "$base exists but is not a directory owned by $PG_OS_USER; remove it"
            # Left over from a RUN_DIR that was deleted: that was a request for a fresh
            # stack, so its cluster goes too (stopped first if it still runs).
            if [[ -f $base/data/PG_VERSION ]] &&
                as_pg "$PG_BIN/pg_ctl" -D "$base/data" status >/dev/null 2>&1; then
                as_pg "$PG_BIN/pg_ctl" -D "$base/data" -m fast -w stop >/dev/null 2>&1 || true
            fi
            rm -rf -- "$base"
        fi
        mkdir -m 0700 -- "$base"
        mkdir -m 0700 -- "$base/data" "$base/sock"
        ((EUID != 0)) || chown -R "$PG_OS_USER:" "$base"
        ln -sfn -- "$base/data" "$RUN_DIR/pg"
        ln -sfn -- "$base/sock" "$RUN_DIR/pgsock"
        say "PostgreSQL cluster placed in $base (linked from $RUN_DIR/pg)"
    fi

    pg_locate
    [[ -d $PG_DATA ]] || mkdir -m 0700 -- "$PG_DATA"
    [[ -d $PG_SOCK ]] || mkdir -m 0700 -- "$PG_SOCK"
    ((EUID != 0)) || chown "$PG_OS_USER:" "$PG_DATA" "$PG_SOCK"
}

# A single-quoted value for postgresql.conf, where backslash escapes too.
pg_conf_quote() {
    local v=${1//\\/\\\\}
    printf "'%s'" "${v//\'/\'\'}"
}

pg_init() {
    [[ -f $PG_DATA/PG_VERSION ]] && return 0
    [[ -z $(ls -A -- "$PG_DATA") ]] ||
        die "$PG_DATA holds files but no cluster (an interrupted initdb?); remove it and retry"
    say "creating PostgreSQL cluster in $PG_DATA"
    if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 --data-checksums \
        >>"$LOG_DIR/postgres.log" 2>&1; then
        tail -n 20 "$LOG_DIR/postgres.log" >&2 || true
        die "initdb failed (log: $LOG_DIR/postgres.log)"
    fi
    # Settings that depend on this run (ports, paths) live in a file rewritten on every up;
    # a config file keeps paths with spaces intact, which pg_ctl -o would not.
    printf "\n# written by scripts/stack.sh on every start\ninclude_if_exists = 'stack.conf'\n" \
        >>"$PG_DATA/postgresql.conf"
}

pg_start() {
    if pg_running; then
        say "PostgreSQL already running on 127.0.0.1:$PG_PORT"
        return 0
    fi

    # Local socket connections are trusted, so the socket is what guards the superuser:
    # only the cluster's owner may open it.
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $PG_PORT"
        echo "unix_socket_directories = $(pg_conf_quote "$PG_SOCK")"
        echo "unix_socket_permissions = 0700"
        echo "password_encryption = 'scram-sha-256'"
        echo "log_line_prefix = '%m [%p] %q%u@%d '"
    } >"$PG_DATA/stack.conf"
    ((EUID != 0)) || chown "$PG_OS_USER:" "$PG_DATA/stack.conf"
    require_free_port PG_PORT "$PG_PORT"

    # No -l: the server inherits this script's log file descriptor, so the postgres user
    # never needs write access to RUN_DIR/logs.
    if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -t 60 start >>"$LOG_DIR/postgres.log" 2>&1 \
        </dev/null; then
        tail -n 20 "$LOG_DIR/postgres.log" >&2 || true
        die "PostgreSQL did not start (log: $LOG_DIR/postgres.log)"
    fi
    say "PostgreSQL listening on 127.0.0.1:$PG_PORT"
}

pg_psql() {
    as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres "$@"
}

# A single-quoted psql meta-command argument: backslash and quote are the only specials.
psql_quote() {
    local v=${1//\\/\\\\}
    printf "'%s'" "${v//\'/\'\'}"
}

pg_bootstrap() {
    local svc exists secret

    exists=$(pg_psql -d postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")
    [[ $exists == 1 ]] || pg_psql -d postgres -c "CREATE DATABASE $DB_NAME"
    # The service roles have no business in the maintenance database either; this cluster
    # is ours alone, so it can be closed here (the bootstrap script leaves it to its caller).
    pg_psql -d postgres -c "REVOKE ALL ON DATABASE postgres FROM PUBLIC"

    # The passwords travel on psql's stdin as \set lines ahead of the script rather than as
    # -v arguments, which any local user could read in the process list.
    {
        for svc in "${BACKENDS[@]}"; do
            secret=$(read_secret "$KEYS_DIR/db/$svc.password")
            printf '\\set %s_password %s\n' "$svc" "$(psql_quote "$secret")"
        done
        cat "$REPO_ROOT/scripts/db-bootstrap.sql"
    } | pg_psql -d "$DB_NAME" -f - || die "scripts/db-bootstrap.sql failed"
}

pg_stop() {
    pg_locate
    pg_running || return 0
    say "stopping PostgreSQL"
    STOPPED=$((STOPPED + 1))
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >>"$LOG_DIR/postgres.log" 2>&1 ||
        warn "pg_ctl stop failed (log: $LOG_DIR/postgres.log)"
}

# ---------------------------------------------------------------------------------------
# Redis.

redis_pid() {
    local pid=''
    [[ -f $PID_DIR/redis.pid ]] || return 1
    read -r pid <"$PID_DIR/redis.pid" || true
    [[ $pid =~ ^[1-9][0-9]*$ ]] || return 1
    proc_starttime "$pid" >/dev/null || return 1
    [[ $(cat /proc/"$pid"/comm 2>/dev/null) == redis-server ]] || return 1
    printf '%s\n' "$pid"
}

redis_ping() {
    # The password goes through the environment, not argv.
    REDISCLI_AUTH=$(read_secret "$REDIS_PASSWORD_PATH") \
        redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -qx PONG
}

# A double-quoted value for redis.conf.
redis_conf_quote() {
    local v=${1//\\/\\\\}
    printf '"%s"' "${v//\"/\\\"}"
}

redis_start() {
    local deadline

    if ! redis_pid >/dev/null; then
        require_free_port REDIS_PORT "$REDIS_PORT"
        # A config file rather than --requirepass: arguments are visible to every local user.
        {
            echo "bind 127.0.0.1"
            echo "port $REDIS_PORT"
            echo "protected-mode yes"
            echo "dir $(redis_conf_quote "$REDIS_DIR")"
            echo "appendonly yes"
            echo "daemonize yes"
            echo "pidfile $(redis_conf_quote "$PID_DIR/redis.pid")"
            echo "logfile $(redis_conf_quote "$LOG_DIR/redis.log")"
            echo "requirepass $(redis_conf_quote "$(read_secret "$REDIS_PASSWORD_PATH")")"
        } >"$REDIS_DIR/redis.conf"
        redis-server "$REDIS_DIR/redis.conf" </dev/null >>"$LOG_DIR/redis.log" 2>&1 ||
            die "redis-server failed (log: $LOG_DIR/redis.log)"
    fi

    deadline=$((SECONDS + 10))
    until redis_ping; do
        if ((SECONDS >= deadline)); then
            tail -n 20 "$LOG_DIR/redis.log" >&2 || true
            die "Redis does not answer on 127.0.0.1:$REDIS_PORT (log: $LOG_DIR/redis.log)"
        fi
        sleep 0.1
    done
    say "Redis listening on 127.0.0.1:$REDIS_PORT"
}

redis_stop() {
    local pid start
    pid=$(redis_pid) || return 0
    start=$(proc_starttime "$pid") || return 0
    say "stopping Redis"
    STOPPED=$((STOPPED + 1))
    # SIGTERM makes Redis flush its append-only file and exit; no password needed for that.
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$start" "$STOP_TIMEOUT"; then
        warn "Redis did not stop within ${STOP_TIMEOUT}s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" "$start" 5 || true
    fi
    rm -f -- "$PID_DIR/redis.pid"
}

# ---------------------------------------------------------------------------------------
# Services.

# SVC_ENV: the variables a service is started with, caller overrides winning.
build_env() {
    local svc=$1 upper name
    SVC_ENV=(
        "LOG_LEVEL=$LOG_LEVEL"
        "KEYS_DIR=$KEYS_DIR"
    )
    for name in "${BACKENDS[@]}"; do
        upper=${name^^}
        local port_var=${upper}_PORT endpoints_var=${upper}_ENDPOINTS bind_var=${upper}_BIND
        SVC_ENV+=(
            "$endpoints_var=${!endpoints_var:-tcp://127.0.0.1:${!port_var}}"
            "$bind_var=${!bind_var:-tcp://127.0.0.1:${!port_var}}"
        )
    done
    SVC_ENV+=(
        "REDIS_URL=${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}"
        "REDIS_PASSWORD_FILE=${REDIS_PASSWORD_FILE:-$REDIS_PASSWORD_PATH}"
        "GATEWAY_BIND_ADDRESS=$GATEWAY_BIND_ADDRESS"
        "GATEWAY_HTTP_PORT=$GATEWAY_HTTP_PORT"
        "GATEWAY_HTTPS_PORT=$GATEWAY_HTTPS_PORT"
        "GATEWAY_METRICS_PORT=$GATEWAY_METRICS_PORT"
        "TLS_CERT_FILE=${TLS_CERT_FILE:-$TLS_DIR/server.crt}"
        "TLS_KEY_FILE=${TLS_KEY_FILE:-$TLS_DIR/server.key}"
        "MAIL_OUTBOX_DIR=${MAIL_OUTBOX_DIR:-$RUN_DIR/outbox}"
        "EVIDENCE_DIR=${EVIDENCE_DIR:-$RUN_DIR/evidence}"
        "AUDIT_CHECKPOINT_DIR=${AUDIT_CHECKPOINT_DIR:-$RUN_DIR/audit-checkpoints}"
        "GATEWAY_AUDIT_SPOOL_DIR=${GATEWAY_AUDIT_SPOOL_DIR:-$RUN_DIR/gateway-spool}"
    )
    # Each backend gets its own role; one DATABASE_URL in the caller's environment could
    # only be right for one of them, so these are always set here.
    if is_backend "$svc"; then
        SVC_ENV+=(
            "DATABASE_URL=postgresql://${svc}_svc@127.0.0.1:$PG_PORT/$DB_NAME"
            "DATABASE_PASSWORD_FILE=$KEYS_DIR/db/$svc.password"
        )
    fi
}

start_service() {
    local svc=$1 pid start port_var
    local -a wrapper=() unset_vars=()

    if pid=$(svc_pid "$svc"); then
        say "$svc already running (pid $pid)"
        return 0
    fi
    [[ -x $BIN_DIR/$svc ]] || die "$BIN_DIR/$svc not found or not executable (build it with make)"
    if is_backend "$svc"; then
        port_var=${svc^^}_PORT
        require_free_port "$port_var" "${!port_var}"
    else
        for port_var in GATEWAY_HTTP_PORT GATEWAY_HTTPS_PORT GATEWAY_METRICS_PORT; do
            require_free_port "$port_var" "${!port_var}" "$(connect_host)"
        done
    fi
    build_env "$svc"
    read -r -a wrapper <<<"$SERVICE_WRAPPER"
    # The gateway has no database; don't let a caller's DATABASE_* reach it by accident.
    is_backend "$svc" || unset_vars=(-u DATABASE_URL -u DATABASE_PASSWORD_FILE)

    # setsid: a session of its own, so a Ctrl-C in the terminal reaches this script (which
    # stops services in order) rather than every service at once, and the whole process
    # group can be signalled. env --default-signal undoes the SIGINT/SIGQUIT ignore that
    # bash imposes on background jobs.
    setsid env --default-signal "${unset_vars[@]}" "${SVC_ENV[@]}" \
        "${wrapper[@]}" "$BIN_DIR/$svc" </dev/null >>"$LOG_DIR/$svc.log" 2>&1 &
    pid=$!
    # Out of the job table: this script watches the pid file, and bash would otherwise
    # print its own "Killed" notice when a test kills a service.
    disown "$pid" 2>/dev/null || true
    start=$(proc_starttime "$pid") || start=
    printf '%s\n' "$pid" >"$PID_DIR/$svc.pid"
    printf '%s\n' "$start" >"$PID_DIR/$svc.start"
    say "started $svc (pid $pid, log $LOG_DIR/$svc.log)"
}

# Signals the service's whole process group (a wrapper such as valgrind may have children).
signal_service() {
    local svc=$1 sig=$2 pid
    pid=$(svc_pid "$svc") || return 1
    kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid" 2>/dev/null || true
}

stop_service() {
    local svc=$1 pid start
    if ! pid=$(svc_pid "$svc"); then
        rm -f -- "$PID_DIR/$svc.pid" "$PID_DIR/$svc.start"
        return 0
    fi
    start=$(proc_starttime "$pid") || start=
    say "stopping $svc (pid $pid)"
    STOPPED=$((STOPPED + 1))
    signal_service "$svc" TERM || true
    if ! wait_gone "$pid" "$start" "$STOP_TIMEOUT"; then
        warn "$svc did not stop within ${STOP_TIMEOUT}s; killing it"
        signal_service "$svc" KILL || true
        wait_gone "$pid" "$start" 5 || warn "$svc (pid $pid) is still there"
    fi
    rm -f -- "$PID_DIR/$svc.pid" "$PID_DIR/$svc.start"
}

kill_service() {
    local svc=$1 pid start
    pid=$(svc_pid "$svc") || { say "$svc is not running"; return 0; }
    start=$(proc_starttime "$pid") || start=
    signal_service "$svc" KILL || true
    wait_gone "$pid" "$start" 5 || warn "$svc (pid $pid) is still there"
    rm -f -- "$PID_DIR/$svc.pid" "$PID_DIR/$svc.start"
    say "killed $svc (pid $pid)"
}

# ---------------------------------------------------------------------------------------
# Replicas: more processes of a backend beside the stack's own, each bound to a port of its
# own (tests of scaling list them all in a gateway's *_ENDPOINTS). A replica shares the
# backend's role, schema and keys like any replica; NAME-INDEX names its pid files and its
# log ($LOG_DIR/NAME-INDEX.log). `down` stops replicas too.

# Checks NAME INDEX and prints the replica's id, NAME-INDEX.
replica_id() {
    local svc=$1 index=$2
    if ! is_service "$svc" || ! is_backend "$svc"; then
        die "replicas are of backends: NAME is one of ${BACKENDS[*]}, not '$svc'"
    fi
    [[ $index =~ ^[1-9][0-9]{0,2}$ ]] || die "INDEX must be a number from 1 to 999, not '$index'"
    printf '%s-%s\n' "$svc" "$index"
}

start_replica() {
    local svc=$1 port=$3 id pid start
    local -a wrapper=()
    id=$(replica_id "$svc" "$2")
    if [[ ! $port =~ ^[1-9][0-9]{0,4}$ ]] || ((port > 65535)); then
        die "PORT must be a TCP port number, not '$port'"
    fi
    if pid=$(svc_pid "$id"); then
        say "$id already running (pid $pid)"
        return 0
    fi
    [[ -x $BIN_DIR/$svc ]] || die "$BIN_DIR/$svc not found or not executable (build it with make)"
    require_free_port "the port of $id" "$port"
    build_env "$svc"
    # Later assignments win in env(1): only the bind address differs from the backend's
    SVC_ENV+=("${svc^^}_BIND=tcp://127.0.0.1:$port")
    read -r -a wrapper <<<"$SERVICE_WRAPPER"
    # As start_service does: a session of its own, default signals, out of the job table.
    setsid env --default-signal "${SVC_ENV[@]}" \
        "${wrapper[@]}" "$BIN_DIR/$svc" </dev/null >>"$LOG_DIR/$id.log" 2>&1 &
    pid=$!
    disown "$pid" 2>/dev/null || true
    start=$(proc_starttime "$pid") || start=
    printf '%s\n' "$pid" >"$PID_DIR/$id.pid"
    printf '%s\n' "$start" >"$PID_DIR/$id.start"
    say "started $id on 127.0.0.1:$port (pid $pid, log $LOG_DIR/$id.log)"
}

# Stops every replica that has a pid file.
stop_replicas() {
    local file id
    for file in "$PID_DIR"/*-*.pid; do
        [[ -e $file ]] || continue
        id=$(basename -- "$file" .pid)
        if [[ $id =~ ^[a-z]+-[1-9][0-9]*$ ]] && is_service "${id%-*}" && is_backend "${id%-*}"; then
            stop_service "$id"
        fi
    done
}

# Polls /readyz; gives up early when a service has already died, since it cannot recover.
wait_ready() {
    local url deadline code svc
    url="$(base_url)/readyz"
    deadline=$((SECONDS + READY_TIMEOUT))
    while ((SECONDS < deadline)); do
        code=$(curl -s --noproxy '*' --max-time 2 -o /dev/null -w '%{http_code}' "$url" || true)
        [[ $code == 200 ]] && return 0
        for svc in "${SERVICES[@]}"; do
            if ! svc_pid "$svc" >/dev/null; then
                warn "$svc exited during start-up"
                return 1
            fi
        done
        sleep 0.2
    done
    warn "$url not ready after ${READY_TIMEOUT}s"
    return 1
}

report_not_ready() {
    local svc body
    body=$(curl -s --noproxy '*' --max-time 2 "$(base_url)/readyz" 2>/dev/null | head -c 2000 || true)
    warn "readyz answered: ${body:-(nothing)}"
    for svc in "${SERVICES[@]}"; do
        [[ -s $LOG_DIR/$svc.log ]] || continue
        printf '\n==> %s <==\n' "$LOG_DIR/$svc.log" >&2
        tail -n 20 -- "$LOG_DIR/$svc.log" >&2 || true
    done
    echo >&2
}

# ---------------------------------------------------------------------------------------
# Subcommands.

# $1: when the EXIT trap stops everything again (failure for up, always for run). Armed only
# once the checks passed, so a missing binary does not stop a stack that was running fine.
cmd_up() {
    local svc
    require_tools
    require_binaries
    STOP_ON_EXIT=$1
    make_dirs
    make_keys
    make_tls
    pg_prepare_dirs
    pg_init
    pg_start
    pg_bootstrap
    redis_start
    for svc in "${SERVICES[@]}"; do
        start_service "$svc"
    done
    if ! wait_ready; then
        report_not_ready
        die "stack not ready; stopping it"
    fi
    echo "stack ready: $(base_url)"
    echo "logs: $LOG_DIR"
}

cmd_down() {
    local i
    stop_replicas
    # Gateway first so no new request arrives; audit last so it takes everyone's last events.
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
        stop_service "${SERVICES[i]}"
    done
    redis_stop
    pg_stop
    if ((STOPPED)); then
        say "stack stopped (data kept in $RUN_DIR)"
    else
        say "nothing was running"
    fi
}

cmd_run() {
    local svc pid
    local -A alive=()
    cmd_up always
    say "running; Ctrl-C stops the stack"
    for svc in "${SERVICES[@]}"; do alive[$svc]=1; done
    while :; do
        # A background sleep + wait lets the INT/TERM trap run at once instead of after
        # the sleep.
        sleep 1 &
        SLEEP_PID=$!
        wait "$SLEEP_PID" || true
        SLEEP_PID=
        for svc in "${SERVICES[@]}"; do
            if pid=$(svc_pid "$svc"); then
                alive[$svc]=1
            elif ((alive[$svc])); then
                alive[$svc]=0
                warn "$svc exited (log: $LOG_DIR/$svc.log)"
            fi
        done
    done
}

on_exit() {
    local rc=$?
    if [[ $STOP_ON_EXIT == always || ($STOP_ON_EXIT == failure && $rc != 0) ]]; then
        # A second Ctrl-C must not cut the shutdown short and leave processes behind.
        trap '' INT TERM
        [[ -z $SLEEP_PID ]] || kill "$SLEEP_PID" 2>/dev/null || true
        cmd_down || true
    fi
    exit "$rc"
}

main() {
    local cmd=${1:-}
    check_settings
    case $cmd in
    up | run | down | env | start-service | stop-service | kill-service | stop-redis | start-redis) ;;
    stop-postgres | start-postgres) ;;
    start-replica | stop-replica | kill-replica) ;;
    -h | --help | help)
        usage
        return 0
        ;;
    *)
        usage >&2
        return 2
        ;;
    esac

    if [[ $cmd == env || $cmd == *-service ]]; then
        if [[ $# -ne 2 ]] || ! is_service "$2"; then
            die "usage: stack.sh $cmd NAME (one of: ${SERVICES[*]})"
        fi
    elif [[ $cmd == start-replica ]]; then
        [[ $# -eq 4 ]] || die "usage: stack.sh $cmd NAME INDEX PORT (NAME one of: ${BACKENDS[*]})"
    elif [[ $cmd == *-replica ]]; then
        [[ $# -eq 3 ]] || die "usage: stack.sh $cmd NAME INDEX (NAME one of: ${BACKENDS[*]})"
    else
        [[ $# -eq 1 ]] || die "usage: stack.sh $cmd"
    fi

    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    case $cmd in
    up) cmd_up failure ;;
    run)
        # Stopping on INT/TERM is the normal way out of run, not a failure.
        trap 'exit 0' INT TERM
        cmd_run
        ;;
    down) cmd_down ;;
    env)
        build_env "$2"
        printf '%s\n' "${SVC_ENV[@]}"
        ;;
    start-service)
        mkdir -p "$LOG_DIR" "$PID_DIR"
        start_service "$2"
        ;;
    stop-service) stop_service "$2" ;;
    kill-service) kill_service "$2" ;;
    stop-redis) redis_stop ;;
    start-redis)
        mkdir -p "$LOG_DIR" "$PID_DIR"
        redis_start
        ;;
    stop-postgres) pg_stop ;;
    start-postgres)
        # The cluster `up` made: same data directory, same port, no bootstrap
        mkdir -p "$LOG_DIR" "$PID_DIR"
        pg_locate
        [[ -f $PG_DATA/PG_VERSION ]] || die "no PostgreSQL cluster in $PG_DATA (run stack.sh up first)"
        pg_start
        ;;
    start-replica)
        mkdir -p "$LOG_DIR" "$PID_DIR"
        start_replica "$2" "$3" "$4"
        ;;
    stop-replica | kill-replica)
        local id
        id=$(replica_id "$2" "$3")
        "${cmd%-replica}_service" "$id"
        ;;
    esac
}

main "$@"
