#!/usr/bin/env python3
"""Writes the Llama that a mome_train run fine-tuned (llm.trainable: true) as a Hugging Face folder, so that a later
run can load it frozen through llm.path (tools/ablation.sh: every method adapts the same frozen LLM).

    tools/export_llm.py RUN LLM_DIR OUT

RUN: a run folder (its best/, else its latest checkpoints/step-*) or a checkpoint folder; LLM_DIR: the llm.path the
run trained from (config.json, tokenizer and generation config are copied from there); OUT: the new folder, written
whole or not at all (a temp folder renamed at the end). Tensors "llm.model.*" / "llm.lm_head.*" of the run's
trainable.safetensors become "model.*" / "lm_head.*". Standard library only: safetensors is a JSON header + bytes.
"""
import glob
import json
import os
import shutil
import struct
import sys


def model_dir(run):
    """The folder holding the weights, as mome_decode resolves it (io::ResolveModelDir)."""
    for candidate in (run, os.path.join(run, "best")):
        if os.path.isfile(os.path.join(candidate, "checkpoint.json")):
            return candidate
    steps = sorted(d for d in glob.glob(os.path.join(run, "checkpoints", "step-*")) if "." not in os.path.basename(d))
    if not steps:
        sys.exit(f"export_llm: {run}: no model here (expected checkpoint.json, best/ or checkpoints/step-*)")
    return steps[-1]


def read_llm_tensors(path):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        base = 8 + size
        out = {}
        for name, info in header.items():
            if name == "__metadata__" or not name.startswith("llm."):
                continue
            begin, end = info["data_offsets"]
            f.seek(base + begin)
            out[name[len("llm."):]] = (info["dtype"], info["shape"], f.read(end - begin))
    if not out:
        sys.exit(f"export_llm: {path} holds no llm.* tensors (was the run trained with llm.trainable: true?)")
    return out


def write_safetensors(path, tensors):
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name in sorted(tensors):
        dtype, shape, data = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # the format aligns the data to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob)
        for name in sorted(tensors):
            f.write(tensors[name][2])
        f.flush()
        os.fsync(f.fileno())


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    run, llm_dir, out = sys.argv[1:]
    if os.path.exists(out):
        sys.exit(f"export_llm: {out} exists (choose a new folder)")
    tensors = read_llm_tensors(os.path.join(model_dir(run), "trainable.safetensors"))
    tmp = f"{out}.tmp.{os.getpid()}"
    os.makedirs(tmp)
    for name in os.listdir(llm_dir):
        if name != "model.safetensors" and not name.endswith(".safetensors.index.json"):
            shutil.copy2(os.path.join(llm_dir, name), tmp)
    write_safetensors(os.path.join(tmp, "model.safetensors"), tensors)
    os.rename(tmp, out)
    print(f"export_llm: {len(tensors)} tensors from {model_dir(run)} -> {out}")


if __name__ == "__main__":
    main()
