#!/usr/bin/env python3
"""Converts a fairseq AV-HuBERT checkpoint (.pt) into the safetensors file libmome's LoadAVHubertEncoder reads.

    python3 tools/convert_avhubert.py CHECKPOINT.pt OUT.safetensors [--trust-checkpoint]

A .pt file is a Python pickle, which can run code when loaded: the checkpoint is read with torch.load(weights_only=True)
(tensors, numbers, strings, containers and argparse.Namespace only). Checkpoints that pickle their config as omegaconf
objects need full unpickling: pass --trust-checkpoint, and only for a file from a source you trust.

Accepts pre-trained checkpoints (encoder tensors at the top: feature_extractor_video.*, encoder.layers.*) and
fine-tuned AVSR ones (under encoder.w2v_model.*, with the architecture in cfg.model.w2v_args.model). Only the
encoder is kept: the tensors libmome loads (parameters and BatchNorm running statistics); decoders, label
embeddings, final projections, mask embeddings and num_batches_tracked are dropped. The architecture goes into
the file's "config" metadata (fairseq field names). Needs PyTorch, safetensors and, for checkpoints that pickle
their config as omegaconf objects, omegaconf (pip install omegaconf); fairseq itself is not needed.
"""
import json
import sys

import torch
from safetensors.torch import save_file

KEEP_PREFIXES = ("feature_extractor_video.", "feature_extractor_audio.", "layer_norm.", "post_extract_proj.",
                 "encoder.pos_conv.", "encoder.layers.", "encoder.layer_norm.")
CONFIG_FIELDS = {"encoder_embed_dim": 1024, "encoder_layers": 24, "encoder_attention_heads": 16,
                 "encoder_ffn_embed_dim": 4096, "conv_pos": 128, "conv_pos_groups": 16, "audio_feat_dim": 104,
                 "layer_norm_first": True, "modality_fuse": "concat", "resnet_relu_type": "prelu"}


def as_dict(cfg):
    """omegaconf DictConfig, argparse Namespace or dict -> dict (None stays None)."""
    if cfg is None or isinstance(cfg, dict):
        return cfg
    try:
        from omegaconf import OmegaConf
        return OmegaConf.to_container(cfg, resolve=True)
    except Exception:
        return vars(cfg)


def model_config(ckpt):
    cfg = as_dict(ckpt.get("cfg")) or {}
    model = as_dict(cfg.get("model")) or {}
    if not model and ckpt.get("args") is not None:  # old fairseq: argparse Namespace
        model = vars(ckpt["args"])
    w2v = as_dict(model.get("w2v_args"))  # fine-tuned: the encoder's own config
    if w2v:
        model = as_dict(w2v.get("model")) or model
    return model


def load_checkpoint(src, trusted):
    import argparse
    if hasattr(torch.serialization, "add_safe_globals"):
        torch.serialization.add_safe_globals([argparse.Namespace])
    try:
        return torch.load(src, map_location="cpu", weights_only=True)
    except Exception as e:  # weights_only refuses an object it does not know; say which, and how to go on
        if not trusted:
            sys.exit(f"{src}: holds pickled Python objects beyond tensors ({str(e).splitlines()[0]}); if the file comes "
                     "from a source you trust, rerun with --trust-checkpoint")
    return torch.load(src, map_location="cpu", weights_only=False)


def main(src, dst, trusted=False):
    ckpt = load_checkpoint(src, trusted)
    state = ckpt.get("model", ckpt)
    prefix = "encoder.w2v_model." if any(k.startswith("encoder.w2v_model.") for k in state) else ""
    tensors, skipped = {}, []
    for key, value in state.items():
        name = key[len(prefix):] if key.startswith(prefix) else None
        if name is not None and name.startswith(KEEP_PREFIXES) and not name.endswith("num_batches_tracked"):
            tensors[name] = value.detach().to(torch.float32).contiguous()
        else:
            skipped.append(key)
    print(f"{src}: using {len(tensors)} tensors (prefix '{prefix}'): " + ", ".join(sorted(tensors)))
    print(f"{src}: skipping {len(skipped)} tensors: " + ", ".join(sorted(skipped)))
    if "feature_extractor_video.proj.weight" not in tensors:
        sys.exit(f"{src}: no AV-HuBERT video encoder tensors (feature_extractor_video.proj.weight) found")
    model = model_config(ckpt)
    config = {k: model.get(k, v) for k, v in CONFIG_FIELDS.items()}
    # The ResNet's width and depth are not in fairseq's config; read them from the tensors.
    config["resnet_width"] = tensors["feature_extractor_video.resnet.frontend3D.0.weight"].shape[0]
    stages = sorted({int(k.split(".")[3][5:]) for k in tensors if k.startswith("feature_extractor_video.resnet.trunk.layer")})
    config["resnet_layers"] = [len({k.split(".")[4] for k in tensors
                                    if k.startswith(f"feature_extractor_video.resnet.trunk.layer{s}.")}) for s in stages]
    config["encoder_layers"] = len({k.split(".")[2] for k in tensors if k.startswith("encoder.layers.")})
    config["encoder_embed_dim"] = tensors["feature_extractor_video.proj.weight"].shape[0]
    config["audio_feat_dim"] = tensors["feature_extractor_audio.proj.weight"].shape[1]
    config["conv_pos"] = tensors["encoder.pos_conv.0.weight_v"].shape[2]
    config["conv_pos_groups"] = config["encoder_embed_dim"] // tensors["encoder.pos_conv.0.weight_v"].shape[1]
    config["activation_fn"] = "gelu"
    save_file(tensors, dst, metadata={"config": json.dumps(config), "source": src})
    print(f"{dst}: {len(tensors)} tensors, config {json.dumps(config)}")


if __name__ == "__main__":
    trust = "--trust-checkpoint" in sys.argv
    paths = [a for a in sys.argv[1:] if a != "--trust-checkpoint"]
    if len(paths) != 2:
        sys.exit(__doc__)
    main(paths[0], paths[1], trust)
