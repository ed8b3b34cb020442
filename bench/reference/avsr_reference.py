#!/usr/bin/env python3
"""The Python reference for bench/avsr_bench: the Llama-AVSR/MoME pipeline rebuilt from Hugging Face modules and
plain PyTorch, on the very weights and clips that `avsr_bench --dir DIR` wrote.

  * audio: Whisper's log-mel (torch.stft + transformers' Slaney mel filters, 30 s padding as the reference) ->
    transformers' WhisperEncoder, cut to max(int(seconds * 50), 25) tokens
  * video: centre crop 88, /255, (x - 0.421) / 0.165 -> AV-HuBERT (bench/reference/avhubert_reference.py)
  * per rate: AvgPool1d(k) (or stacking k frames), projector Linear(d_in, hidden) -> ReLU -> Linear(hidden, d_llm)
  * prompt (SPEC.md section 1): BOS <audio> A </audio> <video> V </video> instruction [transcript EOS], the four
    delimiters being trainable embeddings; labels on the transcript and EOS only
  * transformers' LlamaForCausalLM (inputs_embeds), frozen, with MoME adapters attached by forward hooks: per
    adapted layer N routed bottleneck experts Linear(d, b) -> GELU -> Linear(b, d), a router Linear(d, N, no bias)
    -> fp32 softmax -> top-k -> weights renormalised, plus always-on shared experts; one router for all scales.
    Placement mhsa: input input_layernorm(h), output added to the attention's; ffn: post_attention_layernorm(h')
    and the MLP's; layer: input_layernorm(h), added to the layer's output. The experts of a layer are evaluated as
    batched matrix products over all experts, the gate zeroing those a token did not choose.
  * loss: mean over the rate pairs of CE + w * Switch load balancing (E * sum_e f_e P_e over every adapted layer)
  * training step: backward, clip_grad_norm_(10), torch.optim.AdamW (betas 0.9/0.98, weight decay 0.1)
  * decoding: LlamaForCausalLM.generate(inputs_embeds=..., greedy) on one clip per rate pair

First at fp32 it compares its loss and greedy tokens with libmome's (DIR/check.json); then it times the
training step and the decoding in --dtype. One JSON line per result.
    python3 bench/reference/avsr_reference.py --dir DIR --device cuda --dtype bf16 [--workload train|decode|all]
"""
import argparse
import json
import os
import statistics
import sys
import time
import traceback

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import LlamaForCausalLM, WhisperConfig
from transformers.audio_utils import mel_filter_bank
from transformers.models.whisper.modeling_whisper import WhisperEncoder

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from avhubert_reference import AVHubertVideo  # noqa: E402

ROI_MEAN, ROI_STD = 0.421, 0.165


class LogMel:
    """Whisper's front end as WhisperFeatureExtractor computes it with torch: zero padding to 30 s, periodic Hann
    window, centred STFT (n_fft 400, hop 160), power, Slaney mel, log10, clamp to max - 8, (x + 4) / 4."""

    def __init__(self, n_mels, device):
        bank = mel_filter_bank(num_frequency_bins=201, num_mel_filters=n_mels, min_frequency=0.0,
                               max_frequency=8000.0, sampling_rate=16000, norm="slaney", mel_scale="slaney")
        self.filters = torch.from_numpy(bank).float().T.contiguous().to(device)
        self.window = torch.hann_window(400, device=device)

    def __call__(self, audio):  # [B, N] float32 -> [B, n_mels, 3000]
        x = F.pad(audio, (0, 480000 - audio.shape[1]))
        power = torch.stft(x, 400, 160, window=self.window, return_complex=True)[..., :-1].abs() ** 2
        log = (self.filters @ power).clamp(min=1e-10).log10()
        log = torch.maximum(log, log.amax(dim=(1, 2), keepdim=True) - 8.0)
        return (log + 4.0) / 4.0


class Projector(nn.Module):
    def __init__(self, d_in, hidden, d_out, layer_norm):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d_in, hidden), nn.Linear(hidden, d_out)
        self.norm = nn.LayerNorm(d_out) if layer_norm else None

    def forward(self, x):
        y = self.fc2(F.relu(self.fc1(x)))
        return self.norm(y) if self.norm is not None else y


