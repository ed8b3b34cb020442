#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, then trains and evaluates a tiny audio-visual
# speech recogniser from scratch on a synthetic GRID corpus, on the CPU:
#   1. mome_synth: GRID sentences spoken by espeak-ng voices with a rendered mouth (training voices and test voices
#      are disjoint; test sentences are held out), LRS3 layout, in $RUN/corpus
#   2. mome_prepare: prepared shards in $RUN/prepared/{train,val,test}
#   3. mome_make_tiny: a small Llama with a GRID word-level tokenizer (configs/demo/llm.yaml)
#   4. mome_train, as a curriculum (configs/demo/train.yaml): ASR first ($RUN/asr: the audio path and the LLM learn
#      fast — a step costs a quarter of an AVSR step, whose cost is the video front-end), then lip reading: the AVSR
#      model with every clip's audio silenced ($RUN/lips), then AVSR initialised from it and the ASR model's audio
#      encoder, in babble on half its clips ($RUN, the run folder mome_decode takes;
#      Whisper-tiny-shaped + AV-HuBERT-tiny-shaped encoders, MoME adapters), then VSR initialised from the AVSR
#      model ($RUN/vsr). train.init_from copies the tensors they share.
#   5. mome_decode on the test split at every trained rate pair, then a WER table.
# Every stage resumes: a re-run skips what is finished. DEMO_ASR_STEPS / DEMO_LIP_STEPS / DEMO_STEPS (AVSR) /
# DEMO_VSR_STEPS / DEMO_TRAIN_CLIPS scale it down or up; DEMO_NOISE_PROB sets the AVSR stage's noise; DEMO_PROCS
# the processes of each training and the decodings run side by side (1 or 2, default 2: this machine's cores),
# DEMO_THREADS the threads of each (default 1); DEMO_SEED the trainings' seed (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${MOME_SKIP_INSTALL:-0}" != 1 ]; then ./tools/install_deps.sh; fi
./tools/build.sh
BIN=${BUILD_DIR:-build}/tools
RUN=${RUN:-runs/demo}
ASR_STEPS=${DEMO_ASR_STEPS:-3000}
LIP_STEPS=${DEMO_LIP_STEPS:-600}
STEPS=${DEMO_STEPS:-1500}
VSR_STEPS=${DEMO_VSR_STEPS:-250}
# The AVSR stage hears babble on NOISE_PROB of its clips at -5..15 dB: without it nothing teaches the model to
# look at the lips when the audio fails (issue 21: clean-only training scored like the audio-only model at 0 dB).
# 0.5 after 600 lip-reading steps (seed 1, same ASR stage): 0 dB 13.5 %, clean 3.06, VSR 13.3; 0.3 with a fifth of
# the clips silenced (train.audio_drop_prob=0.2): 15.0 / 2.92 / 13.1. Babble in the ASR stage from scratch was
# tried: the model did not learn at all in 2000 steps.
NOISE_PROB=${DEMO_NOISE_PROB:-0.5}
# The ASR stage also sees a third of its clips followed by another sentence after a pause of up to 1 s, and up to
# 0.5 s of silence around clips: what long-form decoding cuts from a recording (issue 17; without it the model
# stops after the first sentence of a piece and is thrown by a leading pause). Measured and not kept (seed 1, same
# lips and AVSR stages): 2000 plain ASR steps (2.5x faster, 3.1 % validation WER) gave an AVSR model at 9-10 %
# validation WER where the joined 3000 gave 3. Joins within the batch from scratch learned far slower still (3000
# steps: 34 %).
SEQUENCES=(--set "train.join_prob=${DEMO_JOIN_PROB:-0.3}" --set train.pause_max_seconds=1.0
  --set train.pad_max_seconds=0.5)
# The AVSR stage joins a quarter of its batches two by two (train.join_in_batch: the same frames per step in longer
# rows, 0.19 s a step against 0.17), with pauses up to 0.5 s and up to 0.2 s of silence around: trained on single
# clips the fused model writes one sentence per piece of a recording cut from sentences back to back (issue 17,
# tools/longform_check.sh, 4 s pieces, runs/p1: back to back 47.9 % against 2.22 clip by clip; with these joins,
# same lips stage: 4.03 against 2.36, 0 dB babble 12.6 against 11.1). The same joins as a fine-tune of the last 500
# of the 1500 steps (lr 5e-4): 30.3 against 4.03. They cost noise robustness: DEMO_SEED=2 gave 0 dB 31.5 % against
# 23.3 without them (0.15 of the batches: 30.3), over its lips alone + 2 (21.4); DEMO_AV_JOIN_PROB=0 trains the
# stage without them.
AV_JOIN_PROB=${DEMO_AV_JOIN_PROB:-0.25}
AV_SEQUENCES=()
if [ "$AV_JOIN_PROB" != 0 ]; then
  AV_SEQUENCES=(--set "train.join_prob=$AV_JOIN_PROB" --set train.join_in_batch=true
    --set train.pause_max_seconds=0.5 --set train.pad_max_seconds=0.2)
