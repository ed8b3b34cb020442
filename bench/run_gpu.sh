#!/usr/bin/env bash
# One command on the GPU machine (device tool): builds libmome with CUDA, runs its tests, then times libmome
# and the Python reference (HF transformers) on the same Llama-3.2-1B-shaped random bf16 weights, and writes
# bench/results/<date>-<gpu>.md (also copied to $OUT when set).
#   bench/run_gpu.sh [--skip-tests]
set -euo pipefail
cd "$(dirname "$0")/.."
SKIP_TESTS=0
[ "${1:-}" = "--skip-tests" ] && SKIP_TESTS=1
BUILD_DIR=${BUILD_DIR:-build-cuda}
MODEL_DIR=${MODEL_DIR:-/tmp/mome_llama_1b}
PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' ' '_')
DATE=$(date +%Y-%m-%d)
LOG=${OUT:-/tmp}/gpu_run.log

echo "== configure + build ($BUILD_DIR, LibTorch from $PREFIX)" | tee "$LOG"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMOME_WITH_MEDIA=OFF \
  -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_CUDA_ARCHITECTURES=90 >>"$LOG" 2>&1 || { tail -40 "$LOG"; exit 1; }
cmake --build "$BUILD_DIR" -j "$(nproc)" >>"$LOG" 2>&1 || { grep -E "error|Error" "$LOG" | head -40; exit 1; }

if [ "$SKIP_TESTS" = 0 ]; then
  echo "== tests" | tee -a "$LOG"
  # Test failures are reported, not fatal: the timings below are still worth having.
  { OMP_NUM_THREADS=2 ctest --test-dir "$BUILD_DIR" --output-on-failure -j 8 -E install_and_build_example 2>&1 || true; } \
    > "${OUT:-/tmp}/gpu_tests.log"
  grep -E "tests passed|FAILED|Failed|SEGFAULT|cuda (Float|BFloat16)" "${OUT:-/tmp}/gpu_tests.log" | tee -a "$LOG" || true
fi

echo "== Python reference (HF transformers)" | tee -a "$LOG"
HF_JSON=$(PYTHONUNBUFFERED=1 python3 bench/reference/hf_llama_decode.py --model "$MODEL_DIR" --make-1b \
  --prompt-len 300 --new-tokens 32 --batch 1,8 --beams 1,4 --repeat 3 2>>"$LOG" | grep '^{')
echo "$HF_JSON" | tee -a "$LOG"
echo "== libmome" | tee -a "$LOG"
MOME_JSON=$("$BUILD_DIR"/bench/mome_bench --model "$MODEL_DIR" --device cuda --dtype bf16 --prompt-len 300 \
  --new-tokens 32 --batch 1,8 --beams 1,4 --repeat 3 --json 2>>"$LOG")
echo "$MOME_JSON" | tee -a "$LOG"

