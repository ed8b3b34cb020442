#!/usr/bin/env bash
# mome_prepare throughput (issue 5): clips/s for each mouth-ROI mode and thread count, on a synthetic corpus made by
# mome_synth (96x96 mouth crops for precropped; 224x224 whole faces with landmark files for detect/landmarks).
# Prints a markdown table. Timing is wall clock of the whole tool run (decode + crop + write), median of --repeat.
#   bench/prepare_bench.sh [BUILD_DIR] [--count N] [--repeat R] [--threads "1 2"]
set -euo pipefail
BUILD=build
COUNT=48
REPEAT=3
THREADS="1 2"
while [ $# -gt 0 ]; do
  case "$1" in
    --count) COUNT=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    *) BUILD=$1; shift ;;
  esac
done
TOOLS=$BUILD/tools
[ -x "$TOOLS/mome_prepare" ] || { echo "prepare_bench: $TOOLS/mome_prepare not built" >&2; exit 1; }
WORK=$(mktemp -d /tmp/mome_prepare_bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

"$TOOLS/mome_synth" --out "$WORK/crops" --count "$COUNT" --split test --seed 1 --threads 2 2>/dev/null
"$TOOLS/mome_synth" --out "$WORK/faces" --count "$COUNT" --split test --seed 1 --threads 2 --face 2>/dev/null
SECONDS_OF_MEDIA=$(for f in "$WORK"/crops/test/*/*.mp4; do
  ffprobe -v error -show_entries format=duration -of csv=p=0 "$f"; done | awk '{s += $1} END {printf "%.1f", s}')

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

echo "| ROI mode | input | threads | clips | media s | wall s (median of $REPEAT) | clips/s | × real time |"
echo "|---|---|---|---|---|---|---|---|"
for mode in precropped detect landmarks; do
  root=$WORK/faces; input="224x224 face"
  [ "$mode" = precropped ] && { root=$WORK/crops; input="96x96 crop"; }
  for t in $THREADS; do
    times=""
    for r in $(seq "$REPEAT"); do
      out=$WORK/out_${mode}_${t}_$r
      start=$(date +%s.%N)
      "$TOOLS/mome_prepare" --corpus lrs3 --root "$root" --split test --roi "$mode" --out "$out" --threads "$t" \
        2>/dev/null
      end=$(date +%s.%N)
      times="$times $(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')"
      rm -rf "$out"
    done
    wall=$(echo $times | tr ' ' '\n' | median)
    awk -v m="$mode" -v i="$input" -v t="$t" -v n="$COUNT" -v s="$SECONDS_OF_MEDIA" -v w="$wall" \
      'BEGIN {printf "| %s | %s | %s | %d | %s | %.2f | %.1f | %.0f |\n", m, i, t, n, s, w, n / w, s / w}'
  done
done
echo
echo "Command: bench/prepare_bench.sh $BUILD --count $COUNT --repeat $REPEAT --threads \"$THREADS\" ($(nproc) cores)"
