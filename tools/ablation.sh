#!/usr/bin/env bash
# MoME vs Matryoshka-LoRA on the demo corpus (issue 21): same data, steps, schedule and noise for every method,
# several seeds, every rate pair decoded with beam 4, an SNR sweep, then docs/ablation/README.md. Not part of CI.
#   tools/ablation.sh               # resumes: a finished training or decode is skipped, a killed one continues
# Design (why: docs/ablation/README.md):
#   1. base: the demo's ASR stage without adapters (LLM, audio encoder and projector trainable), ABLATION_BASE_STEPS.
#      Its Llama, exported (tools/export_llm.py), is the frozen "pretrained LLM" every method adapts — the paper's
#      setting (frozen LLM, trainable adapters), which a from-scratch demo LLM cannot give otherwise.
#   2. each method x seed: AVSR at audio rates {4,16} x video rates {2,5} (16 and 5: the paper's strongest
#      compression), initialised from the base (encoders and audio projectors), LLM frozen, ABLATION_STEPS steps,
#      babble noise on ABLATION_NOISE_PROB of the clips at SNR -5..15 dB (Llama-AVSR's augmentation).
#   3. decode the test split (unseen voices, held-out sentences) at the four pairs, beam 4, and an SNR sweep
#      (-5..20 dB, clean) at the strongest compression (16,5) and the weakest (4,2).
# ABLATION_RUN (runs/ablation), ABLATION_SEEDS ("1 2 3"), ABLATION_METHODS (all seven), ABLATION_BASE_STEPS (1000),
# ABLATION_STEPS (300), ABLATION_NOISE_PROB (0.5).
set -euo pipefail
cd "$(dirname "$0")/.."
# Everything runs inside main, which bash parses whole before running it: editing this file while a study runs
# (it takes hours) cannot change the running one.
main() {
[ "${MOME_SKIP_BUILD:-0}" = 1 ] || ./tools/build.sh
BIN=${BUILD_DIR:-build}/tools
RUN=${ABLATION_RUN:-runs/ablation}
SEEDS=${ABLATION_SEEDS:-1 2 3}
METHODS=${ABLATION_METHODS:-llama-avsr-ms mtsk-ss mtsk-mss mome-mhsa mome-layer mome-no-shared mome-top1}
BASE_STEPS=${ABLATION_BASE_STEPS:-1000}
STEPS=${ABLATION_STEPS:-300}
NOISE_PROB=${ABLATION_NOISE_PROB:-0.5}
start=$(date +%s)
tools/demo_data.sh "$RUN"

data=(--set "train.data=$RUN/prepared/train" --set "train.val_data=$RUN/prepared/val")
train() {  # train OUT STEPS [--set ...]: resumes a run that has checkpoints, skips a finished one
  local out=$1 steps=$2
  shift 2
  [ -f "$out/finished" ] && return 0
  local resume=()
  [ -d "$out/checkpoints" ] && resume=(--resume)
  "$BIN"/mome_train --config configs/demo/train.yaml --out "$out" "${data[@]}" --set "train.max_steps=$steps" \
    --set train.eval_every=0 --set train.checkpoint_every=100 "$@" "${resume[@]}" 2> "$out.log" \
    || { tail -5 "$out.log" >&2; return 1; }
  touch "$out/finished"
}

echo "== base: ASR without adapters, $BASE_STEPS steps" >&2
mkdir -p "$RUN/methods"
train "$RUN/base" "$BASE_STEPS" --set "llm.path=$RUN/llm" --set model.modality=asr --set model.audio_rates=[4,16] \
  --set model.video_rates=[] --set video_encoder.preset= --set adapters.kind=none
[ -d "$RUN/base_llm" ] || tools/export_llm.py "$RUN/base" "$RUN/llm" "$RUN/base_llm"

# Adapters of each method, scaled from the paper's (Llama-3.2-3B, d 3072: LoRA rank d/32 = 96, 27.5M parameters;
# MoME-23/4: 23 routed experts, top-4, 1 shared, bottleneck 12 = rank / 8) to the demo Llama (d 128): LoRA rank
# d/8 = 16, MoME 23 experts, top-4, 1 shared, bottleneck 2 = rank / 8.
method_settings() {
  local lora=(adapters.kind=lora adapters.lora_reduction=8 adapters.lora_alpha=8.0 adapters.placement=layer)
  local mome=(adapters.kind=mome adapters.num_experts=23 adapters.top_k=[4] adapters.num_shared=1
    adapters.bottleneck=2 adapters.placement=layer)
  case $1 in
    llama-avsr-ms) echo "${lora[*]} adapters.lora_variant=ms" ;;   # one LoRA for every rate pair
    mtsk-ss) echo "${lora[*]} adapters.lora_variant=ss" ;;         # one LoRA per rate pair
    mtsk-mss) echo "${lora[*]} adapters.lora_variant=mss" ;;       # both, summed
    mome-mhsa) echo "${mome[*]} adapters.placement=mhsa" ;;
    mome-layer) echo "${mome[*]}" ;;
    mome-no-shared) echo "${mome[*]} adapters.num_shared=0" ;;
    mome-top1) echo "${mome[*]} adapters.top_k=[1]" ;;
    *) echo "ablation.sh: unknown method '$1'" >&2; return 1 ;;
  esac
}

