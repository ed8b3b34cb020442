// Building blocks shared by every stage that has weights (encoders, the Llama, projectors), so that no stage
// includes another's folder for them. Parameters are allocated directly with the target options (device/dtype),
// uninitialised: checkpoints fill them, or nn/init.h does.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace mome::nn {

// A Linear layer that allocates (uninitialised) parameters with the given options instead of a random CPU init.
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in, int64_t out, bool bias, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor weight, bias;
};
TORCH_MODULE(Linear);

// An embedding table registered as `weight`, allocated on the target device like Linear.
class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t count, int64_t dim, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& ids) const;
  at::Tensor weight;
};
TORCH_MODULE(Embedding);

}  // namespace mome::nn
