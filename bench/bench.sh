#!/usr/bin/env bash
# bench.sh - the stack under wrk, beside the FastAPI reference it replaces, in one run
#
#   bench/bench.sh          (`make bench`) prints one line per measurement and a table;
#                           everything (wrk output, server logs, results.txt) is kept
#                           under build/bench/<time>/
#
# Both stacks run at once on their own ports, each with its own PostgreSQL and Redis and
# with rate limits far above the load; the scenarios alternate between them, round after
# round, so a machine that gets busier or quieter meanwhile affects both alike.
#
#   missions_list, mission_get, missions_create   the shared harness (BENCH_HARNESS), both
#   login            password grant, LOGIN_CONNECTIONS connections, both
#   refresh          refresh-token rotation, this stack only (the reference has none)
#   list_during_logins  missions_list while LOGIN_CONNECTIONS sign in without pause
#   argon2_rate      bare password checks/s at auth's parameters on SERVICE_SLOW_WORKERS threads
#   rss              resident memory of each service: idle, and its peak after the load
#   split_*          missions_list and missions_create once more on this stack, with the
#                    CPU per request of each process
#
# Env: ROUNDS (2) DURATION (10) WARMUP (2) THREADS (2) CONNECTIONS (64) LOGIN_CONNECTIONS (8)
#      BENCH_HARNESS (../shared/bench/run)  FASTAPI_REF (../shared/anchors/fastapi_ref; set it
#      empty to measure this stack alone)  BENCH_PORT_BASE (20000: every port moved up by it; keep them below 32768)
set -uo pipefail
cd "$(dirname "$0")/.."
REPO_ROOT=$(pwd -P)

ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
LOGIN_CONNECTIONS=${LOGIN_CONNECTIONS:-8}
BENCH_HARNESS=$(realpath -m "${BENCH_HARNESS:-../shared/bench/run}")
FASTAPI_REF=${FASTAPI_REF-../shared/anchors/fastapi_ref}
[ -n "$FASTAPI_REF" ] && FASTAPI_REF=$(realpath -m "$FASTAPI_REF")
BASE=${BENCH_PORT_BASE:-20000}
SLOW_WORKERS=${SERVICE_SLOW_WORKERS:-2}

OUT=$REPO_ROOT/build/bench/$(date -u +%Y%m%d-%H%M%S)
RESULTS=$OUT/results.txt
mkdir -p "$OUT/wrk"
export BENCH_LOG_DIR=$OUT/wrk DURATION WARMUP THREADS CONNECTIONS
BENCH_LUA=$(dirname "$BENCH_HARNESS")/wrk/bench.lua
export BENCH_LUA

die() { echo "bench: $*" >&2; exit 2; }
say() { echo "bench: $*" >&2; }
[ -x "$BENCH_HARNESS" ] || die "no load harness at $BENCH_HARNESS (set BENCH_HARNESS)"
[ -f "$BENCH_LUA" ] || die "no $BENCH_LUA beside the harness"
if [ -n "$FASTAPI_REF" ] && [ ! -x "$FASTAPI_REF/start" ]; then
    die "no FastAPI reference at $FASTAPI_REF (set FASTAPI_REF, or empty to skip it)"
fi

# ---------------------------------------------------------------- the two stacks
# This stack: the local stack of stack.sh, release build, its own run directory and ports
export RUN_DIR=$OUT/stack BIN_DIR=$REPO_ROOT/bin \
       PG_PORT=$((BASE + 9533)) REDIS_PORT=$((BASE + 9480)) \
       GATEWAY_HTTP_PORT=$((BASE + 8080)) GATEWAY_HTTPS_PORT=$((BASE + 8443)) \
       GATEWAY_METRICS_PORT=$((BASE + 9100)) AUTH_PORT=$((BASE + 7101)) \
       MISSIONS_PORT=$((BASE + 7102)) EVIDENCE_PORT=$((BASE + 7103)) \
       PRIVACY_PORT=$((BASE + 7104)) AUDIT_PORT=$((BASE + 7105))
export RATE_LIMIT_DEFAULT_PER_MIN=1000000 RATE_LIMIT_TOKEN_PER_MIN_IP=1000000 \
       RATE_LIMIT_TOKEN_PER_MIN_ACCOUNT=1000000 RATE_LIMIT_REGISTER_PER_HOUR_IP=1000000 \
       RATE_LIMIT_MISSION_CREATE_PER_HOUR=1000000 RATE_LIMIT_LOGIN_FAILURES_PER_IP=100000
