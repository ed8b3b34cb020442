#!/usr/bin/env bash
# The full reliability check (README "Fuzzing and sanitizers"); CI runs only its fuzzing part, for 20 s a target.
#
#   tools/check.sh [--fuzz-seconds N] [--only asan|tsan|fuzz]
#
# 1. asan: the library, tools and whole test suite built with clang, AddressSanitizer + UndefinedBehaviorSanitizer
#    (build-asan), every test run; any report fails the test that caused it.
# 2. tsan: the same under ThreadSanitizer (build-tsan), the tests that run several threads at once: decoding from
#    threads, the server's batching and concurrent clients.
# 3. fuzz: tools/fuzz.sh --all --seconds N (default 60; a campaign is --fuzz-seconds 600).
# Each stage is a fresh instrumented build of the whole library: on 2 cores plan for an hour per build.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=60
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --fuzz-seconds) FUZZ_SECONDS="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "check.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
JOBS=${JOBS:-$(nproc)}
export CCACHE_BASEDIR=$PWD
# Tests that run several threads at once (ThreadSanitizer's subject); the rest of the suite is single-threaded.
TSAN_TESTS='*Concurrent*:*Threads*:*Serve*:*Batch*'

sanitized_build() {  # DIR SANITIZERS [CMAKE OPTIONS]
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ -DMOME_SANITIZE="$2" \
    -DMOME_BUILD_BENCH=OFF "${@:3}" >/dev/null
  cmake --build "$1" -j "$JOBS"
}

if [ -z "$ONLY" ] || [ "$ONLY" = asan ]; then
  echo "check.sh: AddressSanitizer + UndefinedBehaviorSanitizer, whole suite" >&2
  # With the fuzz targets' coverage instrumentation too: the fuzz stage then reuses this build.
  sanitized_build build-asan address,undefined -DMOME_FUZZ=ON
  # LibTorch's own start-up allocations are never freed: leaks are judged by the fuzzers, per input.
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    MOME_SPM_SHIM=$PWD/build-asan/libmome_spm.so \
    ctest --test-dir build-asan --output-on-failure -j "$JOBS" -E install_and_build_example
fi
if [ -z "$ONLY" ] || [ "$ONLY" = tsan ]; then
  echo "check.sh: ThreadSanitizer, the concurrency tests ($TSAN_TESTS)" >&2
  sanitized_build build-tsan thread
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tools/tsan.supp MOME_SPM_SHIM=$PWD/build-tsan/libmome_spm.so \
    build-tsan/tests/mome_tests --gtest_filter="$TSAN_TESTS"
fi
if [ -z "$ONLY" ] || [ "$ONLY" = fuzz ]; then
  BUILD_DIR=build-asan tools/fuzz.sh --all --seconds "$FUZZ_SECONDS"
fi
echo "check.sh: all passed" >&2
