#include "mome/llm/kv_cache.h"

#include <ATen/ATen.h>

#include "mome/core/error.h"

namespace mome::llm {

KVCache::KVCache(const LlamaConfig& config, int64_t batch, int64_t capacity, const at::TensorOptions& options)
    : batch_(batch), capacity_(capacity) {
  MOME_CHECK(batch > 0 && capacity > 0, ErrorCode::kInvalidArgument, "KV cache needs batch > 0 and capacity > 0, got ",
             batch, " x ", capacity);
  for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
    keys_.push_back(at::zeros({batch, config.num_key_value_heads, capacity, config.head_dim}, options));
    values_.push_back(at::zeros({batch, config.num_key_value_heads, capacity, config.head_dim}, options));
  }
  valid_ = at::zeros({batch, capacity}, options.dtype(at::kBool));
}

void KVCache::BeginStep(const at::Tensor& step_valid, int64_t tokens) {
  MOME_CHECK(length_ + tokens <= capacity_, ErrorCode::kInvalidArgument, "KV cache overflow: ", length_, " + ", tokens,
             " tokens exceed its capacity of ", capacity_);
  if (!step_valid.defined()) {
    valid_.narrow(1, length_, tokens).fill_(true);
    return;
  }
  MOME_CHECK(step_valid.dim() == 2 && step_valid.size(0) == batch_ && step_valid.size(1) == tokens,
             ErrorCode::kShapeMismatch, "KV cache step mask must be [", batch_, ", ", tokens, "], got ",
             step_valid.sizes());
  valid_.narrow(1, length_, tokens).copy_(step_valid);
  // One host sync per masked step (the prefill), none in the decode loop.
  if (!has_padding_) has_padding_ = !step_valid.all().item<bool>();
}

void KVCache::Reset() {
  length_ = 0;
  has_padding_ = false;
  valid_.zero_();
}

void KVCache::Reorder(const at::Tensor& index) {
  // In place: a captured CUDA graph holds these buffers' addresses.
  for (auto& k : keys_) k.copy_(k.index_select(0, index));
  for (auto& v : values_) v.copy_(v.index_select(0, index));
  valid_.copy_(valid_.index_select(0, index));
}

}  // namespace mome::llm