# One CivetWeb thread per open connection: room for every wrk connection and the probe
export GATEWAY_THREADS=${GATEWAY_THREADS:-$((CONNECTIONS * 2))}
OURS=http://127.0.0.1:$GATEWAY_HTTP_PORT

REF_PORT=$((BASE + 8090))
REF_RUN_DIR=/tmp/cm-bench-ref.$BASE
REF=http://127.0.0.1:$REF_PORT

stop_all() {
    bash scripts/stack.sh down >/dev/null 2>&1
    [ -n "$FASTAPI_REF" ] && RUN_DIR=$REF_RUN_DIR "$FASTAPI_REF/stop" >/dev/null 2>&1
}
trap stop_all EXIT

say "starting this stack on $OURS (logs under $RUN_DIR/logs)"
bash scripts/stack.sh up >"$OUT/stack-up.log" 2>&1 || { tail -20 "$OUT/stack-up.log" >&2; die "stack did not start"; }
if [ -n "$FASTAPI_REF" ]; then
    say "starting the FastAPI reference on $REF"
    RUN_DIR=$REF_RUN_DIR "$FASTAPI_REF/stop" >/dev/null 2>&1
    RUN_DIR=$REF_RUN_DIR PORT=$REF_PORT PG_PORT=$((BASE + 9432)) REDIS_PORT=$((BASE + 9379)) \
        RATE_LIMIT_PER_MIN=1000000 "$FASTAPI_REF/start" --redis >"$OUT/ref-start.log" 2>&1 \
        || { cat "$OUT/ref-start.log" >&2; die "the reference did not start"; }
fi

# Server processes whose CPU time counts: the services, PostgreSQL (its children with it) and
# Redis of each stack
pid_in() { [ -s "$1" ] && head -1 "$1"; }
OUR_SERVICES=(gateway auth missions evidence privacy audit)
our_pids() {
    local svc
    for svc in "${OUR_SERVICES[@]}"; do pid_in "$RUN_DIR/pids/$svc.pid"; done
    pid_in "$RUN_DIR/pids/redis.pid"
    pid_in "$(readlink -f "$RUN_DIR/pg")/postmaster.pid"
}
ref_pids() {
    pid_in "$REF_RUN_DIR/app.pid"
    pid_in "$REF_RUN_DIR/redis.pid"
    pid_in "$REF_RUN_DIR/pg/postmaster.pid"
}
OUR_PIDS=$(our_pids | tr '\n' ' ')
[ -n "$FASTAPI_REF" ] && REF_PIDS=$(ref_pids | tr '\n' ' ')

# rss FIELD: FIELD (VmRSS or VmHWM) of each service, in KiB
rss() {
    local svc line=""
    for svc in "${OUR_SERVICES[@]}"; do
        line+=" $svc=$(awk -v f="$1:" '$1 == f {print $2}' "/proc/$(pid_in "$RUN_DIR/pids/$svc.pid")/status")"
    done
    echo "${line# }"
}
echo "rss_idle_kib $(rss VmRSS)" >>"$RESULTS"

# ---------------------------------------------------------------- measurements
# record SYSTEM LINE: one result line, kept and shown
record() {
    echo "system=$1 $2" | tee -a "$RESULTS"
}

# harness SYSTEM URL PIDS SCENARIOS: the shared harness, one line per scenario
harness() {
    local line
    while IFS= read -r line; do
        [ -n "$line" ] && record "$1" "$line"
    done < <(BENCH_PIDS=$3 SCENARIOS=$4 "$BENCH_HARNESS" "$2" 2>>"$OUT/harness.log")
}

# ticks PIDS: CPU clock ticks used so far by these processes and their descendants
descendants() { local p; for p in "$@"; do [ -d "/proc/$p" ] && echo "$p" && descendants $(pgrep -P "$p"); done; }
ticks() {
    local t=0 p f
    for p in $(descendants $1); do
        f=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
        set -- $f
        t=$((t + ${12} + ${13}))
    done
    echo $t
}

