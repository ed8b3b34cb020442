// Private to decode/: one batch of sequences being decoded step by step with a static KV cache.
#pragma once

#include <ATen/ATen.h>

#include "mome/llm/kv_cache.h"
#include "mome/llm/llama.h"

namespace mome::decode {

class IncrementalDecoder {
 public:
  IncrementalDecoder(const llm::LlamaForCausalLMImpl& lm, int64_t batch, int64_t capacity)
      : lm_(lm), cache_(lm.config(), batch, capacity, lm.options()) {}

  // Runs the prompt; returns next-token logits [B, vocab] (float32) at the last (real) position.
  at::Tensor Prefill(const at::Tensor& embeds, const at::Tensor& valid) {
    const int64_t b = embeds.size(0), t = embeds.size(1);
    const at::Tensor step_valid =
        valid.defined() ? valid.to(embeds.device()) : at::ones({b, t}, embeds.options().dtype(at::kBool));
    const at::Tensor positions = llm::PositionsFromMask(step_valid);
    next_position_ = positions.select(1, t - 1) + 1;
    const at::Tensor hidden = lm_.model->forward(embeds, positions, valid.defined() ? step_valid : at::Tensor(),
                                                 &cache_);
    return lm_.Logits(hidden.select(1, t - 1)).to(at::kFloat);
  }

  // Feeds one token per sequence; returns logits [B, vocab] (float32).
  at::Tensor Step(const at::Tensor& tokens) {
    const at::Tensor embeds = lm_.model->Embed(tokens.unsqueeze(1));
    const at::Tensor hidden = lm_.model->forward(embeds, next_position_.unsqueeze(1), at::Tensor(), &cache_);
    next_position_ = next_position_ + 1;
    return lm_.Logits(hidden.select(1, 0)).to(at::kFloat);
  }

  void Reorder(const at::Tensor& index) {
    cache_.Reorder(index);
    next_position_ = next_position_.index_select(0, index);
  }

 private:
  const llm::LlamaForCausalLMImpl& lm_;
  llm::KVCache cache_;
  at::Tensor next_position_;  // [B] position id of the next token
};

}  // namespace mome::decode
