#!/bin/sh
# Builds the libFuzzer harnesses (tests/fuzz) with clang in build-fuzz and
# runs each for SECONDS (default 60) on a copy of its seed corpus, so the
# repository is not modified. Crash reproducers land in build-fuzz/artifacts/.
# Exits non-zero if a harness crashes (or leaks, or times out).
#
#   scripts/fuzz.sh [SECONDS] [harness...]      e.g. scripts/fuzz.sh 60 fuzz_request
#
# Environment: CC (default clang), JOBS (build parallelism), FUZZ_ARGS (more
# libFuzzer flags).
set -eu

secs=${1:-60}
[ $# -gt 0 ] && shift
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-fuzz"
harnesses=${*:-"fuzz_config fuzz_verify fuzz_template fuzz_request fuzz_jws fuzz_jwks"}

cmake -S "$root" -B "$build" -DHOOKD_FUZZ=ON -DHOOKD_TESTS=OFF \
    -DCMAKE_C_COMPILER="${CC:-clang}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "${JOBS:-$(nproc)}" --target $harnesses

mkdir -p "$build/artifacts" "$build/logs"
status=0
summary=""
for h in $harnesses; do
    case $h in
    fuzz_request) maxlen=16384 ;;
    fuzz_template) maxlen=4096 ;;
    *) maxlen=8192 ;;
    esac
    corpus="$build/corpus/$h"
    mkdir -p "$corpus"
    cp "$root/tests/fuzz/corpus/$h/"* "$corpus/" 2>/dev/null || true
    log="$build/logs/$h.log"
    echo "== $h: ${secs}s (log: $log)"
    rc=0
    # Harnesses ignore inputs over their own bound; -max_len keeps mutations
    # inside it. -rss_limit_mb and -timeout turn blow-ups and hangs into crashes.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$build/tests/fuzz/$h" "$corpus" -max_total_time="$secs" -max_len="$maxlen" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/$h-" ${FUZZ_ARGS:-} >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    line="$h: ${execs:-?} executions (${rate:-?}/s)"
    if [ "$rc" -ne 0 ]; then
        status=1
        line="$line  CRASH (exit $rc): $(ls "$build/artifacts/$h-"* 2>/dev/null | tr '\n' ' ')"
        grep -m 1 -E "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error" "$log" || true
    fi
    echo "$line"
    summary="$summary$line
"
done
echo
echo "== summary"
printf '%s' "$summary"
exit $status
