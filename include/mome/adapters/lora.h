// LoRA on the Q and V projections (the Llama-AVSR / Llama-MTSK baselines, SPEC.md §2):
// delta(x) = scaling * up(down(x)), bottleneck r = d / reduction, scaling = alpha / reduction; the
// down-projection starts at zero and the up-projection Kaiming-uniform, so training starts from the frozen model.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace mome::adapters {

class LoRAImpl : public torch::nn::Module {
 public:
  LoRAImpl(int64_t in_dim, int64_t out_dim, int64_t rank, double scaling, const at::TensorOptions& options,
           const at::Generator& init = {});  // `init`: a CPU generator; undefined: the global one
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor down, up;  // [rank, in], [out, rank]
  double scaling;
};
TORCH_MODULE(LoRA);

}  // namespace mome::adapters
