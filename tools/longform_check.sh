#!/usr/bin/env bash
# Long recordings against clip-by-clip decoding, on a test split in the LRS3 layout (what tools/demo.sh makes):
# files of GROUP consecutive test clips are concatenated, once back to back and once with GAP s of silence (gray
# mouth frames) between them; mome_decode decodes them as whole files (cut at pauses into pieces of at most
# --max-segment-seconds) and the WER of the joined text is set beside the WER of decoding the same clips one by one.
#   tools/longform_check.sh MODEL_RUN SPLIT_DIR OUT_DIR [mome_decode options ...]
# Prints a markdown table; its rows also go to OUT_DIR/longform.md.
set -euo pipefail
model=$1 split=$2 out=$3
shift 3
BIN=${BUILD_DIR:-build}/tools
GROUP=${GROUP:-8}
GAP=${GAP:-1}
mkdir -p "$out/joined" "$out/gapped"
mapfile -t clips < <(find "$split" -name '*.mp4' | sort)
[ ${#clips[@]} -gt 0 ] || { echo "longform_check: no clips under $split" >&2; exit 1; }
rate=$(ffprobe -v error -select_streams a:0 -show_entries stream=sample_rate -of csv=p=0 "${clips[0]}")
ffmpeg -nostdin -v error -y -f lavfi -i "color=c=gray:s=96x96:r=25:d=$GAP" -f lavfi \
  -i "anullsrc=r=$rate:cl=mono" -t "$GAP" -c:v libx264 -pix_fmt yuv420p -c:a aac "$out/silence.mp4"
: > "$out/ref.txt"
concat() {  # concat OUT FILE...
  local target=$1 inputs=() filter="" n=0
  shift
  for f in "$@"; do inputs+=(-i "$f"); filter+="[$n:v][$n:a]"; n=$((n + 1)); done
  ffmpeg -nostdin -v error -y "${inputs[@]}" -filter_complex "${filter}concat=n=$n:v=1:a=1[v][a]" -map '[v]' \
    -map '[a]' -c:v libx264 -crf 18 -pix_fmt yuv420p -c:a aac "$target"
}
for ((g = 0; g * GROUP < ${#clips[@]}; g++)); do
  part=("${clips[@]:g*GROUP:GROUP}")
  text="" gapped=()
  for f in "${part[@]}"; do
    text+="$(sed -n 's/^Text:[[:space:]]*//p' "${f%.mp4}.txt") "
    gapped+=("$f" "$out/silence.mp4")
  done
  name=$(printf 'long%03d' "$g")
  concat "$out/joined/$name.mp4" "${part[@]}"
  concat "$out/gapped/$name.mp4" "${gapped[@]}"
  echo "$name ${text% }" >> "$out/ref.txt"
done
row() {  # row LABEL HYP.jsonl
  local wer
  wer=$("$BIN"/mome_wer --ref "$out/ref.txt" --hyp "$2" | tail -1 | sed -n 's/.*"wer":\([0-9.e+-]*\).*/\1/p')
  printf '| %s | %s |\n' "$1" "$wer"
}
"$BIN"/mome_decode --model "$model" --data "$split" "$@" --output "$out/clips.jsonl" 2> "$out/clips.log"
clip_wer=$(sed -n 's/.*WER \([0-9.]*\)%.*/\1/p' "$out/clips.log" | tail -1)
for kind in joined gapped; do
  "$BIN"/mome_decode --model "$model" "$out/$kind"/*.mp4 "$@" --output "$out/$kind.jsonl" 2> "$out/$kind.log"
done
{
  printf '| decoding | WER %% |\n|---|---|\n| clip by clip (%s clips) | %s |\n' "${#clips[@]}" "$clip_wer"
  row "files of $GROUP clips back to back" "$out/joined.jsonl"
  row "files of $GROUP clips with $GAP s pauses" "$out/gapped.jsonl"
} | tee "$out/longform.md"
