#!/usr/bin/env bash
# mome_serve under load next to sequential mome_decode of the same clips (README "mome_serve", load table).
#
#   bench/serve_load.sh [--model RUN] [--clients 1,4,8] [--requests 48] [--repeats 3] [--max-batch 8]
#
# Without --model it makes a demo-shaped AVSR model (configs/demo: the demo's encoders, Llama, adapters, rates) in
# runs/serve_load, trained for 30 steps: speed does not depend on how well a model is trained, but on its shapes and
# on how many tokens it writes, which --max-new-tokens caps (an untrained model writes up to the cap: the worst case).
# The clips are 16 synthetic GRID sentences (mome_synth, about 2 s each). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="" CLIENTS=1,4,8 REQUESTS=48 REPEATS=3 MAX_BATCH=8 PORT=${PORT:-18123}
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    --requests) REQUESTS="$2"; shift 2 ;;
    --repeats) REPEATS="$2"; shift 2 ;;
    --max-batch) MAX_BATCH="$2"; shift 2 ;;
    *) echo "serve_load.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
BIN=${BUILD_DIR:-build}/tools
RUN=runs/serve_load
[ -d "$RUN/clips" ] || "$BIN"/mome_synth --out "$RUN/clips" --split test --count 16 --seed 7 >&2
if [ -z "$MODEL" ]; then
  MODEL=$RUN/model
  if [ ! -d "$MODEL/checkpoints" ]; then
    "$BIN"/mome_synth --out "$RUN/corpus" --split trainval --count 24 --seed 1 >&2
    "$BIN"/mome_prepare --corpus lrs3 --root "$RUN/corpus" --split trainval --out "$RUN/prepared" >&2
    [ -f "$RUN/llm/config.json" ] || "$BIN"/mome_make_tiny --config configs/demo/llm.yaml --out "$RUN/llm" >&2
    "$BIN"/mome_train --config configs/demo/train.yaml --out "$MODEL" --set "llm.path=$RUN/llm" \
      --set "train.data=$RUN/prepared" --set train.val_data= --set train.max_steps=30 >&2
  fi
fi
mapfile -t CLIPS < <(find "$RUN/clips" -name '*.mp4' | sort)

"$BIN"/mome_serve --model "$MODEL" --port "$PORT" --max-batch "$MAX_BATCH" --max-wait-ms 10 --threads 16 \
  2>"$RUN/serve.log" &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
echo "## mome_serve: $MODEL, --max-batch $MAX_BATCH, $(nproc) cores, $(date -u +%F)"
python3 bench/serve_load.py --url "http://127.0.0.1:$PORT" --clips "${CLIPS[@]}" --clients "$CLIENTS" \
  --requests "$REQUESTS" --repeats "$REPEATS"
kill -TERM $SERVER; wait $SERVER || true; trap - EXIT

echo
echo "## sequential mome_decode of the same ${#CLIPS[@]} clips, the model's first rate pair (beam 1, batch 1)"
start=$(date +%s.%N)
"$BIN"/mome_decode --model "$MODEL" --beam-size 1 --batch-size 1 --max-new-tokens 64 "${CLIPS[@]}" >/dev/null \
  2>"$RUN/decode.log"
end=$(date +%s.%N)
python3 -c "import sys; n=int(sys.argv[1]); s=float(sys.argv[3])-float(sys.argv[2]); \
print(f'{n} clips in {s:.2f} s: {n/s:.2f} clips/s (one process start included)')" "${#CLIPS[@]}" "$start" "$end"
