#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, then trains and evaluates a tiny audio-visual
# speech recogniser from scratch on a synthetic GRID corpus, on the CPU:
#   1. mome_synth: GRID sentences spoken by espeak-ng voices with a rendered mouth (training voices and test voices
#      are disjoint; test sentences are held out), LRS3 layout, in $RUN/corpus
#   2. mome_prepare: prepared shards in $RUN/prepared/{train,val,test}
#   3. mome_make_tiny: a small Llama with a GRID word-level tokenizer (configs/demo/llm.yaml)
#   4. mome_train, as a curriculum (configs/demo/train.yaml): ASR first ($RUN/asr: the audio path and the LLM learn
#      fast — a step costs a tenth of an AVSR step, whose cost is the video front-end), then AVSR initialised from it
#      ($RUN, the run folder mome_decode takes; Whisper-tiny-shaped + AV-HuBERT-tiny-shaped encoders, MoME
#      adapters), then VSR initialised from the AVSR model ($RUN/vsr). train.init_from copies the tensors they share.
#   5. mome_decode on the test split at every trained rate pair, then a WER table.
# Every stage resumes: a re-run skips what is finished. DEMO_ASR_STEPS / DEMO_STEPS (AVSR) / DEMO_VSR_STEPS /
# DEMO_TRAIN_CLIPS scale it down or up.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${MOME_SKIP_INSTALL:-0}" != 1 ]; then ./tools/install_deps.sh; fi
./tools/build.sh
BIN=${BUILD_DIR:-build}/tools
RUN=${RUN:-runs/demo}
ASR_STEPS=${DEMO_ASR_STEPS:-1000}
STEPS=${DEMO_STEPS:-600}
VSR_STEPS=${DEMO_VSR_STEPS:-250}
TRAIN_CLIPS=${DEMO_TRAIN_CLIPS:-1000}
TRAIN_VOICES=en-us+m1,en-us+f2,en+m3,en-us+m7,en-gb-x-rp+f4,en-029+m2
TEST_VOICES=en-us+m4,en+f3
start=$(date +%s)
mkdir -p "$RUN"

echo "== 1/5 synthesising the GRID corpus" >&2
"$BIN"/mome_synth --out "$RUN/corpus" --split trainval --count "$TRAIN_CLIPS" --voices "$TRAIN_VOICES" --seed 1
"$BIN"/mome_synth --out "$RUN/corpus" --split val --count 48 --voices "$TRAIN_VOICES" --seed 2
"$BIN"/mome_synth --out "$RUN/corpus" --split test --count 120 --voices "$TEST_VOICES" --seed 3

echo "== 2/5 preparing" >&2
"$BIN"/mome_prepare --corpus lrs3 --root "$RUN/corpus" --split trainval --out "$RUN/prepared/train"
"$BIN"/mome_prepare --corpus lrs3 --root "$RUN/corpus" --split val --out "$RUN/prepared/val"
"$BIN"/mome_prepare --corpus lrs3 --root "$RUN/corpus" --split test --out "$RUN/prepared/test"

echo "== 3/5 the tiny Llama" >&2
[ -f "$RUN/llm/config.json" ] || "$BIN"/mome_make_tiny --config configs/demo/llm.yaml --out "$RUN/llm"

echo "== 4/5 training (ASR, then AVSR from it, then VSR from that)" >&2
paths=(--set "llm.path=$RUN/llm" --set "train.data=$RUN/prepared/train" --set "train.val_data=$RUN/prepared/val")
train() {  # train OUT_DIR STEPS [--set ...]
  local out=$1 steps=$2
  shift 2
  local resume=()
  [ -d "$out/checkpoints" ] && resume=(--resume)
  "$BIN"/mome_train --config configs/demo/train.yaml --out "$out" "${paths[@]}" --set "train.max_steps=$steps" \
    "$@" "${resume[@]}"
}
train "$RUN/asr" "$ASR_STEPS" --set model.modality=asr --set model.video_rates=[] --set video_encoder.preset=
train "$RUN" "$STEPS" --set "train.init_from=$RUN/asr" --set train.lr=0.0015
train "$RUN/vsr" "$VSR_STEPS" --set model.modality=vsr --set model.audio_rates=[] --set audio_encoder.preset= \
  --set "train.init_from=$RUN" --set train.lr=0.0015

echo "== 5/5 decoding the test split (unseen voices and sentences)" >&2
mkdir -p "$RUN/decode"
table="$RUN/decode/wer.md"
printf '| modality | audio rate | video rate | WER %% | errors / words |\n|---|---|---|---|---|\n' > "$table"
decode() {  # decode MODEL MODALITY AUDIO_RATE VIDEO_RATE
  local model=$1 modality=$2 a=$3 v=$4 rates=() name=$2
  [ "$a" != - ] && rates+=(--audio-rate "$a") && name+="_a$a"
  [ "$v" != - ] && rates+=(--video-rate "$v") && name+="_v$v"
  "$BIN"/mome_decode --model "$model" --prepared "$RUN/prepared/test" --modality "$modality" "${rates[@]}" \
    --beam-size 4 --max-new-tokens 10 --output "$RUN/decode/$name.jsonl" 2> "$RUN/decode/$name.log"
  # The summary line: "... WER 12.34% (89 errors / 720 words: sub ..."
  local wer counts
  wer=$(sed -n 's/.*WER \([0-9.]*\)% (\([0-9]*\) errors \/ \([0-9]*\) words.*/\1/p' "$RUN/decode/$name.log" | tail -1)
  counts=$(sed -n 's/.*WER \([0-9.]*\)% (\([0-9]*\) errors \/ \([0-9]*\) words.*/\2 \/ \3/p' "$RUN/decode/$name.log" | tail -1)
  printf '| %s | %s | %s | %s | %s |\n' "$modality" "$a" "$v" "$wer" "$counts" >> "$table"
}
for a in 4 8; do for v in 2 4; do decode "$RUN" avsr "$a" "$v"; done; done
for a in 4 8; do decode "$RUN/asr" asr "$a" -; done
for v in 2 4; do decode "$RUN/vsr" vsr - "$v"; done
cat "$table"
echo "demo: finished in $(( $(date +%s) - start )) s after the build; model in $RUN, hypotheses in $RUN/decode" >&2
