// Private to decode/: one batch of sequences being decoded step by step with a static KV cache.
#pragma once

#include <ATen/ATen.h>

#include <memory>

#include "decode/graphed_step.h"
#include "mome/llm/kv_cache.h"
#include "mome/llm/llama.h"

namespace mome::decode {

class IncrementalDecoder {
 public:
  IncrementalDecoder(const llm::LlamaForCausalLMImpl& lm, int64_t batch, int64_t capacity, bool use_cuda_graphs,
                     const llm::LayerHooks* hooks)
      : lm_(lm), cache_(lm.config(), batch, capacity, lm.options()), use_cuda_graphs_(use_cuda_graphs) {
    extras_.hooks = hooks;
  }

  int64_t batch() const { return cache_.batch(); }
  int64_t capacity() const { return cache_.capacity(); }

  // Starts a new batch of requests (the cache is emptied, its memory and any captured graph are kept), runs
  // the prompt, and returns next-token logits [B, vocab] (float32) at the last (real) position.
  at::Tensor Prefill(const at::Tensor& embeds, const at::Tensor& valid) {
    const int64_t b = embeds.size(0), t = embeds.size(1);
    cache_.Reset();
    const at::Tensor step_valid =
        valid.defined() ? valid.to(embeds.device()) : at::ones({b, t}, embeds.options().dtype(at::kBool));
    const at::Tensor positions = llm::PositionsFromMask(step_valid);
    next_position_ = positions.select(1, t - 1) + 1;
    const at::Tensor hidden =
        lm_.model->forward(embeds, positions, valid.defined() ? step_valid : at::Tensor(), &cache_, extras_);
    // Adapters that now do other work (another Matryoshka scale) or cannot be captured: drop the old capture.
    if (graph_ && extras_.hooks && (!extras_.hooks->GraphCapturable() || extras_.hooks->GraphKey() != graph_key_))
      graph_.reset();
    if (graph_) graph_->Reset(next_position_, cache_.length());
    return lm_.LogitsFp32(hidden.select(1, t - 1));
  }

  // Feeds one token per sequence; returns logits [B, vocab] (float32), valid until the next Step.
  at::Tensor Step(const at::Tensor& tokens) {
    // Adapters are captured too when they launch the same kernels every step (LayerHooks::GraphCapturable);
    // otherwise (router statistics, sorted routing) they decode eagerly.
    if (use_cuda_graphs_ && !graph_ && (!extras_.hooks || extras_.hooks->GraphCapturable())) {
      graph_ = GraphedDecodeStep::Create(lm_, cache_, next_position_, extras_.hooks);
      graph_key_ = extras_.hooks ? extras_.hooks->GraphKey() : 0;
      use_cuda_graphs_ = graph_ != nullptr;
    }
    if (graph_) return graph_->Step(tokens);
    const at::Tensor embeds = lm_.model->Embed(tokens.unsqueeze(1));
    const at::Tensor hidden = lm_.model->forward(embeds, next_position_.unsqueeze(1), at::Tensor(), &cache_, extras_);
    next_position_ = next_position_ + 1;
    return lm_.LogitsFp32(hidden.select(1, 0));
  }

  void Reorder(const at::Tensor& index) {
    cache_.Reorder(index);
    if (graph_)
      graph_->Reorder(index);
    else
      next_position_ = next_position_.index_select(0, index);
  }

 private:
  const llm::LlamaForCausalLMImpl& lm_;
  llm::KVCache cache_;
  at::Tensor next_position_;  // [B] position id of the next token (eager path)
  bool use_cuda_graphs_;
  llm::ForwardExtras extras_;
  std::unique_ptr<GraphedDecodeStep> graph_;  // captured at the first Step when on CUDA
  int64_t graph_key_ = 0;                     // the hooks' GraphKey() when graph_ was captured
};

}  // namespace mome::decode