# Floor for decoding: every weight byte read once per step, at the measured device copy bandwidth.
FLOOR=$(python3 - "$MODEL_DIR" <<'PY'
import os, sys, torch
size = os.path.getsize(os.path.join(sys.argv[1], "model.safetensors"))
x = torch.empty(1 << 30, dtype=torch.uint8, device="cuda"); y = torch.empty_like(x)
for _ in range(3): y.copy_(x)
torch.cuda.synchronize(); s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
s.record(); [y.copy_(x) for _ in range(20)]; e.record(); torch.cuda.synchronize()
bw = 2 * 20 * x.numel() / (s.elapsed_time(e) / 1000)  # bytes read + written per second
print(f"{size / bw * 1000:.3f} {bw / 1e12:.2f}")
PY
)
FLOOR_MS=${FLOOR% *}; BW=${FLOOR#* }

echo "== adapters (forward+backward, Llama-3.2-1B shapes, batch 8 x 300)" | tee -a "$LOG"
ADAPTERS=$("$BUILD_DIR"/bench/adapter_bench --config bench/configs/llama-3.2-1b.json --device cuda --dtype bf16 \
  --batch 8 --tokens 300 --repeat 10 2>>"$LOG" || true)
echo "$ADAPTERS" | tee -a "$LOG"
echo "== Whisper-medium encoder (random bf16 weights)" | tee -a "$LOG"
WHISPER=$("$BUILD_DIR"/bench/whisper_bench --config bench/configs/whisper-medium.json --random-init --device cuda \
  --dtype bf16 --seconds 10 --repeat 10 2>>"$LOG" || true)
echo "$WHISPER" | tee -a "$LOG"
echo "== AV-HuBERT-Large visual encoder, 10 s of video (random bf16 weights; PyTorch reference on the same)" | tee -a "$LOG"
AVH_DIR=/tmp/mome_avhubert_bench
AVHUBERT=$("$BUILD_DIR"/bench/avhubert_bench --device cuda --dtype bf16 --seconds 10 --batch 1,8 --save "$AVH_DIR" \
  2>>"$LOG" || true)
AVHUBERT_REF=$(python3 bench/reference/avhubert_reference.py --dir "$AVH_DIR" --device cuda --dtype bf16 \
  --batch 1,8 2>>"$LOG" || true)
AVH_F32=$("$BUILD_DIR"/bench/avhubert_bench --device cuda --dtype f32 --seconds 4 --batch 1 --repeat 2 \
  --save "$AVH_DIR-f32" 2>>"$LOG" && python3 bench/reference/avhubert_reference.py --dir "$AVH_DIR-f32" \
  --device cuda --dtype f32 --batch 1 --repeat 2 2>>"$LOG" || true)
# The converter end to end: a fairseq-style fine-tuned checkpoint of the fp32 weights -> convert -> libmome output.
AVH_CONVERT=$(python3 bench/reference/check_avhubert_converter.py "$AVH_DIR-f32" /tmp/mome_avh_fairseq.pt 2>>"$LOG" \
  && python3 tools/convert_avhubert.py /tmp/mome_avh_fairseq.pt /tmp/mome_avh_converted.safetensors 2>>"$LOG" \
  && "$BUILD_DIR"/bench/avhubert_bench --device cuda --dtype f32 --seconds 4 --batch 1 --repeat 1 \
     --weights /tmp/mome_avh_converted.safetensors --save "$AVH_DIR-converted" 2>>"$LOG" >/dev/null \
  && python3 -c "
from safetensors.torch import load_file
a = load_file('$AVH_DIR-f32/io.safetensors')['output']; b = load_file('$AVH_DIR-converted/io.safetensors')['output']
print('converter round trip: max |diff| =', (a - b).abs().max().item())" || echo "converter check failed")
printf '%s\n%s\nfp32 parity: %s\n%s\n' "$AVHUBERT" "$AVHUBERT_REF" "$AVH_F32" "$AVH_CONVERT" | tee -a "$LOG"
echo "== MoBE, Qwen3-30B-A3B-shaped layer" | tee -a "$LOG"
MOBE=$(timeout 120 "$BUILD_DIR"/tools/mome_compress --bench-layer --rank 64 --bases 8 --steps 200 --device cuda \
  2>>"$LOG" || echo "mome_compress --bench-layer did not finish within 120 s")
echo "$MOBE" | tee -a "$LOG"

RESULT=bench/results/$DATE-$GPU.md
mkdir -p bench/results
python3 - "$RESULT" "$FLOOR_MS" "$BW" "$HF_JSON" "$MOME_JSON" <<'PY'
import json, sys, torch, subprocess
path, floor, bw, hf, mome = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
key = lambda r: (r["batch"], r["beams"])
hf = {key(r): r for r in map(json.loads, hf.split("\n")) if r}
mome = {key(r): r for r in map(json.loads, mome.split("\n")) if r}
gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True).stdout.strip()
import transformers
lines = [f"# libmome vs HF transformers on {gpu}", "",
         f"Command: `bench/run_gpu.sh` (torch {torch.__version__}, transformers {transformers.__version__}); "
         f"Llama-3.2-1B shapes, random bf16 weights, prompt 300 tokens, 32 new tokens, medians of 3 runs. "
         f"Floor = weight bytes / measured copy bandwidth ({bw} TB/s).", "",
         "| workload | batch | beams | HF ms/token | libmome ms/token | speed-up | floor ms/token | HF prefill ms | libmome prefill ms |",
         "|---|---|---|---|---|---|---|---|---|"]
for k in sorted(hf):
    h, m = hf[k], mome.get(k)
    if not m: continue
    lines.append(f"| llama_decode | {k[0]} | {k[1]} | {h['ms_per_token']:.2f} | {m['ms_per_token']:.2f} | "
                 f"{h['ms_per_token'] / m['ms_per_token']:.1f}x | {floor:.2f} | {h['prefill_ms']:.1f} | {m['prefill_ms']:.1f} |")
open(path, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
{
  echo
  echo "## Adapters: forward + backward (\`bench/adapter_bench\`)"
  echo; echo '```'; echo "$ADAPTERS"; echo '```'
  echo "## Whisper-medium encoder (\`bench/whisper_bench\`)"
  echo; echo '```'; echo "$WHISPER"; echo '```'
  echo "## AV-HuBERT-Large visual encoder, 10 s (\`bench/avhubert_bench\` vs \`bench/reference/avhubert_reference.py\`)"
  echo; echo '```'; printf '%s\n%s\nfp32 parity: %s\n%s\n' "$AVHUBERT" "$AVHUBERT_REF" "$AVH_F32" "$AVH_CONVERT"; echo '```'
  echo "## MoBE layer (\`mome_compress --bench-layer --rank 64 --bases 8 --steps 200 --device cuda\`)"
  echo; echo '```'; echo "$MOBE"; echo '```'
} >> "$RESULT"
[ -n "${OUT:-}" ] && cp "$RESULT" "$OUT/" || true
