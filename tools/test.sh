#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/install_deps.sh
./tools/build.sh
BUILD_DIR=${BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${JOBS:-$(nproc)}"
# Every parser's fuzz target (AddressSanitizer + UndefinedBehaviorSanitizer) over its committed seeds and every past
# finding, then fuzzed briefly; the whole-suite sanitizer runs and longer campaigns are tools/check.sh.
if [ "${MOME_SKIP_FUZZ:-0}" != 1 ]; then
  ./tools/fuzz.sh --seconds "${MOME_FUZZ_SECONDS:-20}" --seed "${MOME_FUZZ_SEED:-1}"
fi
