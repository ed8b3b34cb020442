// Frozen projections that read the same input (q/k/v; gate/up), packed into one matrix so that a forward pass runs
// one matmul instead of two or three — in decoding, where every kernel launch counts, this is the difference.
// Pack() concatenates the weights and turns each module's parameters into views of the packed matrix, so nothing
// is stored twice and the HF names, loading and saving stay as they were. The packed path is used only while it
// is still valid: every part's weight still views the packed matrix (a later `to()` or reload breaks that and the
// callers fall back to the separate modules) and none of them trains (their views would not get gradients).
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "mome/llm/llama.h"

namespace mome::llm {

class PackedLinear {
 public:
  // Packs `parts` when they share dtype, device, input size and bias presence; otherwise leaves them alone.
  void Pack(const std::vector<Linear>& parts);
  bool Usable() const;
  // [..., sum of the parts' output sizes]; call only when Usable().
  at::Tensor forward(const at::Tensor& x) const;
  const at::Tensor& weight() const { return weight_; }
  const at::Tensor& bias() const { return bias_; }

 private:
  std::vector<Linear> parts_;
  std::vector<const void*> expected_;  // each part's weight data pointer right after packing
  at::Tensor weight_, bias_;
};

}  // namespace mome::llm
