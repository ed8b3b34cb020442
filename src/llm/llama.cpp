#include "mome/llm/llama.h"
#include "llm/trainable_ops.h"
#include "mome/llm/packed_linear.h"
#if MOME_WITH_CUDA_KERNELS
#include "llm/kernels/fused_kernels.h"
#endif

#include <ATen/ATen.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include "mome/core/compat.h"
#include "mome/core/error.h"

namespace mome::llm {

// ---------------------------------------------------------------- building blocks

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_, const at::TensorOptions& options) : eps(eps_) {
  weight = register_parameter("weight", at::ones({dim}, options), false);
}

at::Tensor RMSNormImpl::forward(const at::Tensor& x) const {
#if MOME_WITH_CUDA_KERNELS
  // One kernel instead of eight, same rounding (llm/kernels/fused_kernels.h); not differentiable, so only where no
  // gradient is wanted.
  if (x.is_cuda() && x.scalar_type() == weight.scalar_type() &&
      !(at::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad())))
    return kernels::RmsNorm(x, weight, eps);
#endif
  if (at::GradMode::is_enabled() && x.requires_grad() && !weight.requires_grad() && UseFusedTraining(x))
    return RmsNormNode(x, weight, eps);  // one autograd node (trainable_ops.h)
  return RmsNormComposed(x, weight, eps);
}

// ---------------------------------------------------------------- rotary embeddings

RotaryEmbedding::RotaryEmbedding(const LlamaConfig& config, c10::Device device) {
  const int64_t dim = config.head_dim;
  // Computed on the CPU (a few dozen values; some ops have no meta kernel in LibTorch 1.13), then moved.
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  // Same op sequence as HF so that float32 rounding agrees: 1 / theta^(arange(0, dim, 2) / dim).
  at::Tensor exponent = at::arange(0, dim, 2, f32.dtype(at::kLong)).to(at::kFloat) / static_cast<double>(dim);
  at::Tensor inv_freq = 1.0 / at::pow(config.rope.theta, exponent);
  const RopeConfig& rope = config.rope;
  if (rope.type == "linear") {
    inv_freq = inv_freq / rope.factor;
  } else if (rope.type == "llama3") {
    const double old_len = static_cast<double>(rope.original_max_position_embeddings);
    const double low_freq_wavelen = old_len / rope.low_freq_factor;
    const double high_freq_wavelen = old_len / rope.high_freq_factor;
    const at::Tensor wavelen = 2 * M_PI / inv_freq;
    at::Tensor scaled = at::where(wavelen > low_freq_wavelen, inv_freq / rope.factor, inv_freq);
    const at::Tensor smooth =
        (old_len / wavelen - rope.low_freq_factor) / (rope.high_freq_factor - rope.low_freq_factor);
    const at::Tensor smoothed = (1 - smooth) * scaled / rope.factor + smooth * scaled;
    const at::Tensor is_medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
    inv_freq = at::where(is_medium, smoothed, scaled);
  }
  inv_freq_ = device.is_meta() ? at::empty(inv_freq.sizes(), f32.device(device)) : inv_freq.to(device);
}

std::pair<at::Tensor, at::Tensor> RotaryEmbedding::Compute(const at::Tensor& positions, c10::ScalarType dtype) const {
  const at::Tensor freqs = positions.to(at::kFloat).unsqueeze(-1) * inv_freq_;  // [B, T, dim/2]
  const at::Tensor emb = at::cat({freqs, freqs}, -1);
  at::Tensor cos = emb.cos(), sin = emb.sin();
  if (attention_scaling_ != 1.0) {
    cos = cos * attention_scaling_;
    sin = sin * attention_scaling_;
  }
  return {cos.to(dtype), sin.to(dtype)};
}

