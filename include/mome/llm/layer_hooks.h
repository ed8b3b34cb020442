// Extension points of the frozen Llama decoder, so that adapters (LoRA, MoME) live outside the Llama module
// and the module itself stays HF-exact. Every hook returns an undefined tensor for "nothing to add".
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace mome::llm {

class LayerHooks {
 public:
  virtual ~LayerHooks() = default;
  // Added to q_proj(x) / v_proj(x) of `layer`; x is input_layernorm(h) (LoRA on Q and V).
  virtual at::Tensor QueryDelta(int64_t layer, const at::Tensor& x) const { return {}; }
  virtual at::Tensor ValueDelta(int64_t layer, const at::Tensor& x) const { return {}; }
  // Parallel to the attention block: input input_layernorm(h), output added next to attention (MHSA placement).
  virtual at::Tensor AttentionParallel(int64_t layer, const at::Tensor& normed) const { return {}; }
  // Parallel to the MLP: input post_attention_layernorm(h'), output added next to the MLP (FFN placement).
  virtual at::Tensor MlpParallel(int64_t layer, const at::Tensor& normed) const { return {}; }
  // Parallel to the whole layer: input input_layernorm(h), output added at the end of the layer (LAYER).
  virtual at::Tensor LayerParallel(int64_t layer, const at::Tensor& normed) const { return {}; }
  // CUDA graphs: whether a decoding step through these hooks may be captured once and replayed (the same
  // kernels every step: no host reads, no shapes that depend on the data), and a key that changes whenever the
  // captured work would (the decoder captures again when it does).
  virtual bool GraphCapturable() const { return false; }
  virtual int64_t GraphKey() const { return 0; }
};

// Optional extras of one forward pass.
struct ForwardExtras {
  const LayerHooks* hooks = nullptr;
  // When set, receives the residual-stream output of every decoder layer (before the final norm), [B, T, d]
  // each: the decorrelation loss and the sink analysis read them.
  std::vector<at::Tensor>* layer_outputs = nullptr;
  // When set (analysis): every layer's attention probabilities [B, heads, T, S] in float32 (computed eagerly,
  // as HF's output_attentions), and its MLP output [B, T, d] (what the MLP adds to the residual stream).
  std::vector<at::Tensor>* attention_probs = nullptr;
  std::vector<at::Tensor>* mlp_outputs = nullptr;
};

}  // namespace mome::llm