# wrk_run SYSTEM NAME PIDS URL LUA: warm-up, then a measured run with the server CPU time
wrk_run() {
    local system=$1 name=$2 pids=$3 url=$4 lua=$5 conns=${WRK_CONNECTIONS:-$CONNECTIONS} t0 t1 line
    local log=$OUT/wrk/$system.$name.$(date +%s%N).txt
    export BENCH_SCENARIO=$name
    BENCH_TOKENS=${BENCH_WARM_TOKENS:-${BENCH_TOKENS:-}} \
        wrk -t"$THREADS" -c"$conns" -d"${WARMUP}s" --timeout 5s -s "$lua" "$url" >/dev/null 2>&1
    t0=$(ticks "$pids")
    wrk -t"$THREADS" -c"$conns" -d"${DURATION}s" --timeout 5s --latency -s "$lua" "$url" >"$log" 2>&1
    t1=$(ticks "$pids")
    line=$(grep '^scenario=' "$log")
    [ -n "$line" ] || line="scenario=$name error=wrk_failed"
    record "$system" "$line connections=$conns server_cpu_s=$(awk -v a="$t0" -v b="$t1" \
        -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", (b - a) / hz}')"
}

# account URL: registers a fresh account; prints its email and password
account() {
    local email="bench-$RANDOM$RANDOM-$(date +%s%N)@example.com" password
    password="Bench-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
    curl -fsS -o /dev/null -H 'Content-Type: application/json' \
         --data-binary "{\"email\":\"$email\",\"password\":\"$password\"}" "$1/api/v1/auth/register" \
        || die "cannot register at $1"
    echo "$email $password"
}

# login_run SYSTEM URL PIDS: password grants for one account
login_run() {
    local email password
    read -r email password < <(account "$2")
    BENCH_METHOD=POST BENCH_CT=application/x-www-form-urlencoded \
    BENCH_BODY="grant_type=password&username=$email&password=$password" BENCH_AUTH="" BENCH_HEADERS="" \
    WRK_CONNECTIONS=$LOGIN_CONNECTIONS wrk_run "$1" login "$3" "$2/api/v1/auth/token" "$BENCH_LUA"
}

# refresh_run: refresh-token rotation with a live token per connection. A token is spent
# once; the warm-up and the measured run get a file of tokens each
refresh_run() {
    local email password file i
    read -r email password < <(account "$OURS")
    for file in warm measured; do
        : >"$OUT/refresh-$file.txt"
        for i in $(seq 1 $((CONNECTIONS + CONNECTIONS / 4))); do
            curl -fsS --data-urlencode grant_type=password --data-urlencode "username=$email" \
                 --data-urlencode "password=$password" "$OURS/api/v1/auth/token" \
                | python3 -c 'import json, sys; print(json.load(sys.stdin)["refresh_token"])' \
                    >>"$OUT/refresh-$file.txt" || die "cannot sign in for the refresh scenario"
        done
    done
    BENCH_WARM_TOKENS=$OUT/refresh-warm.txt BENCH_TOKENS=$OUT/refresh-measured.txt \
    BENCH_THREADS=$THREADS BENCH_METHOD=POST BENCH_BODY="" BENCH_AUTH="" BENCH_CT="" BENCH_HEADERS="" \
        wrk_run ours refresh "$OUR_PIDS" "$OURS/api/v1/auth/token" bench/wrk/refresh.lua
}

# storm_run SYSTEM URL PIDS: missions_list while sign-ins run without pause beside it
storm_run() {
    local email password storm
    read -r email password < <(account "$2")
    # The storm starts once the harness has its user and missions (sign-up queues behind
    # the sign-ins for the same password-hashing threads) and lasts past its measured run
    (
        sleep 3
        export BENCH_SCENARIO=login_storm BENCH_METHOD=POST BENCH_CT=application/x-www-form-urlencoded \
               BENCH_BODY="grant_type=password&username=$email&password=$password" BENCH_AUTH="" BENCH_HEADERS=""
        exec wrk -t1 -c"$LOGIN_CONNECTIONS" -d"$((WARMUP + DURATION + 10))s" --timeout 10s -s "$BENCH_LUA" \
            "$2/api/v1/auth/token" >"$OUT/wrk/$1.login_storm.txt" 2>&1
    ) &
    storm=$!
    local line
    while IFS= read -r line; do
        [ -n "$line" ] && record "$1" "${line/scenario=missions_list/scenario=list_during_logins}"
    done < <(BENCH_PIDS=$3 SCENARIOS=missions_list "$BENCH_HARNESS" "$2" 2>>"$OUT/harness.log")
    kill -INT "$storm" 2>/dev/null
    wait "$storm" 2>/dev/null
    line=$(grep '^scenario=' "$OUT/wrk/$1.login_storm.txt") && record "$1" "$line"
}

