#!/usr/bin/env bash
# Recordings without speech in, words out: 10 s of digital silence, white noise, and a music-like tone chord with a
# beat (gray mouth frames for the video), decoded by mome_decode as files. Prints a markdown table of words per file.
#   tools/nospeech_check.sh MODEL_RUN OUT_DIR [mome_decode options ...]
set -euo pipefail
model=$1 out=$2
shift 2
BIN=${BUILD_DIR:-build}/tools
mkdir -p "$out"
video=(-f lavfi -i "color=c=gray:s=96x96:r=25:d=10")
make() {  # make NAME AUDIO_SOURCE
  ffmpeg -nostdin -v error -y "${video[@]}" -f lavfi -i "$2" -t 10 -c:v libx264 -pix_fmt yuv420p -c:a aac \
    -shortest "$out/$1.mp4"
}
make silence "anullsrc=r=16000:cl=mono"
make noise "anoisesrc=r=16000:a=0.2:d=10"
make tones "aevalsrc=0.2*sin(2*PI*262*t)+0.2*sin(2*PI*330*t)+0.2*sin(2*PI*392*t)*(0.6+0.4*sin(2*PI*2*t)):s=16000:d=10"
"$BIN"/mome_decode --model "$model" "$out"/{silence,noise,tones}.mp4 "$@" > "$out/nospeech.jsonl" 2> "$out/nospeech.log"
printf '| input (10 s) | words out |\n|---|---|\n'
python3 -c '
import json, sys
for line in open(sys.argv[1]):
    j = json.loads(line)
    print("| %s | %d |" % (j["key"], len(j.get("text", "").split())))' "$out/nospeech.jsonl"