namespace {

// HF's x * cos + rotate_half(x) * sin with rotate_half(x) = [-x2, x1], computed as x * cos + [x2, x1] * signed_sin
// where signed_sin = [-sin1, sin2] is made once per forward pass (negation is exact, so the values are HF's): one
// kernel less in every layer.
at::Tensor SignedSin(const at::Tensor& sin) {
  const int64_t half = sin.size(-1) / 2;
  return at::cat({-sin.narrow(-1, 0, half), sin.narrow(-1, half, half)}, -1);
}

// Fused CUDA kernels (llm/kernels/fused_kernels.h) are used where nothing needs a gradient.
[[maybe_unused]] bool UseKernels(const at::Tensor& x) {
#if MOME_WITH_CUDA_KERNELS
  return x.is_cuda() && !(at::GradMode::is_enabled() && x.requires_grad());
#else
  (void)x;
  return false;
#endif
}

#if MOME_WITH_CUDA_KERNELS
// Whether a projection runs as the decoding GEMV (llm/kernels/gemv.cu): one or two rows of bf16/fp16, no bias,
// nothing needing a gradient. MOME_DECODE_GEMV=off keeps cuBLAS, to compare the two in one build.
bool UseDecodeLinear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  static const bool enabled = [] {
    const char* v = std::getenv("MOME_DECODE_GEMV");
    return v == nullptr || std::string(v) != "off";
  }();
  return enabled && !bias.defined() && UseKernels(x) && !(at::GradMode::is_enabled() && weight.requires_grad()) &&
         kernels::DecodeLinearSupports(x, weight);
}
#endif

// x W^T + b, then + residual when defined (the decoder layer's add of a sublayer's output to the stream, same
// order and rounding); on the decoding path one kernel does both.
at::Tensor Project(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& residual) {
#if MOME_WITH_CUDA_KERNELS
  if (UseDecodeLinear(x, weight, bias)) {
    kernels::DecodeLinearExtras extras;
    extras.residual = residual;
    return kernels::DecodeLinear(x, weight, extras);
  }
#endif
  const at::Tensor y = at::linear(x, weight, bias);
  return residual.defined() ? residual + y : y;
}

at::Tensor Project(const at::Tensor& x, const Linear& linear, const at::Tensor& residual) {
  return Project(x, linear->weight, linear->bias, residual);
}

at::Tensor ApplyRotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& signed_sin) {
#if MOME_WITH_CUDA_KERNELS
  if (UseKernels(x) && x.dim() == 4 && x.stride(3) == 1 && cos.scalar_type() == x.scalar_type())
    return kernels::Rotary(x, cos, signed_sin);
#endif
  if (at::GradMode::is_enabled() && x.requires_grad() && UseFusedTraining(x)) return RotaryNode(x, cos, signed_sin);
  return RotaryComposed(x, cos, signed_sin);
}

// softmax(q k^T / sqrt(d) + bias) v with HF's float32 softmax; SDPA where LibTorch has it.
at::Tensor Attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionContext& context) {
#if MOME_HAS_SDPA
  if (q.is_cuda() && !context.attention_probs) {
    const c10::optional<at::Tensor> mask =
        context.bias.defined() ? c10::optional<at::Tensor>(context.bias) : c10::nullopt;
    return at::scaled_dot_product_attention(q, k, v, mask, 0.0, context.causal && !context.bias.defined());
  }
#endif
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) * scale;
  if (context.bias.defined()) {
    scores = scores + context.bias;
  } else if (context.causal && q.size(2) > 1) {
    const int64_t t = q.size(2);
    const at::Tensor future = at::ones({t, t}, q.options().dtype(at::kBool)).triu(1);
    scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
  }
  const at::Tensor probs32 = at::softmax(scores, -1, at::kFloat);
  if (context.attention_probs) context.attention_probs->push_back(probs32);
  return at::matmul(probs32.to(q.scalar_type()), v);
}

#if MOME_WITH_CUDA_KERNELS
// The attention of one token in a static-cache step (ForwardStatic) from the packed q|k|v projection: rotary and
// the cache write in one kernel, then SDPA over the cache (or the decode attention kernel, below); [B, 1, H*D].
at::Tensor FusedDecodeAttention(const at::Tensor& qkv, const AttentionContext& context, int64_t layer, int64_t heads,
                                int64_t kv_heads) {
  KVCache& cache = *context.cache;
  const at::Tensor& keys = cache.keys(layer);
  const at::Tensor& values = cache.values(layer);
  const at::Tensor q = kernels::RotaryIntoCache(qkv, context.cos.unsqueeze(2), context.sin.unsqueeze(2),
                                                context.write_slot, keys, values, heads, kv_heads);
  const int64_t b = qkv.size(0), dim = keys.size(3), groups = heads / kv_heads;
  const at::Tensor grouped = q.view({b, kv_heads, groups, dim});
  at::Tensor out;
  // The decode attention kernel is opt-in (MOME_DECODE_ATTENTION=kernel): split over the keys it measured 6.9 µs a
  // layer plus 3.8–4.8 for the merge on an H100 at batch 1 against cuDNN SDPA's 8.3 (and slower at batch 8 and with
  // beams), so SDPA is the default.
  static const bool use_kernel = [] {
    const char* v = std::getenv("MOME_DECODE_ATTENTION");
    return v != nullptr && std::string(v) == "kernel";
  }();
  if (use_kernel && kernels::DecodeAttentionSupports(groups, dim, keys.size(2))) {
    out = kernels::DecodeAttention(grouped, keys, values, context.bias, 1.0 / std::sqrt(static_cast<double>(dim)));
  } else {
    AttentionContext one = context;
    one.causal = false;
    out = Attend(grouped, keys, values, one);
  }
  return out.reshape({b, 1, heads * dim});  // SDPA may return another memory layout
}

