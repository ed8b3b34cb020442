#!/usr/bin/env bash
# One device call for the decoding-step kernels: builds mome_tests and mome_bench with CUDA, runs the CUDA tests,
# then times Llama-3.2-1B-shaped bf16 decoding (prompt 300, 32 new tokens) with the kernels as built and with each
# switched off or on by its environment variable, and profiles one batch-1 greedy run of each:
#   default                      the decoding GEMV (residual adds and the logits' fp32 cast folded in), fused
#                                step kernels, SDPA attention
#   MOME_DECODE_GEMV=off         cuBLAS for the projections
#   MOME_DECODE_ATTENTION=kernel the split-key decode attention kernel instead of SDPA (with AB_ATTENTION=1)
# Writes everything under $OUT (device tool) or /tmp/decode_ab:  bench/decode_ab.sh [--skip-tests]
# (bench/run_gpu.sh is the full harness with the Python peers; this is the quick A/B of one change.)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/decode_ab}
mkdir -p "$OUT"
BUILD_DIR=${BUILD_DIR:-build-cuda}
MODEL_DIR=${MODEL_DIR:-/tmp/mome_llama_1b}
PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
echo "[${SECONDS}s] build ($(nvidia-smi --query-gpu=name --format=csv,noheader | head -1), commit $(git rev-parse --short HEAD 2>/dev/null))"
{ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMOME_WITH_MEDIA=OFF -DCMAKE_PREFIX_PATH="$PREFIX" \
    -DCMAKE_CUDA_ARCHITECTURES=90 && cmake --build "$BUILD_DIR" -j "$(nproc)" --target mome_tests mome_bench; } \
  > "$OUT/build.log" 2>&1 || { grep -E "error|Error" "$OUT/build.log" | head -40; exit 1; }
python3 bench/reference/hf_llama_decode.py --model "$MODEL_DIR" --make-1b --make-only > "$OUT/weights.log" 2>&1 &
if [ "${1:-}" != --skip-tests ]; then
  echo "[${SECONDS}s] CUDA tests"
  "$BUILD_DIR"/tests/mome_tests --gtest_filter='LlamaCuda*:LlamaParity*:WhisperEncoder.Cuda*:*Generat*' \
    > "$OUT/tests.log" 2>&1
  grep -E "^\[  (PASSED|FAILED) |FAILED  \]|Failure|error:|max err" "$OUT/tests.log" | head -40
fi
wait
bench() {  # bench NAME [VAR=VALUE ...]
  local name=$1
  shift
  echo "[${SECONDS}s] bench $name" | tee -a "$OUT/bench.txt"
  env "$@" "$BUILD_DIR"/bench/mome_bench --model "$MODEL_DIR" --device cuda --dtype bf16 --prompt-len 300 \
    --new-tokens 32 --batch 1,8 --beams 1,15 --repeat "${REPEAT:-7}" 2>>"$OUT/bench.log" | tee -a "$OUT/bench.txt"
  env "$@" "$BUILD_DIR"/bench/mome_bench --model "$MODEL_DIR" --device cuda --dtype bf16 --prompt-len 300 \
    --new-tokens 32 --batch 1 --beams 1 --repeat 2 --profile "$OUT/trace-$name" >/dev/null 2>>"$OUT/bench.log" &&
    { echo "== $name"; python3 bench/summarize_trace.py "$OUT/trace-$name.1x1.json" --top 30; } > "$OUT/profile.txt.$name"
  sed -n 2,4p "$OUT/profile.txt.$name"
  cat "$OUT/profile.txt.$name" >> "$OUT/profiles.txt" && rm "$OUT/profile.txt.$name"
}
bench default
bench gemv_off MOME_DECODE_GEMV=off
[ -n "${AB_ATTENTION:-}" ] && bench attention_kernel MOME_DECODE_ATTENTION=kernel
rm -f "$OUT"/trace-*.json  # large; the summaries stay
