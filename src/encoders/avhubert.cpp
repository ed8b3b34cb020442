// AV-HuBERT visual encoder: sub-models, fusion and the wav2vec2-style transformer (see avhubert.h for the data flow).
#include "mome/encoders/avhubert.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>
#include <limits>

#include "mome/core/error.h"
#include "mome/io/module_loader.h"
#include "mome/io/safetensors.h"

namespace mome::encoders {

AVHubertSubModelImpl::AVHubertSubModelImpl(const AVHubertConfig& c, bool video, const at::TensorOptions& options) {
  if (video) resnet = register_module("resnet", ResEncoder(c.resnet, options));
  const int64_t in = video ? c.resnet.out_dim() : c.audio_feat_dim;
  proj = register_module("proj", nn::Linear(in, c.encoder_embed_dim, true, options));
}

AVHubertAttentionImpl::AVHubertAttentionImpl(const AVHubertConfig& c, const at::TensorOptions& options)
    : heads_(c.encoder_attention_heads), head_dim_(c.encoder_embed_dim / c.encoder_attention_heads) {
  const int64_t d = c.encoder_embed_dim;
  k_proj = register_module("k_proj", nn::Linear(d, d, true, options));
  v_proj = register_module("v_proj", nn::Linear(d, d, true, options));
  q_proj = register_module("q_proj", nn::Linear(d, d, true, options));
  out_proj = register_module("out_proj", nn::Linear(d, d, true, options));
}

at::Tensor AVHubertAttentionImpl::forward(const at::Tensor& x, const at::Tensor& key_padding) const {
  const int64_t B = x.size(0), T = x.size(1);
  auto split = [&](const at::Tensor& t) { return t.view({B, T, heads_, head_dim_}).transpose(1, 2); };
  const auto q = split(q_proj->forward(x));
  const auto k = split(k_proj->forward(x));
  const auto v = split(v_proj->forward(x));
  // fairseq: q scaled by head_dim^-0.5 after the projection bias; softmax in fp32; padded keys get -inf.
  auto scores = at::matmul(q * (1.0 / std::sqrt(static_cast<double>(head_dim_))), k.transpose(-1, -2)).to(at::kFloat);
  if (key_padding.defined())
    scores = scores.masked_fill(key_padding.view({B, 1, 1, T}), -std::numeric_limits<float>::infinity());
  auto out = at::matmul(at::softmax(scores, -1).to(v.scalar_type()), v);
  return out_proj->forward(out.transpose(1, 2).reshape({B, T, heads_ * head_dim_}));
}

AVHubertLayerImpl::AVHubertLayerImpl(const AVHubertConfig& c, const at::TensorOptions& options)
    : pre_ln_(c.layer_norm_first) {
  const int64_t d = c.encoder_embed_dim;
  self_attn = register_module("self_attn", AVHubertAttention(c, options));
  self_attn_layer_norm = register_module("self_attn_layer_norm", LayerNorm(d, options));
  fc1 = register_module("fc1", nn::Linear(d, c.encoder_ffn_embed_dim, true, options));
  fc2 = register_module("fc2", nn::Linear(c.encoder_ffn_embed_dim, d, true, options));
  final_layer_norm = register_module("final_layer_norm", LayerNorm(d, options));
}

at::Tensor AVHubertLayerImpl::forward(const at::Tensor& x_in, const at::Tensor& key_padding) const {
  auto ffn = [&](const at::Tensor& t) { return fc2->forward(at::gelu(fc1->forward(t))); };
  if (pre_ln_) {
    auto x = x_in + self_attn->forward(self_attn_layer_norm->forward(x_in), key_padding);
    return x + ffn(final_layer_norm->forward(x));
  }
  auto x = self_attn_layer_norm->forward(x_in + self_attn->forward(x_in, key_padding));
  return final_layer_norm->forward(x + ffn(x));
}

AVHubertPosConvImpl::AVHubertPosConvImpl(const AVHubertConfig& c, const at::TensorOptions& options)
    : kernel_(c.conv_pos), groups_(c.conv_pos_groups) {
  const int64_t d = c.encoder_embed_dim;
  bias = register_parameter("bias", at::zeros({d}, options), false);
  weight_g = register_parameter("weight_g", at::ones({1, 1, kernel_}, options), false);
  weight_v = register_parameter("weight_v", at::zeros({d, d / groups_, kernel_}, options), false);
}

at::Tensor AVHubertPosConvImpl::weight() const {
  // weight_norm(dim=2): one norm per kernel tap, over output and input channels; computed in fp32.
  const auto v = weight_v.to(at::kFloat);
  const auto norm = v.pow(2).sum(at::IntArrayRef{0, 1}, /*keepdim=*/true).sqrt();
  return (weight_g.to(at::kFloat) * v / norm).to(weight_v.scalar_type());
}

at::Tensor AVHubertPosConvImpl::forward(const at::Tensor& x) const {
  auto y = at::conv1d(x.transpose(1, 2), weight(), bias, {1}, {kernel_ / 2}, {1}, groups_);
  if (kernel_ % 2 == 0) y = y.slice(2, 0, y.size(2) - 1);  // SamePad
  return at::gelu(y).transpose(1, 2);
}

AVHubertTransformerImpl::AVHubertTransformerImpl(const AVHubertConfig& c, const at::TensorOptions& options)
    : pre_ln_(c.layer_norm_first) {
  pos_conv0 = AVHubertPosConv(c, options);
  pos_conv = register_module("pos_conv", torch::nn::ModuleList(pos_conv0));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.encoder_layers; ++i) {
    layer_list_.emplace_back(c, options);
    layers->push_back(layer_list_.back());
  }
  layer_norm = register_module("layer_norm", LayerNorm(c.encoder_embed_dim, options));
}