// Whether FusedDecodeAttention can run this step: one token, a static cache of the input's dtype, the packed
// projection, no adapter deltas on q/v, no attention probabilities asked for, nothing needing a gradient.
bool FusedDecodeApplies(const at::Tensor& x, const AttentionContext& context, bool packed, bool has_delta) {
  return packed && !has_delta && UseKernels(x) && x.size(1) == 1 && context.cache && context.write_slot.defined() &&
         context.bias.defined() && !context.attention_probs &&
         context.cache->keys(0).scalar_type() == x.scalar_type() && context.cos.scalar_type() == x.scalar_type();
}
#endif

}  // namespace

// ---------------------------------------------------------------- attention, MLP, layer

LlamaAttentionImpl::LlamaAttentionImpl(const LlamaConfig& c, int64_t layer_index, const at::TensorOptions& options)
    : layer_index_(layer_index),
      heads_(c.num_attention_heads),
      kv_heads_(c.num_key_value_heads),
      head_dim_(c.head_dim) {
  q_proj = register_module("q_proj", Linear(c.hidden_size, heads_ * head_dim_, c.attention_bias, options));
  k_proj = register_module("k_proj", Linear(c.hidden_size, kv_heads_ * head_dim_, c.attention_bias, options));
  v_proj = register_module("v_proj", Linear(c.hidden_size, kv_heads_ * head_dim_, c.attention_bias, options));
  o_proj = register_module("o_proj", Linear(heads_ * head_dim_, c.hidden_size, c.attention_bias, options));
}

LlamaAttentionImpl::~LlamaAttentionImpl() = default;

void LlamaAttentionImpl::PackProjections() {
  if (!qkv_) qkv_ = std::make_unique<PackedLinear>();
  qkv_->Pack({q_proj, k_proj, v_proj});
}