class MoME(nn.Module):
    """One layer's Mixture of Matryoshka Experts; parameter layout as libmome stores it."""

    def __init__(self, d, n, shared, b, top_k, routers):
        super().__init__()
        e = n + shared
        self.down_weight = nn.Parameter(torch.empty(e, b, d))
        self.down_bias = nn.Parameter(torch.empty(e, b))
        self.up_weight = nn.Parameter(torch.empty(d, e, b))
        self.up_bias = nn.Parameter(torch.empty(e, d))
        for r in range(routers):
            self.register_parameter(f"router_{r}", nn.Parameter(torch.empty(n, d)))
        self.n, self.shared, self.top_k, self.routers = n, shared, top_k, routers

    def forward(self, x, scale, stats):
        x2 = x.reshape(-1, x.shape[-1])
        router = getattr(self, f"router_{0 if self.routers == 1 else scale}")
        probs = torch.softmax(F.linear(x2, router).float(), -1)
        k = self.top_k[0] if len(self.top_k) == 1 else self.top_k[scale]
        weights, chosen = probs.topk(k, -1)
        weights = weights / weights.sum(-1, keepdim=True)
        if stats is not None:
            stats.append((probs, chosen))
        routed = torch.zeros(x2.shape[0], self.n, dtype=x.dtype, device=x.device).scatter(1, chosen, weights.to(x.dtype))
        gates = torch.cat([routed, torch.ones(x2.shape[0], self.shared, dtype=x.dtype, device=x.device)], 1)
        # Every expert's Linear(d, b) as one [E*b, d] matrix, every Linear(b, d) as one [d, E*b] matrix.
        e, b, d = self.down_weight.shape
        hidden = F.gelu(F.linear(x2, self.down_weight.reshape(e * b, d), self.down_bias.reshape(e * b)))
        gated = (hidden.view(-1, e, b) * gates.unsqueeze(-1)).reshape(-1, e * b)
        out = F.linear(gated, self.up_weight.reshape(d, e * b)) + gates @ self.up_bias
        return out.view_as(x)


class Adapters(nn.Module):
    """The MoME adapters of the whole LLM, attached to HF's decoder layers by forward hooks."""

    def __init__(self, cfg, d, layers):
        super().__init__()
        self.layers = cfg["layers"] or list(range(layers))
        for l in self.layers:
            routers = 1 if cfg["shared_router"] else cfg["num_scales"]
            self.add_module(f"layer{l}_mome", MoME(d, cfg["num_experts"], cfg["num_shared"], cfg["bottleneck"],
                                                   cfg["top_k"], routers))
        self.placement = cfg["placement"]
        self.scale, self.stats = 0, None

    def attach(self, llm):
        for l in self.layers:
            layer, mome = llm.model.layers[l], getattr(self, f"layer{l}_mome")
            seen = {}

            def keep(module, args, output, seen=seen):
                seen["x"] = output

            def add(module, args, output, seen=seen, mome=mome):
                delta = mome(seen.pop("x"), self.scale, self.stats)
                return (output[0] + delta,) + tuple(output[1:]) if isinstance(output, tuple) else output + delta

            source, target = {"mhsa": (layer.input_layernorm, layer.self_attn),
                              "ffn": (layer.post_attention_layernorm, layer.mlp),
                              "layer": (layer.input_layernorm, layer)}[self.placement]
            source.register_forward_hook(keep)
            target.register_forward_hook(add)