at::Tensor AVHubertTransformerImpl::forward(const at::Tensor& x_in, const at::Tensor& key_padding) const {
  auto x = x_in;
  if (key_padding.defined()) x = x.masked_fill(key_padding.unsqueeze(-1), 0);
  x = x + pos_conv0->forward(x);
  if (!pre_ln_) x = layer_norm->forward(x);
  for (const auto& layer : layer_list_) x = layer->forward(x, key_padding);
  if (pre_ln_) x = layer_norm->forward(x);
  return x;
}

AVHubertVisualEncoderImpl::AVHubertVisualEncoderImpl(const AVHubertConfig& c, const at::TensorOptions& options)
    : config_(c), options_(options) {
  c.Validate("AV-HuBERT config");
  feature_extractor_audio = register_module("feature_extractor_audio", AVHubertSubModel(c, false, options));
  feature_extractor_video = register_module("feature_extractor_video", AVHubertSubModel(c, true, options));
  layer_norm = register_module("layer_norm", LayerNorm(c.fused_dim(), options));
  if (c.fused_dim() != c.encoder_embed_dim)
    post_extract_proj =
        register_module("post_extract_proj", nn::Linear(c.fused_dim(), c.encoder_embed_dim, true, options));
  encoder = register_module("encoder", AVHubertTransformer(c, options));
}

at::Tensor AVHubertVisualEncoderImpl::VideoFeatures(const at::Tensor& video, const at::Tensor& valid) const {
  const int64_t B = video.size(0), T = video.size(1);
  const auto& resnet = feature_extractor_video->resnet;
  // The per-frame trunk runs on valid frames only: padded frames are masked later, so skipping them is exact.
  const auto frames = resnet->FrontendFrames(video);  // [B*T, w, h, w']
  at::Tensor pooled;
  if (valid.defined() && !valid.all().item<bool>()) {
    const auto index = valid.reshape({B * T}).nonzero().squeeze(1);
    const auto out = resnet->Trunk(frames.index_select(0, index));
    pooled = at::zeros({B * T, out.size(1)}, out.options()).index_copy(0, index, out);
  } else {
    pooled = resnet->Trunk(frames);
  }
  return feature_extractor_video->proj->forward(pooled.view({B, T, -1}));
}

