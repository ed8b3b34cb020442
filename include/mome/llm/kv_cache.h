// Per-request decoding state for the Llama decoder: a static, preallocated key/value cache.
// Kept outside the model so one loaded model can serve several requests (weights immutable, state separate).
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "mome/llm/llama_config.h"

namespace mome::llm {

class KVCache {
 public:
  KVCache() = default;
  // Allocates [batch, kv_heads, capacity, head_dim] keys and values for every layer on `options`' device/dtype.
  KVCache(const LlamaConfig& config, int64_t batch, int64_t capacity, const at::TensorOptions& options);

  int64_t batch() const { return batch_; }
  int64_t capacity() const { return capacity_; }
  int64_t length() const { return length_; }  // slots filled so far (the same for every sequence)

  // Slot validity [batch, capacity]: false for padding slots, so attention never looks at them.
  const at::Tensor& valid() const { return valid_; }

  // Used by the attention layers: the cache views for one layer.
  at::Tensor& keys(int64_t layer) { return keys_[layer]; }
  at::Tensor& values(int64_t layer) { return values_[layer]; }

  // Marks `step_valid` [batch, T] (undefined = all real tokens) as the validity of the next T slots;
  // throws when they do not fit.
  void BeginStep(const at::Tensor& step_valid, int64_t step_tokens);
  // True once any padding slot was written: attention then needs a mask even for one new token.
  bool has_padding() const { return has_padding_; }
  // Called once every layer has written its T new slots.
  void EndStep(int64_t step_tokens) { length_ += step_tokens; }

  // Empties the cache for a new batch of requests of the same size, keeping its memory.
  void Reset();

  // Reorders the batch (beam search): sequence i takes the state of sequence index[i].
  void Reorder(const at::Tensor& index);

 private:
  int64_t batch_ = 0;
  int64_t capacity_ = 0;
  int64_t length_ = 0;
  bool has_padding_ = false;
  std::vector<at::Tensor> keys_;
  std::vector<at::Tensor> values_;
  at::Tensor valid_;
};

}  // namespace mome::llm
