#!/usr/bin/env python3
"""Makes a fairseq-style fine-tuned AV-HuBERT checkpoint (encoder under encoder.w2v_model., a decoder, label
embeddings, num_batches_tracked, the config in cfg.model.w2v_args.model as plain dicts) from the weights in
DIR/avhubert.safetensors, so tools/convert_avhubert.py can be checked end to end:
    python3 bench/reference/check_avhubert_converter.py DIR OUT.pt
"""
import json
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file

src, out = sys.argv[1], sys.argv[2]
with safe_open(f"{src}/avhubert.safetensors", "pt") as f:
    cfg = json.loads(f.metadata()["config"])
state = {f"encoder.w2v_model.{k}": v for k, v in load_file(f"{src}/avhubert.safetensors").items()}
state["encoder.w2v_model.feature_extractor_video.resnet.frontend3D.1.num_batches_tracked"] = torch.tensor(7)
state["encoder.w2v_model.label_embs_concat"] = torch.zeros(3, 4)
state["decoder.embed_tokens.weight"] = torch.zeros(5, 4)
fairseq_cfg = {k: cfg[k] for k in ("encoder_embed_dim", "encoder_layers", "encoder_attention_heads",
                                   "encoder_ffn_embed_dim", "conv_pos", "conv_pos_groups", "layer_norm_first",
                                   "modality_fuse", "resnet_relu_type", "audio_feat_dim")}
torch.save({"model": state, "cfg": {"model": {"w2v_args": {"model": fairseq_cfg}}}}, out)
print(f"{out}: {len(state)} tensors")
