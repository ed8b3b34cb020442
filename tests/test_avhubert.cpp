// AV-HuBERT visual encoder: fairseq's tensor names and shapes, batch invariance under padding, a hand-computed
// check of the pieces that are easy to get wrong (weight norm, SamePad, PReLU), and file loading errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "mome/core/error.h"
#include "mome/encoders/avhubert.h"
#include "mome/io/safetensors.h"
#include "test_helpers.h"

#include <filesystem>

namespace mome {
namespace {

using encoders::AVHubertConfig;

std::map<std::string, std::vector<int64_t>> Shapes(const encoders::AVHubertVisualEncoderImpl& m) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const auto& [name, shape] : encoders::AVHubertTensorShapes(m)) out[name] = shape;
  return out;
}

TEST(AVHubert, LargeHasFairseqNamesAndShapes) {
  // Meta tensors: the 325M-parameter model is described without allocating it.
  encoders::AVHubertVisualEncoderImpl m(AVHubertConfig::Large(), at::TensorOptions().device(at::kMeta));
  const auto s = Shapes(m);
  using V = std::vector<int64_t>;
  EXPECT_EQ(s.at("feature_extractor_video.resnet.frontend3D.0.weight"), (V{64, 1, 5, 7, 7}));
  EXPECT_EQ(s.at("feature_extractor_video.resnet.frontend3D.1.running_var"), (V{64}));
  EXPECT_EQ(s.at("feature_extractor_video.resnet.frontend3D.2.weight"), (V{64}));
  EXPECT_EQ(s.at("feature_extractor_video.resnet.trunk.layer2.0.downsample.0.weight"), (V{128, 64, 1, 1}));
  EXPECT_EQ(s.at("feature_extractor_video.resnet.trunk.layer4.1.conv2.weight"), (V{512, 512, 3, 3}));
  EXPECT_EQ(s.at("feature_extractor_video.proj.weight"), (V{1024, 512}));
  EXPECT_EQ(s.at("feature_extractor_audio.proj.weight"), (V{1024, 104}));
  EXPECT_EQ(s.at("layer_norm.weight"), (V{2048}));
  EXPECT_EQ(s.at("post_extract_proj.weight"), (V{1024, 2048}));
  EXPECT_EQ(s.at("encoder.pos_conv.0.weight_v"), (V{1024, 64, 128}));
  EXPECT_EQ(s.at("encoder.pos_conv.0.weight_g"), (V{1, 1, 128}));
  EXPECT_EQ(s.at("encoder.layers.23.fc1.weight"), (V{4096, 1024}));
  EXPECT_EQ(s.at("encoder.layers.0.self_attn.q_proj.bias"), (V{1024}));
  EXPECT_EQ(s.at("encoder.layer_norm.weight"), (V{1024}));
  EXPECT_EQ(s.count("encoder.layers.24.fc1.weight"), 0u);
  int64_t params = 0;
  for (const auto& p : m.parameters()) params += p.numel();
  EXPECT_NEAR(static_cast<double>(params) / 1e6, 325.0, 15.0);  // AV-HuBERT Large: ~325M with the ResNet
}

TEST(AVHubert, PaddedRowsEqualTheClipAlone) {
  torch::manual_seed(0);
  auto enc = encoders::RandomAVHubertEncoder(AVHubertConfig::Tiny(), at::kCPU, at::kFloat, 7);
  const auto long_clip = torch::randn({13, 88, 88});
  const auto short_clip = torch::randn({6, 88, 88});
  torch::NoGradGuard no_grad;
  const auto alone = enc->forward(short_clip.unsqueeze(0));
  auto batch = torch::zeros({2, 13, 88, 88});
  batch[0].copy_(long_clip);
  batch[1].narrow(0, 0, 6).copy_(short_clip);
  batch[1].narrow(0, 6, 7).fill_(3.0);  // garbage past the length must not matter
  const auto both = enc->forward(batch, torch::tensor({13, 6}));
  EXPECT_EQ(both.sizes(), (std::vector<int64_t>{2, 13, 48}));
  EXPECT_TRUE(torch::allclose(both[1].narrow(0, 0, 6), alone[0], 1e-4, 1e-5))
      << (both[1].narrow(0, 0, 6) - alone[0]).abs().max();
  EXPECT_TRUE(torch::allclose(both[0], enc->forward(long_clip.unsqueeze(0))[0], 1e-4, 1e-5));
  EXPECT_TRUE(torch::isfinite(both).all().item<bool>());
}

TEST(AVHubert, FrontendAsStackedFramesEqualsFairseqsConv3d) {
  // fairseq's frontend3D: Conv3d(k 5x7x7, s 1x2x2, p 2x3x3) -> BatchNorm3d -> PReLU -> MaxPool3d(1x3x3, s 1x2x2,
  // p 0x1x1), computed here with the 3-D ops on the module's own weights, against FrontendFrames' conv2d over 5
  // stacked frames. Eval and training mode (batch statistics over the same elements).
  torch::manual_seed(1);
  auto enc = encoders::RandomAVHubertEncoder(AVHubertConfig::Tiny(), at::kCPU, at::kFloat, 3);
  auto& resnet = *enc->feature_extractor_video->resnet;
  const auto video = torch::randn({2, 9, 40, 36});
  auto conv = std::dynamic_pointer_cast<encoders::ConvImpl>(resnet.frontend3D[0]);
  auto bn = std::dynamic_pointer_cast<encoders::BatchNormImpl>(resnet.frontend3D[1]);
  auto act = std::dynamic_pointer_cast<encoders::ActivationImpl>(resnet.frontend3D[2]);
  bn->running_mean.uniform_(-0.5, 0.5);
  bn->running_var.uniform_(0.5, 2.0);
  torch::NoGradGuard no_grad;
  for (bool training : {false, true}) {
    resnet.train(training);
    auto x = at::conv3d(video.unsqueeze(1), conv->weight, {}, {1, 2, 2}, {2, 3, 3});
    x = at::batch_norm(x, bn->weight, bn->bias, bn->running_mean.clone(), bn->running_var.clone(), training, 0.1, 1e-5,
                       false);
    x = at::max_pool3d(act->forward(x), {1, 3, 3}, {1, 2, 2}, {0, 1, 1});  // [B, w, T, h, w']
    const auto expected = x.transpose(1, 2).reshape({18, x.size(1), x.size(3), x.size(4)});
    const auto got = resnet.FrontendFrames(video);
    ASSERT_EQ(got.sizes(), expected.sizes());
    EXPECT_LT((got - expected).abs().max().item<float>(), 1e-4f) << "training " << training;
  }
}

