// AV-HuBERT's visual front end (avhubert/resnet.py ResEncoder), registered under fairseq's names:
//   frontend3D.0 Conv3d(1->w, k(5,7,7), s(1,2,2), p(2,3,3), no bias), .1 BatchNorm3d, .2 PReLU(w),
//   MaxPool3d((1,3,3), s(1,2,2), p(0,1,1)); then per frame trunk.layer{1..4} of BasicBlocks (widths w, 2w, 4w, 8w;
//   strides 1, 2, 2, 2; 1x1 conv + BN downsample where the shape changes), global average pool -> 8w features.
// The real model has w = 64 (512 features); smaller widths make tiny test models.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <vector>

namespace mome::encoders {

struct ResNetConfig {
  int64_t width = 64;                           // frontend channels and layer1 width
  std::vector<int64_t> layers = {2, 2, 2, 2};  // BasicBlocks per stage (ResNet-18)
  bool prelu = true;                            // resnet_relu_type "prelu" (else "relu")
  int64_t out_dim() const { return width << (layers.size() - 1); }
};

// BatchNorm{2,3}d: eval uses the running statistics; training uses batch statistics and updates the running ones
// (momentum 0.1, eps 1e-5, as PyTorch's defaults). num_batches_tracked is not kept (momentum is fixed).
class BatchNormImpl : public torch::nn::Module {
 public:
  BatchNormImpl(int64_t channels, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor weight, bias, running_mean, running_var;
};
TORCH_MODULE(BatchNorm);

// nn.PReLU(num_parameters=channels) (weight, init 0.25), or a plain ReLU without parameters.
class ActivationImpl : public torch::nn::Module {
 public:
  ActivationImpl(int64_t channels, bool prelu, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor weight;  // undefined for ReLU
};
TORCH_MODULE(Activation);

// A bias-free convolution (2D or 3D by the weight's rank) registered as `weight`.
class ConvImpl : public torch::nn::Module {
 public:
  ConvImpl(std::vector<int64_t> shape, std::vector<int64_t> stride, std::vector<int64_t> padding,
           const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor weight;

 private:
  std::vector<int64_t> stride_, padding_;
};
TORCH_MODULE(Conv);

class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(int64_t in, int64_t planes, int64_t stride, bool prelu, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;
  Conv conv1{nullptr}, conv2{nullptr};
  BatchNorm bn1{nullptr}, bn2{nullptr};
  Activation relu1{nullptr}, relu2{nullptr};
  torch::nn::ModuleList downsample{nullptr};  // "downsample.0" conv, "downsample.1" BN, or null

 private:
  Conv down_conv_{nullptr};
  BatchNorm down_bn_{nullptr};
};
TORCH_MODULE(BasicBlock);

class ResEncoderImpl : public torch::nn::Module {
 public:
  ResEncoderImpl(const ResNetConfig& config, const at::TensorOptions& options);
  // video [B, T, H, W] -> frontend per frame [B*T, w, H/4, W/4] (H, W rounded as the convs do). The Conv3d of
  // the checkpoint runs as a conv2d over 5 stacked neighbouring frames: the same sums, but cuDNN's 2-D kernels
  // are tuned where its 3-D ones for one input channel are not (measured on the H200: README Performance).
  at::Tensor FrontendFrames(const at::Tensor& video) const;
  // frames [N, w, h, w'] -> [N, 8w] (per-frame trunk and global average pool).
  at::Tensor Trunk(const at::Tensor& frames) const;

  torch::nn::ModuleList frontend3D{nullptr};
  std::shared_ptr<torch::nn::Module> trunk;  // holds "layer1".."layer4" (ModuleLists of BasicBlocks)

 private:
  Conv frontend_conv_{nullptr};
  BatchNorm frontend_bn_{nullptr};
  Activation frontend_act_{nullptr};
  std::vector<std::vector<BasicBlock>> stages_;
};
TORCH_MODULE(ResEncoder);

}  // namespace mome::encoders
