#!/usr/bin/env bash
# run.sh - run every test of one or more builds and print one summary line
#
#   tests/run.sh BUILD BIN [BUILD BIN]...     unit + integration tests of each build
#   tests/run.sh --unit BUILD BIN             unit tests only
#   TESTS='*auth*' tests/run.sh ...            only test binaries matching a glob
#   TEST_PORT_OFFSET=1000 tests/run.sh ...     every test port moved up by 1000
#   TEST_PARALLEL=0 tests/run.sh A a B b        builds one after the other (default: at once)
#   TEST_VERBOSE=1 tests/run.sh ...             every test's own output too (figures it logs)
#
# Several builds run at the same time, each with a stack of its own on ports 500 apart:
# most of an integration test's time is spent waiting (timeouts, restarts, sleeps), so
# running the sanitizer pass beside the plain one nearly halves the wall time.
# For the integration tests it starts a stack of that build's binaries under
# BUILD/test-run (fresh each time, test ports, so a `make run` stack on the
# default ports is not disturbed) and stops it afterwards, whatever happens.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO_ROOT=$(pwd)
unit_only=0
[ "${1:-}" = "--unit" ] && { unit_only=1; shift; }

passed=0 failed=0 broken=0
report=""        # failure details, repeated after the summary so a log's tail shows them
# Test ports: away from the defaults of a developer's own `make run`, and below the
# kernel's ephemeral range (32768 up), where a port may be taken by any outgoing
# connection; TEST_PORT_OFFSET moves them all, so two test runs on one machine do not meet
o=${TEST_PORT_OFFSET:-0}
export PG_PORT=$((25533 + o)) REDIS_PORT=$((26480 + o)) GATEWAY_HTTP_PORT=$((18080 + o)) \
       GATEWAY_HTTPS_PORT=$((18443 + o)) GATEWAY_METRICS_PORT=$((19100 + o)) \
       AUTH_PORT=$((17101 + o)) MISSIONS_PORT=$((17102 + o)) EVIDENCE_PORT=$((17103 + o)) \
       PRIVACY_PORT=$((17104 + o)) AUDIT_PORT=$((17105 + o)) REPO_ROOT \
       ADMIN_EMAILS=admin@example.com RATE_LIMIT_LOGIN_FAILURES_PER_IP=100
# Every test signs in from 127.0.0.1: limits far above what the tests send
# (test_edge starts a gateway of its own with low limits to test them)
export RATE_LIMIT_DEFAULT_PER_MIN=1000000 RATE_LIMIT_TOKEN_PER_MIN_IP=1000000 \
       RATE_LIMIT_TOKEN_PER_MIN_ACCOUNT=1000000 RATE_LIMIT_REGISTER_PER_HOUR_IP=1000000 \
       RATE_LIMIT_MISSION_CREATE_PER_HOUR=1000000

