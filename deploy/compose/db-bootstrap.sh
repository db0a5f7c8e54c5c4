#!/bin/sh
# db-bootstrap.sh - docker compose's one-shot database job (service "db-bootstrap").
#
# Runs scripts/db-bootstrap.sql against the compose PostgreSQL as its superuser: one role
# and one schema per service, passwords from the key job's files. The passwords reach psql
# on stdin as \set lines, never on a command line. Idempotent, like the script it runs.
set -eu

DIR=/keys/bootstrap
export PGPASSFILE=$DIR/pgpass
PSQL="psql -X -q -v ON_ERROR_STOP=1 -h postgres -p 5432 -U postgres"

# A single-quoted psql meta-command argument: backslash and quote are the only specials.
quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")"
}

# This cluster belongs to the stack alone: the service roles have no business in the
# maintenance database either (the bootstrap script leaves that to its caller).
$PSQL -d postgres -c 'REVOKE ALL ON DATABASE postgres FROM PUBLIC'

{
    for svc in auth missions evidence privacy audit; do
        printf '\\set %s_password %s\n' "$svc" "$(quote "$(head -n 1 "$DIR/$svc.password" | tr -d '\r\n')")"
    done
    cat /opt/db-bootstrap.sql
} | $PSQL -d app -f -

echo "db-bootstrap: roles and schemas in place"
