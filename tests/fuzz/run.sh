#!/usr/bin/env bash
# run.sh - run every libFuzzer harness of one build for a fixed time each
#
#   tests/fuzz/run.sh BUILD SECONDS            every harness in BUILD/fuzz/
#   FUZZERS='gateway_*' tests/fuzz/run.sh ...   only harnesses matching a glob
#   FUZZ_ARGS='-jobs=2' tests/fuzz/run.sh ...   more libFuzzer flags
#
# Each harness starts from tests/fuzz/corpus/<name>/ (and dict/<name>.dict
# when there is one); what it learns goes to BUILD/fuzz-corpus/<name>/, never
# into the repository. The first crash, leak, timeout or undefined behaviour
# stops the harness and leaves its input in tests/fuzz/artifacts/; the exit
# status is non-zero when any harness found one. One line per harness says
# how many inputs ran and how much code they reached (cov: edges, ft: features).
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:?usage: run.sh BUILD SECONDS}
seconds=${2:?usage: run.sh BUILD SECONDS}
artifacts=tests/fuzz/artifacts
mkdir -p "$artifacts"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

failed=0
for binary in "$build"/fuzz/${FUZZERS:-*}; do
    [ -x "$binary" ] || continue
    name=$(basename "$binary")
    corpus=tests/fuzz/corpus/$name
    scratch=$build/fuzz-corpus/$name
    mkdir -p "$corpus" "$scratch"
    dict=()
    [ -f "tests/fuzz/dict/$name.dict" ] && dict=(-dict="tests/fuzz/dict/$name.dict")
    log=$build/fuzz-corpus/$name.log
    # The scratch directory comes first: libFuzzer writes new inputs there
    # shellcheck disable=SC2086
    nice -n 10 "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/$name-" "${dict[@]}" \
        ${FUZZ_ARGS:-} "$scratch" "$corpus" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -aoE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
    if [ "$rc" -eq 0 ]; then
        printf '  %-22s ok      %10s runs in %ss, %s\n' "$name" "${runs:-?}" "$seconds" "${cov:-cov: ?}"
    else
        failed=$((failed + 1))
        printf '  %-22s FAILED  (exit %s) after %s runs\n' "$name" "$rc" "${runs:-?}"
        grep -aE 'ERROR|SUMMARY|runtime error|Test unit written|assert' "$log" | head -8 | sed 's/^/      /'
        echo "      full log: $log"
    fi
done
if [ "$failed" -gt 0 ]; then
    echo "fuzz: $failed harness(es) found a problem; inputs in $artifacts/"
    exit 1
fi
echo "fuzz: every harness ran ${seconds}s without a crash, leak or undefined behaviour"