# Several builds: each in a child of its own, then their output in order and one summary
if [ $# -gt 2 ] && [ "${TEST_PARALLEL:-1}" != 0 ]; then
    unit_flag=() pids=() logs=() i=0
    [ $unit_only = 1 ] && unit_flag=(--unit)
    while [ $# -ge 2 ]; do
        logs+=("$1/test-output.log")
        mkdir -p "$1"
        TEST_PARALLEL=0 TEST_PORT_OFFSET=$((o + 500 * i)) bash tests/run.sh \
            "${unit_flag[@]}" "$1" "$2" >"$1/test-output.log" 2>&1 &
        pids+=($!)
        i=$((i + 1))
        shift 2
    done
    trap 'kill "${pids[@]}" 2>/dev/null' INT TERM
    status=0
    for pid in "${pids[@]}"; do wait "$pid" || status=1; done
    total_passed=0 total_failed=0
    for log in "${logs[@]}"; do
        sed -n '/^failures:$/,$!p' "$log" | grep -v '^tests: '
    done
    for log in "${logs[@]}"; do
        sed -n '/^failures:$/,/^tests: /p' "$log" | grep -v '^tests: '
        line=$(grep '^tests: ' "$log" | tail -1)
        [ -n "$line" ] || { echo "== $log: no summary"; status=1; continue; }
        total_passed=$((total_passed + $(sed -n 's/^tests: \([0-9]*\) passed.*/\1/p' <<<"$line")))
        total_failed=$((total_failed + $(sed -n 's/.* \([0-9]*\) failed$/\1/p' <<<"$line")))
    done
    echo "tests: $total_passed passed, $total_failed failed"
    exit $status
fi

# The test OpenID providers (tests/oidc_provider, built with the tests): HTTPS on loopback
# under a throwaway CA that auth trusts through OIDC_CA_FILE. "test" is OpenID Connect,
# "gh" GitHub-shaped; nothing listens for "down". Their pids go into oidc_pids.
oidc_pids=()
start_oidc_providers() {
    local build=$1 dir=$REPO_ROOT/$1/test-oidc program=$REPO_ROOT/$1/tests/oidc_provider/oidc_provider
    local port=$((15600 + o))
    unset OIDC_TEST_ISSUER OIDC_GH_ISSUER OIDC_DOWN_ISSUER
    [ -x "$program" ] || return 0
    rm -rf "$dir" && mkdir -p "$dir" || return 1
    (
        cd "$dir" &&
        openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
            -subj /CN=test-oidc-ca -keyout ca.key -out ca.crt &&
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
            -keyout server.key -out server.csr &&
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext &&
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
            -extfile server.ext -out server.crt &&
        openssl rand -hex 24 >client_secret
    ) >"$dir/openssl.log" 2>&1 || return 1
    setsid "$program" --port "$port" --cert "$dir/server.crt" --key "$dir/server.key" \
        --client-id test-client --client-secret-file "$dir/client_secret" \
        </dev/null >"$dir/test.log" 2>&1 &
    oidc_pids+=($!)
    setsid "$program" --port $((port + 1)) --cert "$dir/server.crt" --key "$dir/server.key" \
        --client-id gh-client --github </dev/null >"$dir/gh.log" 2>&1 &
    oidc_pids+=($!)
    export OIDC_CA_FILE=$dir/ca.crt OAUTH_ALLOWED_REDIRECTS=http://127.0.0.1:9/app/oauth-done \
           OIDC_TEST_ISSUER=https://127.0.0.1:$port OIDC_TEST_CLIENT_ID=test-client \
           OIDC_TEST_CLIENT_SECRET_FILE=$dir/client_secret \
           OIDC_GH_ISSUER=https://127.0.0.1:$((port + 1)) OIDC_GH_KIND=github \
           OIDC_GH_API_URL=https://127.0.0.1:$((port + 1))/api OIDC_GH_CLIENT_ID=gh-client \
           OIDC_DOWN_ISSUER=https://127.0.0.1:$((port + 2)) OIDC_DOWN_CLIENT_ID=down-client
}

stop_oidc_providers() {
    local pid
    for pid in "${oidc_pids[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    oidc_pids=()
}

# run_binary NAME BINARY [criterion args]: adds its counts to the totals
run_binary() {
    local name=$1 binary=$2 out line started=$SECONDS
    shift 2
    out=$("$binary" "$@" ${TEST_VERBOSE:+--verbose} 2>&1)
    local rc=$?
    [ -n "${TEST_VERBOSE:-}" ] && echo "$out"
    line=$(grep -a 'Synthesis:' <<<"$out" | tail -1)
    if [ -z "$line" ]; then
        echo "$out" | tail -30
        echo "  $name: no result (exit $rc)"
        report+="== $build/$name: no result (exit $rc)"$'\n'"$(echo "$out" | tail -10)"$'\n'
        broken=$((broken + 1))
        return
    fi
    local t p f c
    t=$(sed -n 's/.*Tested: \([0-9]*\).*/\1/p' <<<"$line")
    p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$line")
    f=$(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$line")
    c=$(sed -n 's/.*Crashing: \([0-9]*\).*/\1/p' <<<"$line")
    passed=$((passed + p)); failed=$((failed + f + c))
    if [ "$((f + c))" -gt 0 ] || [ "$rc" -ne 0 ]; then
        local details
        details=$(grep -a -E '\[(FAIL|----)\]|ERROR|runtime error|Sanitizer' <<<"$out" | head -60)
        echo "$details"
        report+="== $build/$name"$'\n'"$details"$'\n'
        [ "$((f + c))" -eq 0 ] && broken=$((broken + 1))
    fi
    printf '  %-48s %3d passed, %d failed  %4ds\n' "$name" "$p" "$((f + c))" "$((SECONDS - started))"
}

while [ $# -ge 2 ]; do
    build=$1 bin=$2
    shift 2
    export BIN_DIR=$REPO_ROOT/$bin KEYGEN_BIN=$REPO_ROOT/$bin/keygen
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
           LSAN_OPTIONS=suppressions=$REPO_ROOT/tests/lsan.supp
    echo "== $build: unit tests"
    for t in "$build"/tests/unit/*/test_*; do
        case $t in *.o|*.d) continue ;; esac
        # shellcheck disable=SC2053
        [[ ${t#$build/tests/} == ${TESTS:-*} ]] || continue
        [ -x "$t" ] && run_binary "${t#$build/tests/}" "$t" --jobs 2
    done
    [ $unit_only = 1 ] && continue

    echo "== $build: integration tests (stack under $build/test-run)"
    export RUN_DIR=$REPO_ROOT/$build/test-run
    export KEYS_DIR=$RUN_DIR/keys
    bash scripts/stack.sh down >/dev/null 2>&1
    rm -rf "$RUN_DIR"
    if ! start_oidc_providers "$build"; then
        echo "  the test OpenID providers did not start: see $build/test-oidc/openssl.log"
        broken=$((broken + 1))
        continue
    fi
    if ! bash scripts/stack.sh up >"$build/stack-up.log" 2>&1; then
        stop_oidc_providers
        tail -40 "$build/stack-up.log"
        echo "  stack did not start: see $build/stack-up.log"
        broken=$((broken + 1))
        continue
    fi
    for t in "$build"/tests/integration/test_*; do
        case $t in *.o|*.d) continue ;; esac
        # shellcheck disable=SC2053
        [[ ${t#$build/tests/} == ${TESTS:-*} ]] || continue
        [ -x "$t" ] && run_binary "${t#$build/tests/}" "$t" --jobs 1
    done
    bash scripts/stack.sh down >/dev/null 2>&1
    stop_oidc_providers
    # A sanitizer report in any service log fails the run
    if grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$RUN_DIR"/logs/*.log 2>/dev/null; then
        grep -h -A20 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$RUN_DIR"/logs/*.log | head -60
        echo "  sanitizer reports in service logs (above)"
        broken=$((broken + 1))
    fi
done

echo
[ -n "$report" ] && printf 'failures:\n%s\n' "$report"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$broken" -eq 0 ]