at::Tensor AVHubertVisualEncoderImpl::forward(const at::Tensor& video_in, const at::Tensor& lengths) const {
  MOME_CHECK(video_in.dim() == 4, ErrorCode::kShapeMismatch, "AV-HuBERT expects video [B, T, H, W], got ",
             video_in.sizes());
  const int64_t B = video_in.size(0), T = video_in.size(1);
  at::Tensor valid, padding;
  auto video = video_in.to(options_.dtype());
  if (lengths.defined()) {
    MOME_CHECK(lengths.dim() == 1 && lengths.size(0) == B, ErrorCode::kShapeMismatch, "AV-HuBERT lengths must be [", B,
               "], got ", lengths.sizes());
    valid = at::arange(T, lengths.options()).unsqueeze(0) < lengths.to(video.device()).unsqueeze(1);
    padding = valid.logical_not();
    // Zero input past each row's length: the temporal convolution then sees what an unpadded clip sees.
    video = video.masked_fill(padding.view({B, T, 1, 1}), 0);
    if (!padding.any().item<bool>()) padding = at::Tensor();
  }
  const auto v = VideoFeatures(video, valid);  // [B, T, d]
  at::Tensor features;
  if (config_.modality_fuse == "concat")
    features = at::cat({at::zeros_like(v), v}, -1);  // audio features are zeros for video-only input
  else
    features = v;
  features = layer_norm->forward(features);
  if (post_extract_proj) features = post_extract_proj->forward(features);
  return encoder->forward(features, padding);
}

namespace {

// Every tensor the module loads: parameters and the BatchNorm running statistics.
std::vector<std::pair<std::string, at::Tensor>> LoadableTensors(const torch::nn::Module& m) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : m.named_parameters(true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : m.named_buffers(true)) out.emplace_back(b.key(), b.value());
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::vector<int64_t>>> AVHubertTensorShapes(const AVHubertVisualEncoderImpl& m) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  for (const auto& [name, t] : LoadableTensors(m)) out.emplace_back(name, t.sizes().vec());
  return out;
}

AVHubertVisualEncoder LoadAVHubertEncoder(const std::string& file, c10::Device device, c10::ScalarType dtype) {
  const auto st = io::SafetensorsFile::Open(file);
  const auto it = st->Metadata().find("config");
  MOME_CHECK(it != st->Metadata().end(), ErrorCode::kCorruptFile, file,
             ": no 'config' metadata (write AV-HuBERT files with tools/convert_avhubert.py)");
  const auto config = AVHubertConfig::FromJson(it->second, file + " metadata 'config'");
  AVHubertVisualEncoder encoder(config, at::TensorOptions().device(device).dtype(dtype));
  // Fine-tuned fairseq checkpoints nest the encoder under "encoder.w2v_model."; the converter strips it, but a
  // file that kept it still loads.
  std::string prefix;
  for (const char* p : {"", "encoder.w2v_model.", "w2v_model."})
    if (st->Has(std::string(p) + "feature_extractor_video.proj.weight")) prefix = p;
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : LoadableTensors(*encoder)) {
    const std::string key = prefix + name;
    MOME_CHECK(st->Has(key), ErrorCode::kNotFound, file, ": missing tensor '", key, "'");
    const auto& info = st->Info(key);
    MOME_CHECK(info.shape == t.sizes().vec(), ErrorCode::kShapeMismatch, file, ": tensor '", key, "' has shape ",
               at::IntArrayRef(info.shape), " but the config expects ", t.sizes());
    t.copy_(st->Get(key));
  }
  encoder->eval();
  return encoder;
}

AVHubertVisualEncoder RandomAVHubertEncoder(const AVHubertConfig& c, c10::Device device, c10::ScalarType dtype,
                                            uint64_t seed) {
  AVHubertVisualEncoder encoder(c, at::TensorOptions().device(device).dtype(dtype));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::NoGradGuard no_grad;
  for (auto& item : encoder->named_parameters()) {
    auto& p = item.value();
    const auto& name = item.key();
    const bool norm = name.find("layer_norm") != std::string::npos || name.find("bn") != std::string::npos ||
                      name.find("frontend3D.1.") != std::string::npos ||
                      name.find("downsample.1.") != std::string::npos;
    const bool act = name.find("relu") != std::string::npos || name.find("frontend3D.2.") != std::string::npos;
    if (norm || act || name.find("weight_g") != std::string::npos) continue;  // 1/0, 0.25, set below
    if (p.dim() == 1) {
      p.zero_();  // biases
      continue;
    }
    const double fan_in = static_cast<double>(p[0].numel());
    p.copy_(at::normal(0.0, 1.0 / std::sqrt(fan_in), p.sizes(), gen));
  }
  auto& pc = encoder->encoder->pos_conv0;
  pc->weight_g.copy_(pc->weight_v.to(at::kFloat).pow(2).sum(at::IntArrayRef{0, 1}, true).sqrt());
  encoder->eval();
  return encoder;
}

}  // namespace mome::encoders
