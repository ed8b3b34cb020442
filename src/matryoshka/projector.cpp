#include "mome/matryoshka/projector.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>

#include "mome/core/error.h"
#include "mome/nn/init.h"

namespace mome::matryoshka {
namespace {

// nn.Linear's default: weight and bias uniform in ±1/sqrt(fan_in).
std::pair<at::Tensor, at::Tensor> LinearInit(int64_t in, int64_t out, const at::TensorOptions& t,
                                             const at::Generator& init) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  return {nn::UniformInit({out, in}, bound, t, init), nn::UniformInit({out}, bound, t, init)};
}

}  // namespace

ProjectorImpl::ProjectorImpl(const ProjectorOptions& o, const at::TensorOptions& t, const at::Generator& init)
    : options_(o) {
  MOME_CHECK(o.in_dim > 0 && o.hidden > 0 && o.out_dim > 0, ErrorCode::kInvalidArgument,
             "projector sizes must be positive, got ", o.in_dim, " -> ", o.hidden, " -> ", o.out_dim);
  torch::NoGradGuard no_grad;
  // Submodules named like nn.Sequential-free PyTorch code would: fc1.weight, fc2.bias, norm.weight ...
  auto holder = [this](const char* name) { return register_module(name, std::make_shared<torch::nn::Module>()); };
  auto fc1 = holder("fc1");
  auto fc2 = holder("fc2");
  auto [w1, b1] = LinearInit(o.in_dim, o.hidden, t, init);
  auto [w2, b2] = LinearInit(o.hidden, o.out_dim, t, init);
  fc1_weight = fc1->register_parameter("weight", w1);
  fc1_bias = fc1->register_parameter("bias", b1);
  fc2_weight = fc2->register_parameter("weight", w2);
  fc2_bias = fc2->register_parameter("bias", b2);
  if (o.layer_norm) {
    auto norm = holder("norm");
    norm_weight = norm->register_parameter("weight", at::ones({o.out_dim}, t));
    norm_bias = norm->register_parameter("bias", at::zeros({o.out_dim}, t));
  }
}

at::Tensor ProjectorImpl::forward(const at::Tensor& x) const {
  MOME_CHECK(x.size(-1) == options_.in_dim, ErrorCode::kShapeMismatch, "projector expects width ", options_.in_dim,
             ", got ", x.sizes());
  at::Tensor y = at::linear(at::relu(at::linear(x, fc1_weight, fc1_bias)), fc2_weight, fc2_bias);
  if (options_.layer_norm) y = at::layer_norm(y, {options_.out_dim}, norm_weight, norm_bias);
  return y;
}

}  // namespace mome::matryoshka
