#include "mome/llm/packed_linear.h"

#include <ATen/ATen.h>
#include <torch/torch.h>

namespace mome::llm {

void PackedLinear::Pack(const std::vector<Linear>& parts) {
  if (Usable()) return;
  *this = PackedLinear();
  if (parts.size() < 2) return;
  const at::Tensor& first = parts.front()->weight;
  if (first.device().is_meta()) return;
  std::vector<at::Tensor> weights, biases;
  for (const auto& p : parts) {
    const at::Tensor& w = p->weight;
    if (w.dim() != 2 || w.size(1) != first.size(1) || w.scalar_type() != first.scalar_type() ||
        w.device() != first.device() || p->bias.defined() != parts.front()->bias.defined() || w.requires_grad())
      return;
    weights.push_back(w);
    if (p->bias.defined()) biases.push_back(p->bias);
  }
  torch::NoGradGuard no_grad;
  weight_ = at::cat(weights, 0);
  if (!biases.empty()) bias_ = at::cat(biases, 0);
  int64_t row = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const int64_t rows = parts[i]->weight.size(0);
    parts[i]->weight.set_data(weight_.narrow(0, row, rows));
    if (bias_.defined()) parts[i]->bias.set_data(bias_.narrow(0, row, rows));
    expected_.push_back(parts[i]->weight.data_ptr());
    row += rows;
  }
  parts_ = parts;
}

bool PackedLinear::Usable() const {
  if (!weight_.defined()) return false;
  for (size_t i = 0; i < parts_.size(); ++i) {
    const at::Tensor& w = parts_[i]->weight;
    if (w.data_ptr() != expected_[i] || w.requires_grad()) return false;
  }
  return true;
}

at::Tensor PackedLinear::forward(const at::Tensor& x) const {
  return at::linear(x, weight_, bias_);
}

}  // namespace mome::llm