at::Tensor LlamaAttentionImpl::forward(const at::Tensor& x, const AttentionContext& context,
                                       const at::Tensor& residual) const {
  const int64_t b = x.size(0), t = x.size(1);
  at::Tensor dq, dv;
  if (context.hooks) {
    dq = context.hooks->QueryDelta(layer_index_, x);
    dv = context.hooks->ValueDelta(layer_index_, x);
  }
#if MOME_WITH_CUDA_KERNELS
  if (FusedDecodeApplies(x, context, qkv_ && qkv_->Usable(), dq.defined() || dv.defined())) {
    const at::Tensor qkv = Project(x, qkv_->weight(), qkv_->bias(), {});
    return Project(FusedDecodeAttention(qkv.view({b, t, heads_ + 2 * kv_heads_, head_dim_}), context, layer_index_,
                                        heads_, kv_heads_),
                   o_proj, residual);
  }
#endif
  // Rotary in the [B, T, heads, head_dim] layout, before the transpose (elementwise: the same values).
  const at::Tensor cos = context.cos.unsqueeze(2), sin = context.sin.unsqueeze(2);
  at::Tensor q, k, v;
  if (qkv_ && qkv_->Usable()) {
    // Splits rather than narrows: under autograd a split is one node whose backward concatenates, where each
    // narrow would zero-fill a full-width gradient.
    const at::Tensor qkv = Project(x, qkv_->weight(), qkv_->bias(), {}).view({b, t, heads_ + 2 * kv_heads_, head_dim_});
    if (!dq.defined()) {  // q and k rotated in one pass
      const auto qk_v = qkv.split_with_sizes({heads_ + kv_heads_, kv_heads_}, 2);
      const auto qk = ApplyRotary(qk_v[0], cos, sin).split_with_sizes({heads_, kv_heads_}, 2);
      q = qk[0];
      k = qk[1];
      v = qk_v[1];
    } else {
      const auto parts = qkv.split_with_sizes({heads_, kv_heads_, kv_heads_}, 2);
      q = ApplyRotary(parts[0] + dq.view({b, t, heads_, head_dim_}), cos, sin);
      k = ApplyRotary(parts[1], cos, sin);
      v = parts[2];
    }
  } else {
    q = q_proj->forward(x);
    if (dq.defined()) q = q + dq;
    q = ApplyRotary(q.view({b, t, heads_, head_dim_}), cos, sin);
    k = ApplyRotary(k_proj->forward(x).view({b, t, kv_heads_, head_dim_}), cos, sin);
    v = v_proj->forward(x).view({b, t, kv_heads_, head_dim_});
  }
  if (dv.defined()) v = v + dv.view({b, t, kv_heads_, head_dim_});
  q = q.transpose(1, 2);
  k = k.transpose(1, 2);
  v = v.transpose(1, 2);
  if (context.cache && context.write_slot.defined()) {
    KVCache& cache = *context.cache;
    cache.keys(layer_index_).index_copy_(2, context.write_slot, k);
    cache.values(layer_index_).index_copy_(2, context.write_slot, v);
    k = cache.keys(layer_index_);
    v = cache.values(layer_index_);
  } else if (context.cache) {
    KVCache& cache = *context.cache;
    const int64_t start = cache.length();
    cache.keys(layer_index_).narrow(2, start, t).copy_(k);
    cache.values(layer_index_).narrow(2, start, t).copy_(v);
    k = cache.keys(layer_index_).narrow(2, 0, start + t);
    v = cache.values(layer_index_).narrow(2, 0, start + t);
  }
  const int64_t groups = heads_ / kv_heads_;
  at::Tensor out;
  if (groups > 1 && t == 1 && !context.attention_probs) {
    // Grouped-query attention for one new token: the `groups` query heads of a kv head become that head's query
    // rows, so the cache is read as it is instead of being expanded `groups` times every step. The mask
    // [B, 1, 1, S] broadcasts over those rows; with one token there is nothing causal to mask.
    AttentionContext one = context;
    one.causal = false;
    out = Attend(q.reshape({b, kv_heads_, groups, head_dim_}), k, v, one).reshape({b, heads_, 1, head_dim_});
  } else {
    if (groups > 1) {  // grouped-query attention: each kv head serves `groups` query heads
      const int64_t s = k.size(2);
      k = k.unsqueeze(2).expand({b, kv_heads_, groups, s, head_dim_}).reshape({b, heads_, s, head_dim_});
      v = v.unsqueeze(2).expand({b, kv_heads_, groups, s, head_dim_}).reshape({b, heads_, s, head_dim_});
    }
    out = Attend(q, k, v, context);
  }
  return Project(out.transpose(1, 2).reshape({b, t, heads_ * head_dim_}), o_proj, residual);
}

LlamaMLPImpl::LlamaMLPImpl(const LlamaConfig& c, const at::TensorOptions& options) {
  gate_proj = register_module("gate_proj", Linear(c.hidden_size, c.intermediate_size, c.mlp_bias, options));
  up_proj = register_module("up_proj", Linear(c.hidden_size, c.intermediate_size, c.mlp_bias, options));
  down_proj = register_module("down_proj", Linear(c.intermediate_size, c.hidden_size, c.mlp_bias, options));
}

LlamaMLPImpl::~LlamaMLPImpl() = default;

void LlamaMLPImpl::PackProjections() {
  if (!gate_up_) gate_up_ = std::make_unique<PackedLinear>();
  gate_up_->Pack({gate_proj, up_proj});
}

at::Tensor LlamaMLPImpl::forward(const at::Tensor& x, const at::Tensor& residual) const {
  if (gate_up_ && gate_up_->Usable()) {
    const at::Tensor gate_up = Project(x, gate_up_->weight(), gate_up_->bias(), {});
#if MOME_WITH_CUDA_KERNELS
    if (UseKernels(gate_up)) return Project(kernels::SiluMul(gate_up), down_proj, residual);
#endif
    if (at::GradMode::is_enabled() && gate_up.requires_grad() && UseFusedTraining(gate_up))
      return Project(SiluMulNode(gate_up), down_proj, residual);
    return Project(SiluMulComposed(gate_up), down_proj, residual);
  }
  return Project(at::silu(gate_proj->forward(x)) * up_proj->forward(x), down_proj, residual);
}

LlamaDecoderLayerImpl::LlamaDecoderLayerImpl(const LlamaConfig& c, int64_t layer_index,
                                             const at::TensorOptions& options)
    : layer_index_(layer_index) {
  self_attn = register_module("self_attn", LlamaAttention(c, layer_index, options));
  mlp = register_module("mlp", LlamaMLP(c, options));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, options));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, options));
}

