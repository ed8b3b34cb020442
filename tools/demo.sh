#!/usr/bin/env bash
# The main job on the built-in tiny demo: installs, builds, makes a tiny random Llama checkpoint with the
# project's own tokenizer, and runs mome_lm on it (logits dump + greedy and beam generation).
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/install_deps.sh
./tools/build.sh
BUILD_DIR=${BUILD_DIR:-build}
OUT_DIR=${OUT_DIR:-out/demo}
mkdir -p "$OUT_DIR"
"$BUILD_DIR"/tools/mome_make_tiny --config configs/tiny_llama.yaml --out "$OUT_DIR/tiny_llama"
"$BUILD_DIR"/tools/mome_tokenize --tokenizer "$OUT_DIR/tiny_llama/tokenizer.json" --text "Hello from libmome!"
"$BUILD_DIR"/tools/mome_lm --model "$OUT_DIR/tiny_llama" --text "Hello from libmome!" \
  --dump-logits "$OUT_DIR/logits.safetensors" --max-new-tokens 16
"$BUILD_DIR"/tools/mome_lm --model "$OUT_DIR/tiny_llama" --text "Hello from libmome!" --max-new-tokens 16 --beam-size 4
echo "demo: outputs in $OUT_DIR" >&2
