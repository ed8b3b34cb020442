#include "mome/encoders/avhubert_resnet.h"

#include <ATen/ATen.h>

#include <string>

namespace mome::encoders {
using V = std::vector<int64_t>;

BatchNormImpl::BatchNormImpl(int64_t channels, const at::TensorOptions& options) {
  weight = register_parameter("weight", at::ones({channels}, options), false);
  bias = register_parameter("bias", at::zeros({channels}, options), false);
  running_mean = register_buffer("running_mean", at::zeros({channels}, options));
  running_var = register_buffer("running_var", at::ones({channels}, options));
}

at::Tensor BatchNormImpl::forward(const at::Tensor& x) const {
  // at::batch_norm updates running_mean/var in place in training mode, as nn.BatchNorm does.
  return at::batch_norm(x, weight, bias, running_mean, running_var, is_training(), 0.1, 1e-5,
                        /*cudnn_enabled=*/true);
}

ActivationImpl::ActivationImpl(int64_t channels, bool prelu, const at::TensorOptions& options) {
  if (prelu) weight = register_parameter("weight", at::full({channels}, 0.25, options), false);
}

at::Tensor ActivationImpl::forward(const at::Tensor& x) const {
  if (!weight.defined()) return at::relu(x);
  // One slope per channel (dim 1). at::prelu's fused kernel and backward, not where(x >= 0, x, x * w): the
  // written-out form made three full-size temporaries and a where backward, 15 % of a demo AVSR training step.
  return at::prelu(x, weight);
}

ConvImpl::ConvImpl(std::vector<int64_t> shape, std::vector<int64_t> stride, std::vector<int64_t> padding,
                   const at::TensorOptions& options)
    : stride_(std::move(stride)), padding_(std::move(padding)) {
  weight = register_parameter("weight", at::empty(shape, options), false);
}

at::Tensor ConvImpl::forward(const at::Tensor& x) const {
  if (weight.dim() == 5) return at::conv3d(x, weight, {}, stride_, padding_);
  return at::conv2d(x, weight, {}, stride_, padding_);
}

BasicBlockImpl::BasicBlockImpl(int64_t in, int64_t planes, int64_t stride, bool prelu,
                               const at::TensorOptions& options) {
  conv1 = register_module("conv1", Conv(V{planes, in, 3, 3}, V{stride, stride}, V{1, 1}, options));
  bn1 = register_module("bn1", BatchNorm(planes, options));
  relu1 = register_module("relu1", Activation(planes, prelu, options));
  relu2 = register_module("relu2", Activation(planes, prelu, options));
  conv2 = register_module("conv2", Conv(V{planes, planes, 3, 3}, V{1, 1}, V{1, 1}, options));
  bn2 = register_module("bn2", BatchNorm(planes, options));
  if (stride != 1 || in != planes) {
    down_conv_ = Conv(V{planes, in, 1, 1}, V{stride, stride}, V{0, 0}, options);
    down_bn_ = BatchNorm(planes, options);
    downsample = register_module("downsample", torch::nn::ModuleList(down_conv_, down_bn_));
  }
}

at::Tensor BasicBlockImpl::forward(const at::Tensor& x) const {
  auto out = relu1->forward(bn1->forward(conv1->forward(x)));
  out = bn2->forward(conv2->forward(out));
  const auto residual = down_conv_ ? down_bn_->forward(down_conv_->forward(x)) : x;
  return relu2->forward(out + residual);
}

ResEncoderImpl::ResEncoderImpl(const ResNetConfig& c, const at::TensorOptions& options) {
  const int64_t w = c.width;
  frontend_conv_ = Conv(V{w, 1, 5, 7, 7}, V{1, 2, 2}, V{2, 3, 3}, options);
  frontend_bn_ = BatchNorm(w, options);
  frontend_act_ = Activation(w, c.prelu, options);
  frontend3D = register_module("frontend3D", torch::nn::ModuleList(frontend_conv_, frontend_bn_, frontend_act_));
  trunk = register_module("trunk", std::make_shared<torch::nn::Module>());
  int64_t in = w;
  for (size_t s = 0; s < c.layers.size(); ++s) {
    const int64_t planes = w << s;
    const int64_t stride = s == 0 ? 1 : 2;
    torch::nn::ModuleList stage;
    stages_.emplace_back();
    for (int64_t b = 0; b < c.layers[s]; ++b) {
      stages_.back().emplace_back(in, planes, b == 0 ? stride : 1, c.prelu, options);
      stage->push_back(stages_.back().back());
      in = planes;
    }
    trunk->register_module("layer" + std::to_string(s + 1), stage);
  }
}

at::Tensor ResEncoderImpl::FrontendFrames(const at::Tensor& video) const {
  const auto& w3 = frontend_conv_->weight;  // [w, 1, kt, kh, kw], temporal padding kt / 2 ("same")
  const int64_t B = video.size(0), T = video.size(1), H = video.size(2), W = video.size(3), kt = w3.size(2);
  const auto padded = at::constant_pad_nd(video, {0, 0, 0, 0, kt / 2, kt / 2});
  // [B, T, H, W, kt] windows -> [B*T, kt, H, W]: frame t sees frames t-2..t+2 as input channels.
  const auto stacked = padded.unfold(1, kt, 1).permute({0, 1, 4, 2, 3}).reshape({B * T, kt, H, W});
  const auto w2 = w3.view({w3.size(0), kt, w3.size(3), w3.size(4)});
  auto x = at::conv2d(stacked, w2, {}, {2, 2}, {w3.size(3) / 2, w3.size(4) / 2});
  x = frontend_act_->forward(frontend_bn_->forward(x));  // per channel: the same over [B*T, w, h, w'] as 3-D
  return at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
}

at::Tensor ResEncoderImpl::Trunk(const at::Tensor& frames) const {
  auto x = frames;
  for (const auto& stage : stages_)
    for (const auto& block : stage) x = block->forward(x);
  return x.mean({2, 3});  // AdaptiveAvgPool2d(1) + flatten
}

}  // namespace mome::encoders
