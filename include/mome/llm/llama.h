// The Llama decoder, numerically equal to Hugging Face LlamaForCausalLM.
// Submodules and parameters carry the HF checkpoint names (model.layers.3.self_attn.q_proj.weight), so loading
// is a lookup. Parameters are created directly on the target device/dtype, never built on the CPU and moved.
#pragma once

#include <memory>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include "mome/llm/kv_cache.h"
#include "mome/llm/layer_hooks.h"
#include "mome/llm/llama_config.h"
#include "mome/nn/layers.h"

namespace mome::llm {

class PackedLinear;

// Linear and Embedding are shared with the encoders (nn/); RMSNorm stays here: its fused kernels and autograd
// node are the Llama's own.
using nn::Embedding;
using nn::Linear;

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

// Cosine/sine tables for given positions, with the rope_scaling variants of HF (default, linear, llama3).
class RotaryEmbedding {
 public:
  RotaryEmbedding(const LlamaConfig& config, c10::Device device);
  // positions [B, T] int64 -> (cos, sin) [B, T, head_dim] in `dtype`.
  std::pair<at::Tensor, at::Tensor> Compute(const at::Tensor& positions, c10::ScalarType dtype) const;
  const at::Tensor& inv_freq() const { return inv_freq_; }

 private:
  at::Tensor inv_freq_;  // fp32 [head_dim / 2]
  double attention_scaling_ = 1.0;
};

// What one forward pass attends to. With a cache, keys are the cache's slots [0, length + T); without one,
// keys are the T inputs themselves. `key_valid` marks padding; causality is by slot order.
struct AttentionContext {
  at::Tensor cos, sin;  // [B, T, head_dim]; sin with its first half negated (llama.cpp's ApplyRotary)
  at::Tensor bias;      // additive mask [B, 1, T, S] in compute dtype (or undefined: no masking needed)
  bool causal = false;  // with no bias: plain causal attention over the T inputs (no cache, no padding)
  KVCache* cache = nullptr;
  // Static-shape decoding (CUDA graphs): the new keys/values go to cache slot `write_slot` (a device tensor
  // [1]) and attention spans the whole cache capacity, masked by `bias`; no host-side shape changes.
  at::Tensor write_slot;
  const LayerHooks* hooks = nullptr;                   // adapters, when any
  std::vector<at::Tensor>* attention_probs = nullptr;  // analysis: each layer appends its probabilities
  std::vector<at::Tensor>* mlp_outputs = nullptr;      // analysis: each layer appends its MLP output
};

class LlamaAttentionImpl : public torch::nn::Module {
 public:
  LlamaAttentionImpl(const LlamaConfig& config, int64_t layer_index, const at::TensorOptions& options);
  ~LlamaAttentionImpl() override;
  // The attention's output, plus `residual` when defined (the decoder layer's add, fused on the decoding path).
  at::Tensor forward(const at::Tensor& x, const AttentionContext& context, const at::Tensor& residual = {}) const;
  void PackProjections();  // q/k/v as one matmul (llm/packed_linear.h)
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

 private:
  int64_t layer_index_, heads_, kv_heads_, head_dim_;
  std::unique_ptr<PackedLinear> qkv_;
};
TORCH_MODULE(LlamaAttention);

class LlamaMLPImpl : public torch::nn::Module {
 public:
  LlamaMLPImpl(const LlamaConfig& config, const at::TensorOptions& options);
  ~LlamaMLPImpl() override;
  at::Tensor forward(const at::Tensor& x, const at::Tensor& residual = {}) const;  // + residual, as the attention's
  void PackProjections();  // gate/up as one matmul (llm/packed_linear.h)
  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};

 private:
  std::unique_ptr<PackedLinear> gate_up_;
};
TORCH_MODULE(LlamaMLP);

class LlamaDecoderLayerImpl : public torch::nn::Module {
 public:
  LlamaDecoderLayerImpl(const LlamaConfig& config, int64_t layer_index, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& h, const AttentionContext& context) const;
  LlamaAttention self_attn{nullptr};
  LlamaMLP mlp{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};

 private:
  int64_t layer_index_;
};
TORCH_MODULE(LlamaDecoderLayer);

class LlamaModelImpl : public torch::nn::Module {
 public:
  LlamaModelImpl(const LlamaConfig& config, const at::TensorOptions& options);
  at::Tensor Embed(const at::Tensor& ids) const;  // [B, T] -> [B, T, d]
  // inputs_embeds [B, T, d]; positions [B, T]; valid [B, T] bool (undefined = no padding); cache optional.
  // Returns the final-normed hidden states [B, T, d].
  at::Tensor forward(const at::Tensor& inputs_embeds, const at::Tensor& positions, const at::Tensor& valid,
                     KVCache* cache, const ForwardExtras& extras = {}) const;
  // One decoding step with shapes that never change (capturable in a CUDA graph): inputs_embeds [B, 1, d],
  // positions [B, 1], `slot` a device tensor [1] naming the cache slot to fill. The caller advances the
  // cache's host-side length (EndStep) itself.
  at::Tensor ForwardStatic(const at::Tensor& inputs_embeds, const at::Tensor& positions, const at::Tensor& slot,
                           KVCache& cache, const LayerHooks* hooks = nullptr) const;
  Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
  const RotaryEmbedding& rotary() const { return rotary_; }

 private:
  LlamaConfig config_;
  RotaryEmbedding rotary_;
};
TORCH_MODULE(LlamaModel);

class LlamaForCausalLMImpl : public torch::nn::Module {
 public:
  LlamaForCausalLMImpl(const LlamaConfig& config, const at::TensorOptions& options);
  // Logits [B, T, vocab] for every input position (float32 when compute is float32, else compute dtype).
  at::Tensor forward(const at::Tensor& inputs_embeds, const at::Tensor& positions, const at::Tensor& valid,
                     KVCache* cache, const ForwardExtras& extras = {}) const;
  at::Tensor Logits(const at::Tensor& hidden) const;
  // Logits(hidden).to(float), in one kernel on the decoding path (the values rounded to the model dtype first).
  at::Tensor LogitsFp32(const at::Tensor& hidden) const;
  // Packs each layer's frozen q/k/v and gate/up projections into single matmuls (fewer kernels per decoding step;
  // same values, parameters become views). LoadLlama does it; call again after changing dtype/device or weights'
  // requires_grad. Layers whose projections train keep the separate path automatically.
  void PackProjections();
  const LlamaConfig& config() const { return config_; }
  const at::TensorOptions& options() const { return options_; }
  LlamaModel model{nullptr};
  Linear lm_head{nullptr};  // absent when the embeddings are tied

 private:
  LlamaConfig config_;
  at::TensorOptions options_;
};
TORCH_MODULE(LlamaForCausalLM);

// Positions for left- or right-padded inputs, as HF derives them from an attention mask: cumsum(valid) - 1,
// starting at `offset` (the number of real tokens already in the cache for each sequence, [B] or undefined).
at::Tensor PositionsFromMask(const at::Tensor& valid, const at::Tensor& offset = {});

}  // namespace mome::llm
