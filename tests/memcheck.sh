#!/usr/bin/env bash
# memcheck.sh - a short end-to-end run with every service under valgrind memcheck
#
#   tests/memcheck.sh BUILD BIN     e.g. build/release bin
#
# Starts a stack of BIN's services under BUILD/memcheck-run, each wrapped in valgrind
# (SERVICE_WRAPPER), drives one user through the API: sign-up, sign-in, missions
# create/list/get/update, an evidence upload and download, the export, a mission's
# deletion and the account's deletion; then stops the stack with SIGTERM. Fails when any
# service's valgrind reports an error or a definitely lost block, or did not finish
# (a service killed at the stop timeout prints no summary). Prints one line per service:
# errors and definitely/indirectly lost bytes. TEST_PORT_OFFSET moves the ports as in
# tests/run.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO_ROOT=$(pwd)
[ $# -eq 2 ] || { sed -n '3,4p' "$0" | sed 's/^# //'; exit 2; }
build=$1 bin=$2
command -v valgrind >/dev/null || { echo "memcheck: valgrind is not installed (apt-get install valgrind)"; exit 1; }

o=${TEST_PORT_OFFSET:-0}
export PG_PORT=$((55533 + o)) REDIS_PORT=$((56480 + o)) GATEWAY_HTTP_PORT=$((18080 + o)) \
       GATEWAY_HTTPS_PORT=$((18443 + o)) GATEWAY_METRICS_PORT=$((19100 + o)) \
       AUTH_PORT=$((17101 + o)) MISSIONS_PORT=$((17102 + o)) EVIDENCE_PORT=$((17103 + o)) \
       PRIVACY_PORT=$((17104 + o)) AUDIT_PORT=$((17105 + o))
export RUN_DIR=$REPO_ROOT/$build/memcheck-run BIN_DIR=$REPO_ROOT/$bin
export KEYS_DIR=$RUN_DIR/keys
# Everything runs tens of times slower under valgrind: deadlines, start-up and stop get room.
# A few HTTP threads are plenty for one client, and each is a thread valgrind must run.
# (one line: stack.sh splits it on blanks)
export SERVICE_WRAPPER="valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite --num-callers=30 --suppressions=$REPO_ROOT/tests/valgrind.supp"
export READY_TIMEOUT=600 STOP_TIMEOUT=180 BACKEND_TIMEOUT_MS=60000 REQUEST_TIMEOUT_MS=120000 \
       READY_TIMEOUT_MS=1500 DRAIN_TIMEOUT_MS=5000 GATEWAY_THREADS=8 SERVICE_WORKERS=2 \
       SERVICE_SLOW_WORKERS=1 RATE_LIMIT_LOGIN_FAILURES_PER_IP=100
base=http://127.0.0.1:$GATEWAY_HTTP_PORT
failed=0

say() { printf 'memcheck: %s\n' "$*"; }
fail() {
    say "FAILED: $*"
    failed=1
}

# call METHOD PATH [BODY [extra curl args...]]: the body into $out, the status into $code
call() {
    local method=$1 path=$2 body=${3:-}
    shift 3 2>/dev/null || shift $#
    local -a args=(-s --noproxy '*' --max-time 300 -o "$RUN_DIR/out" -w '%{http_code}' -X "$method")
    [ -n "${token:-}" ] && args+=(-H "Authorization: Bearer $token")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    code=$(curl "${args[@]}" "$@" "$base$path")
    out=$(head -c 4000 "$RUN_DIR/out")
}

# expect STEP WANT: checks $code after a call
expect() {
    [ "$code" = "$2" ] || fail "$1: $code (wanted $2) $out"
}

bash scripts/stack.sh down >/dev/null 2>&1
rm -rf "$RUN_DIR"
say "starting the stack under valgrind (slow: a minute or more)"
if ! bash scripts/stack.sh up >"$build/memcheck-up.log" 2>&1; then
    tail -30 "$build/memcheck-up.log"
    bash scripts/stack.sh down >/dev/null 2>&1
    say "FAILED: the stack did not start under valgrind (see $build/memcheck-up.log)"
    exit 1
fi

started=$SECONDS
email="memcheck-$RANDOM$RANDOM@example.com"
password="correct horse battery staple 42"
token=
call POST /api/v1/auth/register "{\"email\":\"$email\",\"password\":\"$password\",\"name\":\"Memcheck\"}"
expect sign-up 201
code=$(curl -s --noproxy '*' --max-time 300 -o "$RUN_DIR/out" -w '%{http_code}' \
    --data-urlencode grant_type=password --data-urlencode "username=$email" \
    --data-urlencode "password=$password" "$base/api/v1/auth/token")
out=$(cat "$RUN_DIR/out")
expect sign-in 200
token=$(jq -r .access_token <<<"$out" 2>/dev/null)

call POST /api/v1/missions '{"title":"Ridge survey","duration_minutes":90}' -H 'Idempotency-Key: memcheck-1'
expect "mission create" 201
mission=$(jq -r .id <<<"$out" 2>/dev/null)
call GET /api/v1/missions
expect "mission list" 200
call GET "/api/v1/missions/$mission"
expect "mission get" 200
call PATCH "/api/v1/missions/$mission" '{"status":"in_progress","description":"north face"}'
expect "mission update" 200

# A small PNG-looking file: the signature, then bytes
printf '\x89PNG\r\n\x1a\n' >"$RUN_DIR/upload.png"
head -c 70000 /dev/urandom >>"$RUN_DIR/upload.png"
size=$(stat -c %s "$RUN_DIR/upload.png")
call POST /api/v1/evidence/upload-url \
    "{\"mission_id\":\"$mission\",\"filename\":\"ridge.png\",\"content_type\":\"image/png\",\"size_bytes\":$size}"
expect "upload url" 201
evidence=$(jq -r .evidence_id <<<"$out" 2>/dev/null)
url=$(jq -r .upload_url <<<"$out" 2>/dev/null)
code=$(curl -s --noproxy '*' --max-time 300 -o "$RUN_DIR/out" -w '%{http_code}' -X PUT \
    -H 'Content-Type: image/png' --data-binary "@$RUN_DIR/upload.png" "$url")
out=$(head -c 2000 "$RUN_DIR/out")
expect upload 201
code=$(curl -s --noproxy '*' --max-time 300 -o "$RUN_DIR/download.png" -w '%{http_code}' \
    -H "Authorization: Bearer $token" "$base/api/v1/evidence/$evidence/content")
out=
expect download 200
cmp -s "$RUN_DIR/upload.png" "$RUN_DIR/download.png" || fail "download: not the bytes uploaded"

code=$(curl -s --noproxy '*' --max-time 300 -o "$RUN_DIR/export" -w '%{http_code}' \
    -H "Authorization: Bearer $token" "$base/api/v1/users/me/export")
out=$(head -c 2000 "$RUN_DIR/export")
expect export 200
call GET /api/v1/users/me/preferences
expect preferences 200

# A second mission goes on its own; the first goes with the account
call POST /api/v1/missions '{"title":"Spare","duration_minutes":5}'
expect "mission create" 201
call DELETE "/api/v1/missions/$(jq -r .id <<<"$out" 2>/dev/null)"
expect "mission delete" 204
call DELETE /api/v1/users/me
expect "account deletion" 202
# The deletion saga runs in the background: let it reach every service before the stop
deadline=$((SECONDS + 240))
until grep -q '"msg":"deletion completed"' "$RUN_DIR"/logs/privacy.log 2>/dev/null ||
    ((SECONDS >= deadline)); do
    sleep 2
done
say "API steps took $((SECONDS - started)) s"

say "stopping the stack (SIGTERM; valgrind checks for leaks on the way out)"
bash scripts/stack.sh down >"$build/memcheck-down.log" 2>&1
grep -q 'did not stop' "$build/memcheck-down.log" && fail "$(grep 'did not stop' "$build/memcheck-down.log" | head -3)"

# One line per service from valgrind's summary in its log
for svc in gateway auth missions evidence privacy audit; do
    log=$RUN_DIR/logs/$svc.log
    errors=$(grep -a 'ERROR SUMMARY:' "$log" | tail -1 | sed 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/' | tr -d ,)
    definite=$(grep -a 'definitely lost:' "$log" | tail -1 | sed 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/' | tr -d ,)
    indirect=$(grep -a 'indirectly lost:' "$log" | tail -1 | sed 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/' | tr -d ,)
    # No leak summary at all means nothing was lost ("All heap blocks were freed")
    if grep -aq 'All heap blocks were freed' "$log"; then definite=${definite:-0} indirect=${indirect:-0}; fi
    printf '  %-9s errors %s, definitely lost %s bytes, indirectly lost %s bytes\n' \
        "$svc" "${errors:-?}" "${definite:-?}" "${indirect:-?}"
    if [ -z "$errors" ]; then
        fail "$svc: no valgrind summary in $log (killed before it finished?)"
    elif [ "$errors" != 0 ] || [ "${definite:-0}" != 0 ]; then
        fail "$svc: see $log"
        grep -a -A25 -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|Source and|[0-9,]+ bytes in [0-9,]+ blocks are definitely)' "$log" | head -60
    fi
done
[ $failed = 0 ] && say "no memcheck errors, no definite leaks" || say "memcheck run failed"
exit $failed