fi
start=$(date +%s)
echo "== 1-3/5 corpus, prepared shards, tiny Llama (tools/demo_data.sh)" >&2
tools/demo_data.sh "$RUN"

echo "== 4/5 training (ASR, then AVSR from it, then VSR from that)" >&2
paths=(--set "llm.path=$RUN/llm" --set "train.data=$RUN/prepared/train" --set "train.val_data=$RUN/prepared/val")
# Speed on a 2-core CPU (bench/cpu_train_step.sh): mouths averaged to 44x44 (video_encoder.roi_pool=2: the video
# front end costs a quarter), and each step's two batches of 200 frames on two data-parallel processes of one
# thread (--nproc 2) rather than one batch of 400 on two threads: the tiny model's operations leave a second thread
# of one process mostly idle (AVSR step 0.36 s before both changes, 0.15 s after). DEMO_PROCS=1 trains the same steps
# in one process (two accumulated batches): the same model, up to the order of floating-point sums.
PROCS=${DEMO_PROCS:-2}
case $PROCS in 1 | 2) ;; *) echo "demo: DEMO_PROCS must be 1 or 2, got '$PROCS'" >&2; exit 1 ;; esac
speed=(--nproc "$PROCS" --set "train.accumulation=$((2 / PROCS))" --set train.max_frames=200
  --set video_encoder.roi_pool=2 --set "train.threads=${DEMO_THREADS:-1}")
train() {  # train OUT_DIR STEPS [--set ...]
  local out=$1 steps=$2
  shift 2
  local resume=()
  [ -d "$out/checkpoints" ] && resume=(--resume)
  "$BIN"/mome_train --config configs/demo/train.yaml --out "$out" "${paths[@]}" "${speed[@]}" \
    --set "train.max_steps=$steps" --set "train.seed=${DEMO_SEED:-1}" "$@" "${resume[@]}"
}
train "$RUN/asr" "$ASR_STEPS" --set model.modality=asr --set model.video_rates=[] --set video_encoder.preset= \
  "${SEQUENCES[@]}"
# Lip reading before fusion (issue 21): an AVSR stage straight from the ASR model leans on the ears (600 steps: 0 dB
# babble 49.2 % WER where its lips alone give 38.3); after lip-reading steps the fused model looks (300 steps, seeds
# 1 and 2: 0 dB 29.3 / 33.6 %, VSR 20.7 / 27.5; 600 steps, seed 1: 13.5 %, VSR 13.3). DEMO_LIP_STEPS=0 skips it. Its validation hears clean audio, which this stage never trains on: only its last step is evaluated and
# kept, so the AVSR stage always starts from the end of it.
# The lip-reading stage froze the audio encoder, so its checkpoint lacks it: the AVSR stage takes it from the ASR run
# (init_from: each tensor from the first run in the list that has it).
av_init=$RUN/asr
if [ "$LIP_STEPS" -gt 0 ]; then
  train "$RUN/lips" "$LIP_STEPS" --set "train.init_from=$RUN/asr" --set train.lr=0.0015 \
    --set train.audio_drop_prob=1.0 --set audio_encoder.trainable=false --set "train.eval_every=$LIP_STEPS" \
    --set "train.checkpoint_every=$LIP_STEPS"
  av_init="[$RUN/lips,$RUN/asr]"
fi
train "$RUN" "$STEPS" --set "train.init_from=$av_init" --set train.lr=0.0015 --set "train.noise_prob=$NOISE_PROB" \
  --set train.snr_min=-5 --set train.snr_max=15 --set "train.audio_drop_prob=${DEMO_AUDIO_DROP_PROB:-0}" \
  "${AV_SEQUENCES[@]}"
train "$RUN/vsr" "$VSR_STEPS" --set model.modality=vsr --set model.audio_rates=[] --set audio_encoder.preset= \
  --set "train.init_from=$RUN" --set train.lr=0.0015