# split_run NAME: one more run of a harness scenario on this stack, with the server CPU per
# request of each process (PostgreSQL with its backends): where the time goes
split_run() {
    local name=$1 email password token id="" i url body="" method=GET t0=() t1=() line log procs
    read -r email password < <(account "$OURS")
    token=$(curl -fsS --data-urlencode grant_type=password --data-urlencode "username=$email" \
                 --data-urlencode "password=$password" "$OURS/api/v1/auth/token" \
            | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])') \
        || die "cannot sign in for the split of $name"
    for i in $(seq 1 20); do
        id=$(curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
                  --data-binary "{\"title\":\"Seed mission $i\",\"duration_minutes\":$((i * 5))}" \
                  "$OURS/api/v1/missions" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])') \
            || die "cannot seed missions for the split of $name"
    done
    case "$name" in
        missions_list) url=$OURS/api/v1/missions ;;
        mission_get) url=$OURS/api/v1/missions/$id ;;
        missions_create) url=$OURS/api/v1/missions method=POST \
            body='{"title":"Bench mission","description":"Created under load by bench/run","duration_minutes":25}' ;;
    esac
    procs=("${OUR_SERVICES[@]}" redis postgres)
    local pids=() svc
    for svc in "${OUR_SERVICES[@]}"; do pids+=("$(pid_in "$RUN_DIR/pids/$svc.pid")"); done
    pids+=("$(pid_in "$RUN_DIR/pids/redis.pid")" "$(pid_in "$(readlink -f "$RUN_DIR/pg")/postmaster.pid")")
    export BENCH_SCENARIO=$name BENCH_METHOD=$method BENCH_BODY=$body BENCH_AUTH="Bearer $token" \
           BENCH_CT=application/json BENCH_HEADERS=""
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" --timeout 5s -s "$BENCH_LUA" "$url" >/dev/null 2>&1
    for i in "${!pids[@]}"; do t0[$i]=$(ticks "${pids[$i]}"); done
    log=$OUT/wrk/ours.split_$name.txt
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s --latency -s "$BENCH_LUA" "$url" >"$log" 2>&1
    for i in "${!pids[@]}"; do t1[$i]=$(ticks "${pids[$i]}"); done
    line=$(grep '^scenario=' "$log") || { record ours "scenario=split_$name error=wrk_failed"; return; }
    line=${line/scenario=$name/scenario=split_$name}
    for i in "${!pids[@]}"; do
        line+=" cpu_s_${procs[$i]}=$(awk -v a="${t0[$i]}" -v b="${t1[$i]}" -v hz="$(getconf CLK_TCK)" \
            'BEGIN {printf "%.2f", (b - a) / hz}')"
    done
    record ours "$line"
}

say "results in $RESULTS"
for round in $(seq 1 "$ROUNDS"); do
    say "round $round of $ROUNDS"
    harness ours "$OURS" "$OUR_PIDS" "missions_list mission_get missions_create"
    [ -n "$FASTAPI_REF" ] && harness ref "$REF" "$REF_PIDS" "missions_list mission_get missions_create"
    login_run ours "$OURS" "$OUR_PIDS"
    [ -n "$FASTAPI_REF" ] && login_run ref "$REF" "$REF_PIDS"
done
refresh_run
for scenario in missions_list missions_create; do split_run "$scenario"; done
storm_run ours "$OURS" "$OUR_PIDS"
[ -n "$FASTAPI_REF" ] && storm_run ref "$REF" "$REF_PIDS"
record ours "$(build/release/bench/argon2_rate "$SLOW_WORKERS" "$DURATION")"
echo "rss_peak_kib $(rss VmHWM)" >>"$RESULTS"

python3 bench/report.py "$RESULTS" | tee "$OUT/report.md"
