#!/usr/bin/env bash
# The demo's data, shared by tools/demo.sh and tools/ablation.sh (same voices, seeds and held-out test split):
#   tools/demo_data.sh RUN      -> RUN/corpus (mome_synth), RUN/prepared/{train,val,test}, RUN/llm (tiny Llama)
# Training voices and test voices are disjoint; test sentences are held out. Each step skips what exists.
# DEMO_TRAIN_CLIPS scales the training split; BUILD_DIR picks the build.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:?usage: tools/demo_data.sh RUN}
BIN=${BUILD_DIR:-build}/tools
TRAIN_CLIPS=${DEMO_TRAIN_CLIPS:-1000}
TRAIN_VOICES=en-us+m1,en-us+f2,en+m3,en-us+m7,en-gb-x-rp+f4,en-029+m2
TEST_VOICES=en-us+m4,en+f3
mkdir -p "$RUN"

echo "== synthesising the GRID corpus" >&2
"$BIN"/mome_synth --out "$RUN/corpus" --split trainval --count "$TRAIN_CLIPS" --voices "$TRAIN_VOICES" --seed 1
"$BIN"/mome_synth --out "$RUN/corpus" --split val --count 48 --voices "$TRAIN_VOICES" --seed 2
"$BIN"/mome_synth --out "$RUN/corpus" --split test --count 120 --voices "$TEST_VOICES" --seed 3

echo "== preparing" >&2
"$BIN"/mome_prepare --corpus lrs3 --root "$RUN/corpus" --split trainval --out "$RUN/prepared/train"
"$BIN"/mome_prepare --corpus lrs3 --root "$RUN/corpus" --split val --out "$RUN/prepared/val"
"$BIN"/mome_prepare --corpus lrs3 --root "$RUN/corpus" --split test --out "$RUN/prepared/test"

echo "== the tiny Llama" >&2
[ -f "$RUN/llm/config.json" ] || "$BIN"/mome_make_tiny --config configs/demo/llm.yaml --out "$RUN/llm"