decode() {  # decode MODEL_DIR AUDIO_RATE VIDEO_RATE [--snr-sweep]: writes MODEL_DIR/decode/a{A}_v{V}[_snr].md
  local model=$1 a=$2 v=$3 sweep=${4:-} name=a$2_v$3
  [ -n "$sweep" ] && name+=_snr
  local out=$model/decode/$name.md
  [ -f "$out" ] && return 0
  mkdir -p "$model/decode"
  if [ -n "$sweep" ]; then
    "$BIN"/mome_decode --model "$model" --prepared "$RUN/prepared/test" --modality avsr --audio-rate "$a" \
      --video-rate "$v" --beam-size 4 --max-new-tokens 10 --snr-sweep --output "$out" 2> "$model/decode/$name.log"
  else
    "$BIN"/mome_decode --model "$model" --prepared "$RUN/prepared/test" --modality avsr --audio-rate "$a" \
      --video-rate "$v" --beam-size 4 --max-new-tokens 10 --output "$model/decode/$name.jsonl" \
      2> "$model/decode/$name.log"
    grep -o 'WER [0-9.]*% ([0-9]* errors / [0-9]* words' "$model/decode/$name.log" | tail -1 > "$out.tmp"
    mv "$out.tmp" "$out"
  fi
}

run_method() {  # run_method METHOD SEED: train, count parameters, decode
  local method=$1 seed=$2 out=$RUN/methods/$1/seed$2 sets=()
  mkdir -p "$(dirname "$out")"
  echo "== $method, seed $seed ($(( $(date +%s) - start )) s so far)" >&2
  for s in $(method_settings "$method"); do sets+=(--set "$s"); done
  sets+=(--set "llm.path=$RUN/base_llm" --set llm.trainable=false --set "train.init_from=$RUN/base"
    --set model.audio_rates=[4,16] --set model.video_rates=[2,5] --set "train.seed=$seed"
    --set "train.noise_prob=$NOISE_PROB" --set train.snr_min=-5 --set train.snr_max=15)
  [ -s "$out.params" ] || "$BIN"/mome_train --config configs/demo/train.yaml --out "$out" "${data[@]}" "${sets[@]}" \
    --dry-run > "$out.params" 2>&1  # the parameter table (it goes to stderr)
  train "$out" "$STEPS" "${sets[@]}"
  for a in 4 16; do for v in 2 5; do decode "$out" "$a" "$v"; done; done
  decode "$out" 4 2 --snr-sweep
  decode "$out" 16 5 --snr-sweep
}

for seed in $SEEDS; do  # seed-major: after each seed, every method has the same number of runs
  for method in $METHODS; do run_method "$method" "$seed"; done
  # A report that fails must not stop the study: the runs are what takes hours.
  python3 tools/ablation_report.py "$RUN" docs/ablation --command "tools/ablation.sh" || echo "ablation: the report failed (runs kept; rerun tools/ablation_report.py)" >&2
done
echo "ablation: finished in $(( $(date +%s) - start )) s; report in docs/ablation/README.md" >&2
}
main "$@"; exit $?