class AVSR(nn.Module):
    def __init__(self, cfg, llm, whisper, avhubert):
        super().__init__()
        self.cfg, self.llm, self.whisper, self.avhubert = cfg, llm, whisper, avhubert
        d = llm.config.hidden_size
        stack = cfg["compression"] == "stack"
        for r in cfg["audio_rates"]:
            d_in = cfg["audio_dim"] * (r if stack else 1)
            self.add_module(f"audio_projector_r{r}", Projector(d_in, cfg["projector_hidden"], d, cfg["projector_layer_norm"]))
        for r in cfg["video_rates"]:
            d_in = cfg["video_dim"] * (r if stack else 1)
            self.add_module(f"video_projector_r{r}", Projector(d_in, cfg["projector_hidden"], d, cfg["projector_layer_norm"]))
        self.adapters = Adapters(cfg, d, llm.config.num_hidden_layers)
        self.special_embeddings = nn.Parameter(torch.empty(4, d))  # <audio> </audio> <video> </video>
        self.pairs = [(a, v) for a in cfg["audio_rates"] or [0] for v in cfg["video_rates"] or [0]]
        self.adapters.attach(llm)

    def features(self, audio, video):
        """Frozen encoders, once per batch: [B, Ta, d], [B, Tv, d]. The clips may still be on the host."""
        dtype, device = self.special_embeddings.dtype, self.special_embeddings.device
        audio = audio.to(device) if audio is not None else None
        video = video.to(device) if video is not None else None
        with torch.no_grad():
            a = v = None
            if audio is not None:
                mel = self.log_mel(audio.float())
                cut = min(max(audio.shape[1] // 320, 25), 1500)
                a = self.whisper(mel.to(dtype)).last_hidden_state[:, :cut]
            if video is not None:
                top = (video.shape[2] - 88) // 2
                left = (video.shape[3] - 88) // 2
                frames = (video[:, :, top:top + 88, left:left + 88].float() / 255.0 - ROI_MEAN) / ROI_STD
                v = self.avhubert(frames.to(dtype))
        return a, v

    def compress(self, x, k):
        b, t, d = x.shape
        x = x[:, :t // k * k].reshape(b, t // k, k, d)
        return x.reshape(b, t // k, k * d) if self.cfg["compression"] == "stack" else x.mean(2)

    def prompt(self, feats, pair, instruction, transcripts):
        """Embeddings [B, S, d] and labels [B, S] (label t = token t + 1 on the transcript and EOS). Every row of
        the bench's batch has the same length, so no padding is needed."""
        a, v = feats
        b = (a if a is not None else v).shape[0]
        table = self.llm.get_input_embeddings().weight
        dtype = self.special_embeddings.dtype
        device = table.device
        tok = lambda ids: table[ids].to(dtype)
        sp = lambda i: self.special_embeddings[i].expand(b, 1, -1)
        parts = [tok(torch.full((b, 1), self.cfg["bos"], device=device))]
        if pair[0]:
            parts += [sp(0), getattr(self, f"audio_projector_r{pair[0]}")(self.compress(a, pair[0]).to(dtype)), sp(1)]
        if pair[1]:
            parts += [sp(2), getattr(self, f"video_projector_r{pair[1]}")(self.compress(v, pair[1]).to(dtype)), sp(3)]
        parts.append(tok(instruction.expand(b, -1)))
        first_output = sum(p.shape[1] for p in parts)
        labels = None
        if transcripts is not None:
            targets = torch.cat([transcripts, torch.full((b, 1), self.cfg["eos"], device=device)], 1)
            parts.append(tok(targets))
            labels = torch.full((b, first_output + targets.shape[1]), -100, device=device)
            labels[:, first_output - 1:-1] = targets
        return torch.cat(parts, 1), labels

    def matryoshka_loss(self, audio, video, instruction, transcripts):
        feats = self.features(audio, video)
        losses, ce_terms, lb_terms, tokens = [], [], [], 0
        for scale, pair in enumerate(self.pairs):
            self.adapters.scale, self.adapters.stats = scale, []
            embeds, labels = self.prompt(feats, pair, instruction, transcripts)
            mask = torch.ones(embeds.shape[:2], dtype=torch.long, device=embeds.device)
            logits = self.llm(inputs_embeds=embeds, attention_mask=mask).logits
            ce = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)
            loss = ce
            ce_terms.append(ce)
            if self.cfg["load_balancing"] > 0:
                probs = torch.cat([p for p, _ in self.adapters.stats])
                chosen = torch.zeros_like(probs).scatter_(1, torch.cat([c for _, c in self.adapters.stats]), 1.0)
                lb = probs.shape[1] * (chosen.mean(0) * probs.mean(0)).sum()
                lb_terms.append(lb)
                loss = loss + self.cfg["load_balancing"] * lb
            tokens += embeds.shape[0] * embeds.shape[1]
            losses.append(loss)
        self.adapters.stats = None
        return torch.stack(losses).mean(), ce_terms, lb_terms, tokens

    @torch.no_grad()
    def transcribe(self, audio, video, instruction, pair, new_tokens):
        embeds, _ = self.prompt(self.features(audio, video), pair, instruction, None)
        self.adapters.scale, self.adapters.stats = self.pairs.index(pair), None
        mask = torch.ones(embeds.shape[:2], dtype=torch.long, device=embeds.device)
        out = self.llm.generate(inputs_embeds=embeds, attention_mask=mask, max_new_tokens=new_tokens, do_sample=False,
                                num_beams=1, eos_token_id=self.cfg["eos"], pad_token_id=self.cfg["eos"],
                                temperature=None, top_p=None, top_k=None)
        return out[0].tolist(), embeds.shape[1]


def load_model(d, device, dtype):
    cfg = json.load(open(f"{d}/model.json"))
    llm = LlamaForCausalLM.from_pretrained(f"{d}/llm", dtype=dtype).to(device).eval()
    wcfg = json.load(open(f"{d}/whisper/config.json"))
    whisper = WhisperEncoder(WhisperConfig(**{k: v for k, v in wcfg.items() if k != "model_type"}))
    state = {k[len("encoder."):]: v for k, v in load_file(f"{d}/whisper/model.safetensors").items()}
    missing, unexpected = whisper.load_state_dict(state, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    with safe_open(f"{d}/avhubert.safetensors", "pt") as f:
        avcfg = json.loads(f.metadata()["config"])
    avhubert = AVHubertVideo(avcfg)
    missing, unexpected = avhubert.load_state_dict(load_file(f"{d}/avhubert.safetensors"), strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    assert not missing and not unexpected, (missing, unexpected)
    model = AVSR(cfg, llm, whisper.to(device).eval(), avhubert.to(device).eval())
    state = {k[len("avsr."):]: v for k, v in load_file(f"{d}/trainable.safetensors").items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith(("llm.", "whisper.", "avhubert."))]
    assert not missing and not unexpected, (missing, unexpected)
    model = model.to(device, dtype)
    model.log_mel = LogMel(wcfg["num_mel_bins"], device)
    attn = lambda m: getattr(getattr(m, "config", None), "_attn_implementation", None)
    print(f"avsr_reference: attention implementations: LLM {attn(llm)}, Whisper {attn(whisper)}", file=sys.stderr)
    for m in (llm, model.whisper, model.avhubert):
        m.requires_grad_(False)
    return model


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def median_ms(fn, repeat, device):
    fn()
    fn()
    sync(device)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def peak_mb(device):
    return torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else 0.0


def reset_peak(device):
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def emit(**line):
    print(json.dumps({"impl": "reference", **line}), flush=True)


def guarded(workload, fn):
    """Runs one measurement; a failure is reported and the others still run."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        emit(workload=workload, error=f"{type(e).__name__}: {e}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--workload", default="all", choices=["train", "decode", "all"])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "f32"])
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--decode-pairs", default="4:2,16:5", help="rate pairs to decode at, AUDIO:VIDEO,...")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--no-check", action="store_true")
    ap.add_argument("--breakdown", action="store_true", help="also time the step's parts")
    ap.add_argument("--profile", action="store_true", help="print the top GPU kernels of one training step")
    a = ap.parse_args()
    train, decode = a.workload != "decode", a.workload != "train"
    io = load_file(f"{a.dir}/io.safetensors")
    with safe_open(f"{a.dir}/io.safetensors", "pt") as f:
        seconds = float(f.metadata()["seconds"])
    dev = lambda t: t.to(a.device)
    audio, video = io["audio"], io["video"]  # clips arrive on the host, as libmome's
    instruction, transcripts = dev(io["instruction_ids"]).unsqueeze(0), dev(io["transcript_ids"])
    check = json.load(open(f"{a.dir}/check.json"))
    decode_pairs = [tuple(int(x) for x in p.split(":")) for p in a.decode_pairs.split(",")]

    # 1. fp32 on the same weights and clips: the loss and the greedy tokens must be libmome's.
    model = load_model(a.dir, a.device, torch.float32)
    if not a.no_check and train and "loss" in check:
        def train_check():
            with torch.no_grad():
                loss, ce, lb, _ = model.matryoshka_loss(dev(audio), dev(video), instruction, transcripts)
            emit(workload="avsr_train_check", dtype="f32", loss=loss.item(), libmome_loss=check["loss"],
                 rel_diff=abs(loss.item() - check["loss"]) / abs(check["loss"]),
                 ce=[c.item() for c in ce], lb=[x.item() for x in lb], libmome_ce=check["ce"], libmome_lb=check["lb"])

        guarded("avsr_train_check", train_check)
    for pair in decode_pairs if decode and not a.no_check else []:
        key = f"ids_a{pair[0]}_v{pair[1]}"
        if key not in check:
            continue

        def decode_check():
            ids, _ = model.transcribe(audio[:1], video[:1], instruction, pair, a.new_tokens)
            same = [x == y for x, y in zip(ids, check[key])]
            emit(workload="avsr_decode_check", dtype="f32", audio_rate=pair[0], video_rate=pair[1],
                 ids_match=ids == check[key], matching_prefix=same.index(False) if False in same else len(same),
                 ids=ids, libmome_ids=check[key])

        guarded("avsr_decode_check", decode_check)

    # 2. Timings in the compute dtype (decode first: training changes the trainable weights).
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    model = model.to(dtype)
    if a.device.startswith("cuda"):
        torch.cuda.empty_cache()
    for pair in decode_pairs if decode else []:
        def decode_timing():
            result = {}

            def run():
                result["ids"], result["prompt"] = model.transcribe(audio[:1], video[:1], instruction, pair,
                                                                   a.new_tokens)

            reset_peak(a.device)
            ms = median_ms(run, max(a.repeat // 2, 3), a.device)
            emit(workload="avsr_decode", dtype=a.dtype, audio_rate=pair[0], video_rate=pair[1], seconds=seconds,
                 prompt_tokens=result["prompt"], new_tokens=len(result["ids"]), ms=ms, rtf=ms / (1000.0 * seconds),
                 peak_mb=peak_mb(a.device), ids=result["ids"])

        guarded("avsr_decode", decode_timing)
    if train:
        def train_timing():
            model.train()
            for frozen in (model.whisper, model.avhubert, model.llm):  # no dropout, BatchNorm running statistics
                frozen.eval()
            params = [p for p in model.parameters() if p.requires_grad]
            opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.98), weight_decay=0.1)
            state = {}

            def step():
                opt.zero_grad(set_to_none=True)
                loss, _, _, tokens = model.matryoshka_loss(dev(audio), dev(video), instruction, transcripts)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 10.0)
                opt.step()
                state["loss"], state["tokens"] = loss.item(), tokens

            reset_peak(a.device)
            ms = median_ms(step, a.repeat, a.device)
            emit(workload="avsr_train_step", dtype=a.dtype, batch=audio.shape[0], seconds=seconds,
                 pairs=len(model.pairs), llm_tokens=state["tokens"], trainable_params=sum(p.numel() for p in params),
                 ms=ms, tokens_per_s=state["tokens"] / (ms / 1000.0), clips_per_s=audio.shape[0] / (ms / 1000.0),
                 peak_mb=peak_mb(a.device), loss=state["loss"])
            if a.breakdown:
                def forward_backward():
                    model.matryoshka_loss(dev(audio), dev(video), instruction, transcripts)[0].backward()
                    opt.zero_grad(set_to_none=True)

                emit(workload="avsr_train_breakdown", dtype=a.dtype,
                     featurize_ms=median_ms(lambda: model.features(audio, video), a.repeat, a.device),
                     featurize_forward_ms=median_ms(
                         lambda: model.matryoshka_loss(dev(audio), dev(video), instruction, transcripts), a.repeat,
                         a.device),
                     featurize_forward_backward_ms=median_ms(forward_backward, a.repeat, a.device))
            if a.profile and a.device.startswith("cuda"):
                from torch.profiler import ProfilerActivity, profile
                with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                    step()
                    sync(a.device)
                print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=30, max_name_column_width=60),
                      file=sys.stderr)

        guarded("avsr_train_step", train_timing)

if __name__ == "__main__":
    main()