at::Tensor LlamaDecoderLayerImpl::forward(const at::Tensor& h, const AttentionContext& context) const {
  const at::Tensor normed = input_layernorm->forward(h);
  at::Tensor after_attention = self_attn->forward(normed, context, h);  // h + attention
  const LayerHooks* hooks = context.hooks;
  if (hooks)
    if (at::Tensor extra = hooks->AttentionParallel(layer_index_, normed); extra.defined())
      after_attention = after_attention + extra;
  const at::Tensor normed_post = post_attention_layernorm->forward(after_attention);
  at::Tensor out;
  if (context.mlp_outputs) {  // analysis wants the MLP's output on its own
    const at::Tensor mlp_out = mlp->forward(normed_post);
    context.mlp_outputs->push_back(mlp_out);
    out = after_attention + mlp_out;
  } else {
    out = mlp->forward(normed_post, after_attention);  // after_attention + MLP
  }
  if (hooks) {
    if (at::Tensor extra = hooks->MlpParallel(layer_index_, normed_post); extra.defined()) out = out + extra;
    if (at::Tensor extra = hooks->LayerParallel(layer_index_, normed); extra.defined()) out = out + extra;
  }
  return out;
}

// ---------------------------------------------------------------- model

LlamaModelImpl::LlamaModelImpl(const LlamaConfig& c, const at::TensorOptions& options)
    : config_(c), rotary_(c, options.device()) {
  embed_tokens = register_module("embed_tokens", Embedding(c.vocab_size, c.hidden_size, options));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) layers->push_back(LlamaDecoderLayer(c, l, options));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps, options));
}

at::Tensor LlamaModelImpl::Embed(const at::Tensor& ids) const {
  return embed_tokens->forward(ids);
}

namespace {

// The most negative finite value of `dtype`: masked scores use it instead of -inf, so a fully masked
// padding row stays finite rather than turning into NaN (as HF does).
double LowestFinite(c10::ScalarType dtype) {
  switch (dtype) {
    case at::kBFloat16: return static_cast<float>(std::numeric_limits<c10::BFloat16>::lowest());
    case at::kHalf: return static_cast<float>(std::numeric_limits<c10::Half>::lowest());
    case at::kDouble: return std::numeric_limits<double>::lowest();
    default: return std::numeric_limits<float>::lowest();
  }
}

// Additive mask [B, 1, T, S]: 0 where query t (at slot query_start + t) may see key slot s.
at::Tensor BuildAttentionBias(const at::Tensor& key_valid, int64_t query_start, int64_t t, c10::ScalarType dtype) {
  const int64_t s = key_valid.size(1);
  const auto long_options = key_valid.options().dtype(at::kLong);
  const at::Tensor query_slot = at::arange(query_start, query_start + t, long_options).view({1, t, 1});
  const at::Tensor key_slot = at::arange(0, s, long_options).view({1, 1, s});
  const at::Tensor allowed = (key_slot <= query_slot).logical_and(key_valid.unsqueeze(1));
  const at::Tensor zero = at::zeros({}, key_valid.options().dtype(dtype));
  const at::Tensor lowest = at::full({}, LowestFinite(dtype), zero.options());
  return at::where(allowed, zero, lowest).unsqueeze(1);
}

}  // namespace

at::Tensor LlamaModelImpl::forward(const at::Tensor& inputs_embeds, const at::Tensor& positions,
                                   const at::Tensor& valid, KVCache* cache, const ForwardExtras& extras) const {
  MOME_CHECK(inputs_embeds.dim() == 3 && inputs_embeds.size(2) == config_.hidden_size, ErrorCode::kShapeMismatch,
             "Llama inputs_embeds must be [B, T, ", config_.hidden_size, "], got ", inputs_embeds.sizes());
  const int64_t b = inputs_embeds.size(0), t = inputs_embeds.size(1);
  MOME_CHECK(positions.dim() == 2 && positions.size(0) == b && positions.size(1) == t, ErrorCode::kShapeMismatch,
             "Llama positions must be [", b, ", ", t, "], got ", positions.sizes());
  const c10::ScalarType dtype = inputs_embeds.scalar_type();

  AttentionContext context;
  std::tie(context.cos, context.sin) = rotary_.Compute(positions, dtype);
  context.sin = SignedSin(context.sin);
  context.cache = cache;
  if (cache) {
    MOME_CHECK(cache->batch() == b, ErrorCode::kShapeMismatch, "KV cache batch ", cache->batch(), " != input batch ",
               b);
    const int64_t start = cache->length();
    cache->BeginStep(valid, t);
    if (t > 1 || cache->has_padding())
      context.bias = BuildAttentionBias(cache->valid().narrow(1, 0, start + t), start, t, dtype);
  } else if (valid.defined()) {
    context.bias = BuildAttentionBias(valid, 0, t, dtype);
  } else {
    context.causal = true;
  }

  context.hooks = extras.hooks;
  context.attention_probs = extras.attention_probs;
  context.mlp_outputs = extras.mlp_outputs;
  if (extras.attention_probs) extras.attention_probs->clear();
  if (extras.mlp_outputs) extras.mlp_outputs->clear();
  if (extras.layer_outputs) extras.layer_outputs->clear();
  at::Tensor h = inputs_embeds;
  for (const auto& layer : *layers) {
    h = layer->as<LlamaDecoderLayer>()->forward(h, context);
    if (extras.layer_outputs) extras.layer_outputs->push_back(h);
  }
  if (cache) cache->EndStep(t);
  return norm->forward(h);
}

