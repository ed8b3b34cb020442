// One projector per compression rate (SPEC.md §1): Linear(d_in, hidden) -> ReLU -> Linear(hidden, d_llm), with an
// optional LayerNorm(d_llm). Trainable; nn.Linear's default initialisation.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace mome::matryoshka {

struct ProjectorOptions {
  int64_t in_dim = 0;
  int64_t hidden = 2048;
  int64_t out_dim = 0;
  bool layer_norm = false;
};

class ProjectorImpl : public torch::nn::Module {
 public:
  // Random weights from `init` (a CPU generator; undefined: the global generator).
  ProjectorImpl(const ProjectorOptions& options, const at::TensorOptions& tensor_options,
                const at::Generator& init = {});
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor fc1_weight, fc1_bias, fc2_weight, fc2_bias, norm_weight, norm_bias;

 private:
  ProjectorOptions options_;
};
TORCH_MODULE(Projector);

}  // namespace mome::matryoshka
