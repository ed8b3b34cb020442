#!/usr/bin/env python3
"""HF transformers' WhisperEncoder timed on the shapes bench/whisper_bench uses: random weights of a config.json,
bf16 on CUDA, 30 s of log-mel (3000 frames) at batch 1 and 8; median (min-max) of --repeat after three warm-up
runs. --compile adds torch.compile(encoder) (default mode; compiled during the warm-up) as a second peer.
Prints a small table (the reference columns of the Whisper section of bench/run_gpu.sh)."""
import argparse
import json
import statistics

import torch
from transformers import WhisperConfig
from transformers.models.whisper.modeling_whisper import WhisperEncoder


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", required=True)
    ap.add_argument("--batch", default="1,8")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--compile", action="store_true")
    args = ap.parse_args()
    cfg = json.load(open(args.config))
    config = WhisperConfig(d_model=cfg["d_model"], encoder_layers=cfg["encoder_layers"],
                           encoder_attention_heads=cfg["encoder_attention_heads"],
                           encoder_ffn_dim=cfg["encoder_ffn_dim"], num_mel_bins=cfg["num_mel_bins"],
                           max_source_positions=cfg["max_source_positions"])
    model = WhisperEncoder(config).to("cuda", torch.bfloat16).eval()
    peers = [("HF WhisperEncoder", model)]
    if args.compile:
        peers.append(("HF WhisperEncoder, torch.compile", torch.compile(model)))
    for name, peer in peers:
        print(f"{name} (30 s, bf16)   ms (min-max)")
        for b in map(int, args.batch.split(",")):
            mel = torch.randn(b, cfg["num_mel_bins"], 3000, device="cuda", dtype=torch.bfloat16)
            times = []
            with torch.inference_mode():
                for r in range(args.repeat + 3):
                    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    start.record()
                    peer(mel)
                    end.record()
                    torch.cuda.synchronize()
                    if r >= 3:
                        times.append(start.elapsed_time(end))
            print(f"batch {b:<2}                         {statistics.median(times):8.2f} "
                  f"({min(times):.2f}-{max(times):.2f})", flush=True)

if __name__ == "__main__":
    main()
