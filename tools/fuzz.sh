#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, AddressSanitizer + UndefinedBehaviorSanitizer) and runs each for a bounded time.
#
#   tools/fuzz.sh [--seconds N] [--all] [TARGET...]
#
# --seconds N   fuzzing time per target (default 20: what CI runs; use 600 for a real campaign)
# --seed N      libFuzzer's random seed (default: a new one each run; CI fixes it so that a run is repeatable)
# --all         also the server's request target (links the whole library: a full instrumented build)
# TARGET        e.g. safetensors wav (default: every target built)
#
# Each target first replays its committed inputs (fuzz/corpus/TARGET, the seeds, and fuzz/regressions/TARGET, every
# finding so far), then fuzzes, growing a working corpus in $BUILD_DIR/corpus/TARGET (kept between runs, not
# committed). A finding (crash, sanitizer report, leak, timeout, out-of-memory, or an exception other than mome::Error)
# stops that target and leaves the input in $BUILD_DIR/findings/TARGET/; the script prints a table and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=20
SEED=0
BUILD_TARGET=fuzz_parsers
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_EACH="$2"; shift 2 ;;
    --all) BUILD_TARGET=fuzz_all; shift ;;
    --seed) SEED="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
BUILD_DIR=${BUILD_DIR:-build-fuzz}
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (tools/install_deps.sh installs it)" >&2; exit 1; }
export CCACHE_BASEDIR=$PWD
# A new folder builds no tests or benchmarks; an existing one keeps its settings (tools/check.sh fuzzes in build-asan,
# whose library and tests it built already).
EXTRA=()
[ -f "$BUILD_DIR/CMakeCache.txt" ] || EXTRA=(-DMOME_BUILD_TESTS=OFF -DMOME_BUILD_BENCH=OFF)
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
  -DMOME_FUZZ=ON -DMOME_SANITIZE=address,undefined "${EXTRA[@]}" >/dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}" --target "$BUILD_TARGET" mome_spm
if [ ${#TARGETS[@]} -eq 0 ]; then
  for exe in "$BUILD_DIR"/fuzz/fuzz_*; do TARGETS+=("$(basename "$exe" | sed 's/^fuzz_//')"); done
fi

export MOME_SPM_SHIM=$PWD/$BUILD_DIR/libmome_spm.so
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
printf '%-16s %10s %8s %8s %s\n' target executions "exec/s" corpus result >&2
failed=0
for t in "${TARGETS[@]}"; do
  exe=$BUILD_DIR/fuzz/fuzz_$t
  [ -x "$exe" ] || { echo "fuzz.sh: no target $t (built: $(ls "$BUILD_DIR"/fuzz | grep '^fuzz_' | tr '\n' ' '))" >&2; exit 2; }
  work=$BUILD_DIR/corpus/$t findings=$BUILD_DIR/findings/$t log=$BUILD_DIR/logs/$t.log
  mkdir -p "$work" "$findings" "$(dirname "$log")"
  inputs=(fuzz/corpus/"$t")
  [ -d fuzz/regressions/"$t" ] && inputs+=(fuzz/regressions/"$t")
  result=ok
  # -max_len: the largest seed decides it otherwise; the media seeds need a few kB. -timeout: one input, seconds.
  if ! "$exe" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 -seed="$SEED" \
      -artifact_prefix="$findings/" "$work" "${inputs[@]}" >"$log" 2>&1; then
    result="FINDING: $(ls -t "$findings" | head -1) (log: $log)"
    failed=1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  printf '%-16s %10s %8s %8s %s\n' "$t" "${runs:-?}" "${rate:-?}" "$(ls "$work" | wc -l)" "$result" >&2
done
exit $failed