echo "== 5/5 decoding the test split (unseen voices and sentences)" >&2
mkdir -p "$RUN/decode"
# Decodings run side by side, one CPU thread each: a tiny model's decode leaves a second thread mostly idle.
JOBS=$PROCS
background() {  # background LOG COMMAND...: one thread, stderr to LOG, at most JOBS at once; a failure stops the demo
  local log=$1
  shift
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  (OMP_NUM_THREADS=1 "$@" 2> "$log" || { echo "demo: failed: $* (last line of $log: $(tail -1 "$log"))" >&2; exit 1; }) &
}
finish() { while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n; done; }
decode() {  # decode MODEL MODALITY AUDIO_RATE VIDEO_RATE [--snr-sweep]: $RUN/decode/NAME.jsonl or NAME_snr.md
  local model=$1 modality=$2 rates=() name=$2 out
  [ "$3" != - ] && rates+=(--audio-rate "$3") && name+="_a$3"
  [ "$4" != - ] && rates+=(--video-rate "$4") && name+="_v$4"
  out=$RUN/decode/$name.jsonl
  [ "${5:-}" = --snr-sweep ] && out=$RUN/decode/${name}_snr.md && name+=_snr
  background "$RUN/decode/$name.log" "$BIN"/mome_decode --model "$model" --prepared "$RUN/prepared/test" \
    --modality "$modality" "${rates[@]}" --beam-size 4 --max-new-tokens 10 ${5:+"$5"} --output "$out"
}
row() {  # row NAME MODALITY AUDIO_RATE VIDEO_RATE: the summary line "... WER 12.34% (89 errors / 720 words: ..."
  local log=$RUN/decode/$1.log
  printf '| %s | %s | %s | %s | %s |\n' "$2" "$3" "$4" \
    "$(sed -n 's/.*WER \([0-9.]*\)% (\([0-9]*\) errors \/ \([0-9]*\) words.*/\1/p' "$log" | tail -1)" \
    "$(sed -n 's/.*WER \([0-9.]*\)% (\([0-9]*\) errors \/ \([0-9]*\) words.*/\2 \/ \3/p' "$log" | tail -1)"
}
# The babble sweeps (WER against SNR, the same babble for each model; seven decodings each) go first, so that the
# short clean decodings fill the gaps at the end.
for a in ${DEMO_SWEEP_AUDIO_RATES:-4 8}; do decode "$RUN" avsr "$a" 2 --snr-sweep; decode "$RUN/asr" asr "$a" - --snr-sweep; done
for a in 4 8; do for v in 2 4; do decode "$RUN" avsr "$a" "$v"; done; done
for a in 4 8; do decode "$RUN/asr" asr "$a" -; done
for v in 2 4; do decode "$RUN/vsr" vsr - "$v"; done
finish
table="$RUN/decode/wer.md"
{
  printf '| modality | audio rate | video rate | WER %% | errors / words |\n|---|---|---|---|---|\n'
  for a in 4 8; do for v in 2 4; do row "avsr_a${a}_v$v" avsr "$a" "$v"; done; done
  for a in 4 8; do row "asr_a$a" asr "$a" -; done
  for v in 2 4; do row "vsr_v$v" vsr - "$v"; done
} > "$table"
cat "$table"
noise="$RUN/decode/noise.md"
{
  printf '| SNR (dB) |'; for f in "$RUN"/decode/*_snr.md; do printf ' %s |' "$(basename "$f" _snr.md)"; done
  printf '\n|---|'; for f in "$RUN"/decode/*_snr.md; do printf -- '---|'; done; printf '\n'
  for snr in -5 0 5 10 15 20 clean; do
    printf '| %s |' "$snr"
    for f in "$RUN"/decode/*_snr.md; do printf ' %s |' "$(awk -F'|' -v s="$snr" '$2 ~ "^ *"s" *$" {gsub(/ /, "", $3); print $3}' "$f")"; done
    printf '\n'
  done
} > "$noise"
plots=()
for f in "$RUN"/decode/*_snr.md.dat; do plots+=("'$f' using 1:2 with linespoints lw 2 title '$(basename "$f" _snr.md.dat)'"); done
printf 'set terminal pngcairo size 800,500\nset output "%s"\nset grid\nset xlabel "SNR of babble (dB)"\nset ylabel "WER (%%)"\nplot %s\n' \
  "$RUN/decode/noise.png" "$(IFS=,; echo "${plots[*]}")" | gnuplot
cat "$noise"
echo "demo: finished in $(( $(date +%s) - start )) s after the build; model in $RUN, hypotheses in $RUN/decode" >&2
