#!/usr/bin/env python3
"""Python reference for the decode benchmark: HF transformers LlamaForCausalLM.generate on the GPU.

    python3 bench/reference/hf_llama_decode.py --model DIR [--make-1b] --prompt-len 300 --new-tokens 32 --batch 1,8

--make-1b first writes a Llama-3.2-1B-shaped checkpoint with random bf16 weights to DIR (config.json +
model.safetensors), so that libmome's mome_bench times the very same weights (--make-only: nothing else; the
AVSR benchmark uses the same checkpoint as its LLM). Prints one JSON line per workload:
{"workload", "batch", "beams", "prefill_ms", "ms_per_token"}; ms/token = (T(n new) - T(1 new)) / (n - 1),
medians over --repeat runs after a warm-up, exactly as mome_bench computes it (and its min/max from the fastest and
slowest full run). --static: HF's compiled path instead of eager: generate(cache_implementation="static"), which
torch.compiles the forward over a static KV cache with CUDA graphs (impl "hf_static"); compilation happens in the
warm-up, once for each generation length, and is reported as compile_s.
"""
import argparse
import json
import os
import statistics
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

LLAMA_32_1B = dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                   num_attention_heads=32, num_key_value_heads=8, head_dim=64, max_position_embeddings=131072,
                   rms_norm_eps=1e-5, tie_word_embeddings=True, bos_token_id=128000, eos_token_id=128001,
                   rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0,
                                    "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                    "original_max_position_embeddings": 8192})


def make_1b(folder):
    if os.path.exists(os.path.join(folder, "model.safetensors")):
        return
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(LlamaConfig(**LLAMA_32_1B)).to(torch.bfloat16)
    model.save_pretrained(folder, safe_serialization=True)


def timed_generate(model, ids, new_tokens, beams, static=False):
    torch.cuda.synchronize()
    start = time.perf_counter()
    extra = {"cache_implementation": "static"} if static else {}
    model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                   min_new_tokens=new_tokens, do_sample=False, num_beams=beams, temperature=None, top_p=None,
                   top_k=None, pad_token_id=0, **extra)
    torch.cuda.synchronize()
    return (time.perf_counter() - start) * 1000.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--make-1b", action="store_true")
    parser.add_argument("--make-only", action="store_true", help="with --make-1b: write the checkpoint, time nothing")
    parser.add_argument("--prompt-len", type=int, default=300)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--batch", default="1,8")
    parser.add_argument("--beams", default="1")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--static", action="store_true", help="time HF's static-cache compiled generate")
    args = parser.parse_args()
    if args.make_1b:
        make_1b(args.model)
        if args.make_only:
            return
    model = LlamaForCausalLM.from_pretrained(args.model, dtype=torch.bfloat16).cuda().eval()
    vocab = model.config.vocab_size
    for beams in [int(b) for b in args.beams.split(",")]:
        for batch in [int(b) for b in args.batch.split(",")]:
            g = torch.Generator().manual_seed(0)
            ids = torch.randint(10, vocab - 10, (batch, args.prompt_len), generator=g).cuda()
            try:
                print(json.dumps(time_point(model, ids, args, batch, beams)), flush=True)
            except Exception as error:  # one shape HF cannot run (e.g. beams with a static cache) is reported
                print(json.dumps({"impl": "hf_static" if args.static else "hf", "workload": "llama_decode",
                                  "batch": batch, "beams": beams, "error": str(error)[:200]}), flush=True)


def time_point(model, ids, args, batch, beams):
    n, static = args.new_tokens, args.static
    with torch.no_grad():
        t0 = time.perf_counter()
        for length in (1, n):  # warm-up (and, with --static, compilation) for both generation lengths
            timed_generate(model, ids, length, beams, static)
            timed_generate(model, ids, length, beams, static)
        compile_s = time.perf_counter() - t0
        one = statistics.median(timed_generate(model, ids, 1, beams, static) for _ in range(args.repeat))
        full = sorted(timed_generate(model, ids, n, beams, static) for _ in range(args.repeat))
    per_token = lambda ms: round((ms - one) / (n - 1), 3)
    return {"impl": "hf_static" if static else "hf", "workload": "llama_decode", "batch": batch, "beams": beams,
            "prefill_ms": round(one, 3), "ms_per_token": per_token(statistics.median(full)),
            "ms_per_token_min": per_token(full[0]), "ms_per_token_max": per_token(full[-1]),
            "compile_s": round(compile_s, 1), "peak_mem_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2)}

if __name__ == "__main__":
    main()