at::Tensor LlamaModelImpl::ForwardStatic(const at::Tensor& inputs_embeds, const at::Tensor& positions,
                                         const at::Tensor& slot, KVCache& cache, const LayerHooks* hooks) const {
  const c10::ScalarType dtype = inputs_embeds.scalar_type();
  AttentionContext context;
  std::tie(context.cos, context.sin) = rotary_.Compute(positions, dtype);
  context.sin = SignedSin(context.sin);
  context.cache = &cache;
  context.write_slot = slot;
  context.hooks = hooks;
  at::Tensor valid = cache.valid();
  valid.index_fill_(1, slot, true);
  const int64_t capacity = cache.capacity();
  const at::Tensor key_slot = at::arange(capacity, slot.options()).view({1, 1, 1, capacity});
  const at::Tensor allowed = key_slot.le(slot.view({1, 1, 1, 1})).logical_and(valid.view({-1, 1, 1, capacity}));
  context.bias = at::where(allowed, at::zeros({}, inputs_embeds.options()),
                           at::full({}, LowestFinite(dtype), inputs_embeds.options()));
  at::Tensor h = inputs_embeds;
  for (const auto& layer : *layers) h = layer->as<LlamaDecoderLayer>()->forward(h, context);
  return norm->forward(h);
}

LlamaForCausalLMImpl::LlamaForCausalLMImpl(const LlamaConfig& c, const at::TensorOptions& options)
    : config_(c), options_(options) {
  model = register_module("model", LlamaModel(c, options));
  if (!c.tie_word_embeddings) lm_head = register_module("lm_head", Linear(c.hidden_size, c.vocab_size, false, options));
}

void LlamaForCausalLMImpl::PackProjections() {
  for (const auto& layer : *model->layers) {
    auto* l = layer->as<LlamaDecoderLayer>();
    l->self_attn->PackProjections();
    l->mlp->PackProjections();
  }
}

at::Tensor LlamaForCausalLMImpl::Logits(const at::Tensor& hidden) const {
  return at::linear(hidden, lm_head ? lm_head->weight : model->embed_tokens->weight);
}

at::Tensor LlamaForCausalLMImpl::LogitsFp32(const at::Tensor& hidden) const {
  const at::Tensor& weight = lm_head ? lm_head->weight : model->embed_tokens->weight;
#if MOME_WITH_CUDA_KERNELS
  if (UseDecodeLinear(hidden, weight, {})) {
    kernels::DecodeLinearExtras extras;
    extras.float_out = true;
    return kernels::DecodeLinear(hidden, weight, extras);
  }
#endif
  return at::linear(hidden, weight).to(at::kFloat);
}

at::Tensor LlamaForCausalLMImpl::forward(const at::Tensor& inputs_embeds, const at::Tensor& positions,
                                         const at::Tensor& valid, KVCache* cache, const ForwardExtras& extras) const {
  return Logits(model->forward(inputs_embeds, positions, valid, cache, extras));
}

at::Tensor PositionsFromMask(const at::Tensor& valid, const at::Tensor& offset) {
  // HF: position_ids = attention_mask.cumsum(-1) - 1, with padding positions set to 1 (never attended).
  at::Tensor positions = valid.to(at::kLong).cumsum(-1) - 1;
  if (offset.defined()) positions = positions + offset.unsqueeze(1);
  return positions.masked_fill(valid.logical_not(), 1);
}

}  // namespace mome::llm
