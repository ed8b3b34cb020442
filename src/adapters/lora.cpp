#include "mome/adapters/lora.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>

#include "mome/core/error.h"
#include "mome/nn/init.h"

namespace mome::adapters {

LoRAImpl::LoRAImpl(int64_t in_dim, int64_t out_dim, int64_t rank, double scaling_, const at::TensorOptions& options,
                   const at::Generator& init)
    : scaling(scaling_) {
  MOME_CHECK(in_dim > 0 && out_dim > 0 && rank > 0, ErrorCode::kInvalidArgument, "LoRA needs positive sizes, got ",
             in_dim, " -> ", rank, " -> ", out_dim);
  torch::NoGradGuard no_grad;
  down = register_parameter("down", at::zeros({rank, in_dim}, options));
  const double bound = 1.0 / std::sqrt(static_cast<double>(rank));  // kaiming_uniform(a=sqrt(5)) of nn.Linear
  up = register_parameter("up", nn::UniformInit({out_dim, rank}, bound, options, init));
}

at::Tensor LoRAImpl::forward(const at::Tensor& x) const {
  return at::linear(at::linear(x, down), up) * scaling;
}

}  // namespace mome::adapters