TEST(AVHubert, PReLUHasOneSlopePerChannelAndItsGradients) {
  // The activation against its definition, max(0, x) + w_c min(0, x), on 4-D frames and 5-D clips, values and
  // the gradients of input and slopes.
  torch::manual_seed(2);
  encoders::Activation act(3, /*prelu=*/true, at::TensorOptions());
  act->weight.detach().copy_(torch::tensor({0.1f, 0.25f, -0.5f}));
  act->weight.requires_grad_(true);  // registered frozen; training turns it on
  for (const auto& shape : {std::vector<int64_t>{4, 3, 5, 6}, std::vector<int64_t>{2, 3, 4, 5, 6}}) {
    const auto x = torch::randn(shape).requires_grad_(true);
    std::vector<int64_t> per_channel(shape.size(), 1);
    per_channel[1] = 3;
    const auto w = act->weight.detach().clone().requires_grad_(true);
    const auto expected = x.clamp_min(0) + w.view(per_channel) * x.clamp_max(0);
    const auto got = act->forward(x);
    EXPECT_TRUE(torch::allclose(got, expected)) << (got - expected).abs().max();
    const auto upstream = torch::randn(shape);
    const auto g_expected = torch::autograd::grad({expected}, {x, w}, {upstream});
    const auto g_got = torch::autograd::grad({got}, {x, act->weight}, {upstream});
    EXPECT_TRUE(torch::allclose(g_got[0], g_expected[0], 1e-5, 1e-6)) << "input gradient";
    EXPECT_TRUE(torch::allclose(g_got[1], g_expected[1], 1e-4, 1e-5)) << "slope gradient";
  }
}

TEST(AVHubert, PosConvIsWeightNormedAndSamePadded) {
  auto c = AVHubertConfig::Tiny();
  encoders::AVHubertPosConvImpl pc(c, at::TensorOptions());
  torch::manual_seed(1);
  torch::NoGradGuard no_grad;
  pc.weight_v.copy_(torch::randn_like(pc.weight_v));
  pc.weight_g.copy_(torch::rand_like(pc.weight_g) + 0.5);
  // weight_norm(dim=2): every kernel tap of the effective weight has norm weight_g.
  const auto w = pc.weight();
  EXPECT_TRUE(torch::allclose(w.pow(2).sum(at::IntArrayRef{0, 1}).sqrt(), pc.weight_g.view({-1}), 1e-5, 1e-6));
  // Even kernel (16): output keeps the input length; by linearity it equals a hand-rolled grouped conv.
  const auto x = torch::randn({1, 9, c.encoder_embed_dim});
  const auto y = pc.forward(x);
  EXPECT_EQ(y.sizes(), x.sizes());
  const auto ref =
      torch::gelu(torch::conv1d(x.transpose(1, 2), w, pc.bias, 1, c.conv_pos / 2, 1, c.conv_pos_groups).narrow(2, 0, 9))
          .transpose(1, 2);
  EXPECT_TRUE(torch::allclose(y, ref, 1e-5, 1e-6));
}

TEST(AVHubert, LoadsItsFileAndNamesBadTensors) {
  const std::string dir = ::testing::TempDir() + "/mome_avhubert_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  auto enc = encoders::RandomAVHubertEncoder(AVHubertConfig::Tiny(), at::kCPU, at::kFloat, 3);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& p : enc->named_parameters()) tensors.emplace_back(p.key(), p.value());
  for (const auto& b : enc->named_buffers()) tensors.emplace_back(b.key(), b.value());
  {
    torch::NoGradGuard no_grad;
    enc->feature_extractor_video->resnet->frontend3D[1]->as<encoders::BatchNorm>()->running_mean.fill_(0.25);
  }
  io::SaveSafetensors(dir + "/ok.safetensors", tensors, {{"config", AVHubertConfig::Tiny().ToJson()}});
  const auto loaded = encoders::LoadAVHubertEncoder(dir + "/ok.safetensors", at::kCPU, at::kFloat);
  const auto video = torch::randn({1, 5, 88, 88});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(loaded->forward(video), enc->forward(video), 1e-5, 1e-6));  // buffers loaded too

  tensors[0].second = torch::zeros({3});
  io::SaveSafetensors(dir + "/bad.safetensors", tensors, {{"config", AVHubertConfig::Tiny().ToJson()}});
  try {
    encoders::LoadAVHubertEncoder(dir + "/bad.safetensors", at::kCPU, at::kFloat);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(tensors[0].first), std::string::npos) << e.what();
  }
  io::SaveSafetensors(dir + "/noconfig.safetensors", tensors, {});
  EXPECT_THROW(encoders::LoadAVHubertEncoder(dir + "/noconfig.safetensors", at::kCPU, at::kFloat), Error);
  testing::RemoveTree(dir);
}

}  // namespace
}  // namespace mome
