#!/usr/bin/env bash
# The decorrelation loss's effect on attention sinks (issue 10), on the demo's corpus and tiny Llama (run
# tools/demo.sh first): trains the same ASR model twice, without and with the decorrelation loss, then decodes the
# test split and runs mome_analyze on one test clip for each, and writes docs/sinks/README.md with both reports
# side by side (figures in docs/sinks/{plain,decorrelated}/).
#   tools/sink_demo.sh [STEPS]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BUILD_DIR:-build}/tools
RUN=${RUN:-runs/demo}
STEPS=${1:-200}
OUT=docs/sinks
[ -f "$RUN/llm/config.json" ] || { echo "sink_demo: run tools/demo.sh first (needs $RUN/llm and $RUN/prepared)" >&2; exit 1; }
common=(--config configs/demo/train.yaml --set "llm.path=$RUN/llm" --set "train.data=$RUN/prepared/train"
        --set "train.val_data=$RUN/prepared/val" --set "train.max_steps=$STEPS" --set model.modality=asr
        --set model.video_rates=[] --set video_encoder.preset= --set "train.eval_every=$STEPS"
        --set "train.checkpoint_every=$STEPS")
declare -A lambda=([plain]=0 [decorrelated]=${DECORRELATION:-100})
for name in plain decorrelated; do
  out="$RUN/sinks_$name"
  resume=()
  [ -d "$out/checkpoints" ] && resume=(--resume)
  "$BIN"/mome_train "${common[@]}" --set "loss.decorrelation=${lambda[$name]}" --out "$out" "${resume[@]}"
  "$BIN"/mome_decode --model "$out" --prepared "$RUN/prepared/test" --modality asr --beam-size 4 \
    --max-new-tokens 10 --output "$out/test.jsonl" 2> "$out/decode.log"
  rm -rf "${OUT:?}/$name"
  "$BIN"/mome_analyze --model "$out" --prepared "$RUN/prepared/test" --index 0 --out "$OUT/$name" > "$OUT/$name.txt"
  rm -rf "$OUT/$name/plot_data"
done
python3 - "$OUT" "$RUN" "$STEPS" "${lambda[decorrelated]}" <<'PY'
import json, re, sys
out, run, steps, lam = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows = []
for name in ("plain", "decorrelated"):
    r = json.load(open(f"{out}/{name}/report.json"))
    log = open(f"{run}/sinks_{name}/decode.log").read()
    wer = re.findall(r"WER ([0-9.]+)%", log)
    for layer in r["layers"]:
        others = [c for t, c in enumerate(layer["cos_to_bos"]) if t > 0]
        rows.append(f"| {name} | {layer['layer']} | {max(layer['bos_sink_score']):.3f} | "
                    f"{sum(others) / len(others):.3f} | {layer['hidden_max_abs']:.2f} | {layer['hidden_median_abs']:.3f} | "
                    f"{len(layer['massive'])} | {len(layer['sinks'])} | {wer[-1] if wer else '?'} |")
doc = f"""# Decorrelation loss and attention sinks on the demo model

Made by `tools/sink_demo.sh {steps}` (after `tools/demo.sh`): the demo's ASR recipe trained twice for {steps} steps,
with `loss.decorrelation` 0 and {lam} (SPEC.md §3; the paper's λ is 1e4 for a pretrained 3B Llama whose sinks have
cos ≈ 1 with BOS — here c² is ~1e-2 at the start, and λ {lam} makes the term comparable to the cross-entropy), then `mome_analyze` on test clip 0 and `mome_decode` on the
test split (120 clips, unseen voices). Columns: the largest BOS sink score over heads, the mean cos(h_t, h_BOS)
over the other tokens, max and median |h|, massive activations, sink positions (score > 0.3 in some head), test WER.

| model | layer | max BOS sink score | mean cos to BOS | max abs h | median abs h | massive | sinks | test WER % |
|---|---|---|---|---|---|---|---|---|
""" + "\n".join(rows) + """

Figures: `plain/` and `decorrelated/` (attention maps of the first and last layer, sink score per layer and role,
magnitudes, cos-to-BOS). A two-layer model trained for minutes is far from the Llama-3.2-3B of SPEC.md §7: it shows
that the pipeline measures and the loss acts, not the paper's finding.
"""
open(f"{out}/README.md", "w").write(doc)
print(doc)
PY
