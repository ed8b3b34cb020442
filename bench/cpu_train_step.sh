#!/usr/bin/env bash
# Seconds per training step of the demo's stages on this machine's CPU: a table of the median (min–max) over
# REPEATS short trainings from scratch (the first WARMUP steps are not counted: allocator and caches warm up).
#   bench/cpu_train_step.sh RUN [STAGE ...]      RUN: a demo run folder (tools/demo_data.sh RUN made its data)
# Stages: asr (the ASR stage, with its joins and padding), avsr (the AVSR stage with babble), avsr-joined (the AVSR
# stage with the ASR stage's joins and padding), lips (audio silenced, audio encoder frozen). Default: asr avsr.
# REPEATS (3), STEPS (60), WARMUP (10), THREADS (2) and BUILD_DIR change it; EXTRA adds options to every training
# (e.g. EXTRA="--set video_encoder.roi_pool=2"). Nothing here is a test: it only times.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:?usage: bench/cpu_train_step.sh RUN [asr|avsr|avsr-joined|lips ...]}
shift
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(asr avsr)
BIN=${BUILD_DIR:-build}/tools
REPEATS=${REPEATS:-3} STEPS=${STEPS:-60} WARMUP=${WARMUP:-10}
[ "$STEPS" -ge $((WARMUP + 10)) ] || { echo "cpu_train_step: STEPS ($STEPS) must be at least WARMUP + 10 ($((WARMUP + 10)))" >&2; exit 1; }
[ -d "$RUN/prepared/train" ] && [ -f "$RUN/llm/config.json" ] ||
  { echo "cpu_train_step: $RUN has no prepared/train or llm/ (make them with tools/demo_data.sh $RUN)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
joins=(--set train.join_prob=0.3 --set train.pause_max_seconds=1.0 --set train.pad_max_seconds=0.5)
babble=(--set train.noise_prob=0.3 --set train.snr_min=-5 --set train.snr_max=15)
options_of() {  # the demo's options for a stage (tools/demo.sh)
  case $1 in
    asr) echo --set model.modality=asr --set model.video_rates=[] --set video_encoder.preset= "${joins[@]}" ;;
    avsr) echo "${babble[@]}" ;;
    avsr-joined) echo "${babble[@]}" "${joins[@]}" ;;
    lips) echo --set train.audio_drop_prob=1.0 --set audio_encoder.trainable=false ;;
    *) echo "cpu_train_step: unknown stage '$1' (asr, avsr, avsr-joined, lips)" >&2; return 1 ;;
  esac
}
# Seconds per step between the progress lines of step WARMUP and the last one ("[hh:mm:ss.mmm] ... N/M steps").
seconds_per_step() {
  python3 - "$1" "$WARMUP" <<'EOF'
import re, sys
times = {}
for line in open(sys.argv[1]):
    m = re.search(r'\[(\d+):(\d+):([\d.]+)\].* (\d+)/\d+ steps', line)
    if m:
        h, mi, s, step = m.groups()
        times[int(step)] = int(h) * 3600 + int(mi) * 60 + float(s)
first = min(s for s in times if s >= int(sys.argv[2]))
last = max(times)
print((times[last] - times[first]) / (last - first))
EOF
}
printf '| stage | s/step median (min–max) | runs | steps timed |\n|---|---|---|---|\n'
for stage in "${stages[@]}"; do
  read -r -a options <<< "$(options_of "$stage") ${EXTRA:-}"
  values=()
  for ((r = 0; r < REPEATS; r++)); do
    "$BIN"/mome_train --config configs/demo/train.yaml --out "$work/$stage$r" --set "llm.path=$RUN/llm" \
      --set "train.data=$RUN/prepared/train" --set "train.val_data=$RUN/prepared/val" --set "train.max_steps=$STEPS" \
      --set "train.threads=${THREADS:-2}" --set train.eval_every=100000 --set train.checkpoint_every=100000 \
      --set train.eval_max_clips=1 --set train.log_every=5 "${options[@]}" > "$work/$stage$r.log" 2>&1 ||
      { tail -3 "$work/$stage$r.log" >&2; exit 1; }
    values+=("$(seconds_per_step "$work/$stage$r.log")")
  done
  printf '%s\n' "${values[@]}" | sort -g | awk -v s="$stage" -v n="$REPEATS" -v steps=$((STEPS - WARMUP)) \
    '{v[NR] = $1} END {printf "| %s | %.3f (%.3f–%.3f) | %d | %d |\n", s, v[int((NR + 1) / 2)], v[1], v[NR], n, steps}'
done
