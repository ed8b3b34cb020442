#!/usr/bin/env python3
"""The Python reference for the AV-HuBERT visual encoder: a plain PyTorch module tree with fairseq's names
(avhubert/resnet.py ResEncoder, AVHubertModel.extract_finetune for video-only input, fairseq's wav2vec2
TransformerEncoder with weight-normed positional conv), written from those files' formulas, not from libmome.

It loads the weights libmome's avhubert_bench --save DIR wrote, runs the same input, reports the largest
difference from libmome's output relative to the output's scale, and times its forward at the given batch sizes:
    python3 bench/reference/avhubert_reference.py --dir DIR --device cuda --dtype bf16 --batch 1,8
One JSON line per batch size: {"workload", "impl", "batch", "seconds", "ms", "min_ms", "max_ms", "peak_mb",
"max_rel_diff"}. --compile adds the same model under torch.compile (impl "torch.compile", default mode) as a
second peer; its warm-up (compilation) is not timed.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file


class BasicBlock(nn.Module):
    def __init__(self, inp, planes, stride, prelu):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.PReLU(planes) if prelu else nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.PReLU(planes) if prelu else nn.ReLU()
        self.downsample = None
        if stride != 1 or inp != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + (self.downsample(x) if self.downsample is not None else x))


class ResEncoder(nn.Module):
    def __init__(self, width, layers, prelu):
        super().__init__()
        self.frontend3D = nn.Sequential(
            nn.Conv3d(1, width, (5, 7, 7), (1, 2, 2), (2, 3, 3), bias=False), nn.BatchNorm3d(width),
            nn.PReLU(width) if prelu else nn.ReLU(), nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)))
        self.trunk = nn.Module()
        inp = width
        for s, n in enumerate(layers):
            planes = width << s
            blocks = []
            for b in range(n):
                blocks.append(BasicBlock(inp, planes, (1 if s == 0 else 2) if b == 0 else 1, prelu))
                inp = planes
            setattr(self.trunk, f"layer{s + 1}", nn.Sequential(*blocks))
        self.n_stages = len(layers)

    def forward(self, x):  # [B, 1, T, H, W] -> [B, T, C]
        B, _, T = x.shape[:3]
        x = self.frontend3D(x)
        x = x.transpose(1, 2).reshape(B * T, x.shape[1], x.shape[3], x.shape[4])
        for s in range(self.n_stages):
            x = getattr(self.trunk, f"layer{s + 1}")(x)
        return x.mean((2, 3)).view(B, T, -1)


class SubModel(nn.Module):
    def __init__(self, cfg, video):
        super().__init__()
        if video:
            self.resnet = ResEncoder(cfg["resnet_width"], cfg["resnet_layers"], cfg["resnet_relu_type"] == "prelu")
        width = (cfg["resnet_width"] << (len(cfg["resnet_layers"]) - 1)) if video else cfg["audio_feat_dim"]
        self.proj = nn.Linear(width, cfg["encoder_embed_dim"])


class PosConv(nn.Module):
    def __init__(self, d, k, groups):
        super().__init__()
        self.weight_g = nn.Parameter(torch.ones(1, 1, k))
        self.weight_v = nn.Parameter(torch.zeros(d, d // groups, k))
        self.bias = nn.Parameter(torch.zeros(d))
        self.k, self.groups = k, groups

    def forward(self, x):  # [B, T, d]
        w = self.weight_g * self.weight_v / self.weight_v.norm(dim=(0, 1), keepdim=True)  # weight_norm(dim=2)
        y = F.conv1d(x.transpose(1, 2), w, self.bias, padding=self.k // 2, groups=self.groups)
        if self.k % 2 == 0:
            y = y[:, :, :-1]  # SamePad
        return F.gelu(y).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.k_proj, self.v_proj, self.q_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))
        self.heads = heads

    def forward(self, x):
        B, T, d = x.shape
        h = self.heads
        q = self.q_proj(x) * (d // h) ** -0.5
        split = lambda t: t.view(B, T, h, d // h).transpose(1, 2)
        a = torch.softmax((split(q) @ split(self.k_proj(x)).transpose(-1, -2)).float(), -1).to(x.dtype)
        return self.out_proj((a @ split(self.v_proj(x))).transpose(1, 2).reshape(B, T, d))


class Layer(nn.Module):
    def __init__(self, d, heads, ffn, pre_ln):
        super().__init__()
        self.self_attn = Attention(d, heads)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1, self.fc2 = nn.Linear(d, ffn), nn.Linear(ffn, d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.pre_ln = pre_ln

    def forward(self, x):
        if self.pre_ln:
            x = x + self.self_attn(self.self_attn_layer_norm(x))
            return x + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))
        x = self.self_attn_layer_norm(x + self.self_attn(x))
        return self.final_layer_norm(x + self.fc2(F.gelu(self.fc1(x))))


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["encoder_embed_dim"]
        self.pos_conv = nn.ModuleList([PosConv(d, cfg["conv_pos"], cfg["conv_pos_groups"])])
        self.layers = nn.ModuleList(Layer(d, cfg["encoder_attention_heads"], cfg["encoder_ffn_embed_dim"],
                                          cfg["layer_norm_first"]) for _ in range(cfg["encoder_layers"]))
        self.layer_norm = nn.LayerNorm(d)
        self.pre_ln = cfg["layer_norm_first"]

    def forward(self, x):
        x = x + self.pos_conv[0](x)
        if not self.pre_ln:
            x = self.layer_norm(x)
        for layer in self.layers:
            x = layer(x)
        return self.layer_norm(x) if self.pre_ln else x


class AVHubertVideo(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["encoder_embed_dim"]
        fused = 2 * d if cfg["modality_fuse"] == "concat" else d
        self.feature_extractor_audio = SubModel(cfg, False)
        self.feature_extractor_video = SubModel(cfg, True)
        self.layer_norm = nn.LayerNorm(fused)
        self.post_extract_proj = nn.Linear(fused, d) if fused != d else None
        self.encoder = Encoder(cfg)
        self.concat = cfg["modality_fuse"] == "concat"

    def forward(self, video):  # [B, T, 88, 88] -> [B, T, d]
        v = self.feature_extractor_video.proj(self.feature_extractor_video.resnet(video.unsqueeze(1)))
        x = torch.cat([torch.zeros_like(v), v], -1) if self.concat else v  # audio features are zeros
        x = self.layer_norm(x)
        if self.post_extract_proj is not None:
            x = self.post_extract_proj(x)
        return self.encoder(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bf16")
    ap.add_argument("--batch", default="1")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile(model)")
    a = ap.parse_args()
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    with safe_open(f"{a.dir}/avhubert.safetensors", "pt") as f:
        cfg = json.loads(f.metadata()["config"])
    model = AVHubertVideo(cfg)
    missing, unexpected = model.load_state_dict(load_file(f"{a.dir}/avhubert.safetensors"), strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    assert not missing and not unexpected, (missing, unexpected)
    model = model.to(a.device, dtype).eval()
    io = load_file(f"{a.dir}/io.safetensors")
    clip = io["video"]
    with torch.no_grad():
        out = model(clip.to(a.device, dtype)).float().cpu()
        ref = io["output"]
        rel = ((out - ref).abs().max() / ref.abs().max()).item()
        peers = [("eager", model)] + ([("torch.compile", torch.compile(model))] if a.compile else [])
        for impl, peer in peers:
            for batch in map(int, a.batch.split(",")):
                video = clip.expand(batch, *clip.shape[1:]).contiguous().to(a.device, dtype)
                ms, peak = time_forward(peer, video, a.repeat, a.device.startswith("cuda"))
                print(json.dumps({"workload": "avhubert", "impl": impl, "batch": batch, "seconds": clip.shape[1] / 25,
                                  "ms": ms[len(ms) // 2], "min_ms": ms[0], "max_ms": ms[-1], "peak_mb": peak,
                                  "max_rel_diff": rel}), flush=True)


def time_forward(model, video, repeat, cuda):
    """Sorted wall times (ms) of `repeat` forwards after 3 warm-ups (compilation happens there), and peak MiB."""
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for _ in range(3):
        model(video)
    sync()
    torch.cuda.reset_peak_memory_stats() if cuda else None
    ms = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        model(video)
        sync()
        ms.append((time.perf_counter() - t0) * 1000)
    return sorted(ms), (torch.cuda.max_memory_allocated() / 2**20 if cuda else 0)

if __name__ == "__main__":
    main()
