// Private to decode/: the decoding step captured once as a CUDA graph and replayed for every token.
// Eager LibTorch spends ~10 µs of host time per op (~1000 ops per Llama-1B step); replaying a graph removes
// that, leaving the GPU time. Only built with CUDA; elsewhere Create returns nullptr.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>

#include "mome/llm/kv_cache.h"
#include "mome/llm/llama.h"

namespace mome::decode {

class GraphedDecodeStep {
 public:
  // Captures the step for the cache's batch/capacity; next_position [B] are the positions of the next tokens.
  // Returns nullptr when CUDA graphs are unavailable (CPU build, CPU tensors).
  static std::unique_ptr<GraphedDecodeStep> Create(const llm::LlamaForCausalLMImpl& lm, llm::KVCache& cache,
                                                   const at::Tensor& next_position,
                                                   const llm::LayerHooks* hooks = nullptr);
  virtual ~GraphedDecodeStep() = default;
  // Feeds tokens [B]; returns logits [B, vocab] float32 (a buffer overwritten by the next Step).
  virtual at::Tensor Step(const at::Tensor& tokens) = 0;
  // Beam search: sequence i continues from sequence index[i] (the cache is reordered by the caller).
  virtual void Reorder(const at::Tensor& index) = 0;
  // Reuse for a new prompt in the same (reset, then prefilled) cache: next positions [B] and the next slot.
  virtual void Reset(const at::Tensor& next_position, int64_t next_slot) = 0;
};

}  // namespace mome::decode
