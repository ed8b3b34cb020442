// The AV-HuBERT visual encoder, computed as fairseq's AVHubertModel.extract_finetune does for video-only input
// (facebookresearch/av_hubert, avhubert/hubert.py + resnet.py; fairseq wav2vec2 TransformerEncoder):
//   video [B, 1, T, H, W] -> ResEncoder (Conv3d + BN3d + PReLU + MaxPool3d, per-frame ResNet-18, avg pool) -> [B, T,
//   512]
//   -> feature_extractor_video.proj -> d; the audio features are zeros (extract_finetune fills them with new_zeros
//   *after* the audio projection, so feature_extractor_audio.proj is loaded but never applied)
//   -> concat [audio, video] -> layer_norm (2d) -> post_extract_proj (2d -> d)
//   -> encoder: padded frames zeroed, + pos_conv (weight-normed grouped Conv1d, SamePad, GELU), then the layers
//      (pre-LN when layer_norm_first, with encoder.layer_norm after them; post-LN otherwise, with it before them).
// Parameter and buffer names are fairseq's `model` state-dict keys (fine-tuned checkpoints: with the
// `encoder.w2v_model.` prefix removed by tools/convert_avhubert.py); see tests/data/avhubert_large_keys.txt.
// Parameters are created directly on the target device/dtype with requires_grad=false (frozen encoder); a caller
// that trains it sets requires_grad_(true) itself. In training mode BatchNorm uses batch statistics and updates
// the running ones; dropout and layer drop are never applied.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

#include "mome/encoders/avhubert_resnet.h"
#include "mome/encoders/whisper.h"
#include "mome/nn/layers.h"

namespace mome::encoders {

struct AVHubertConfig {
  int64_t encoder_embed_dim = 1024;
  int64_t encoder_layers = 24;
  int64_t encoder_attention_heads = 16;
  int64_t encoder_ffn_embed_dim = 4096;
  int64_t conv_pos = 128;                // positional conv kernel
  int64_t conv_pos_groups = 16;          // positional conv groups
  int64_t audio_feat_dim = 104;          // 4 stacked 26-dim filterbanks (only the shape of the unused audio proj)
  bool layer_norm_first = true;          // pre-LN layers + final encoder.layer_norm (AV-HuBERT Large)
  std::string modality_fuse = "concat";  // "concat" (2d, then post_extract_proj) or "add" (d, no projection)
  ResNetConfig resnet;                   // widths 64/128/256/512 for the real model

  static AVHubertConfig Large();
  // A few-thousand-parameter model for tests and CPU demos: resnet_width 8, d 48, 2 layers, 4 heads, FFN 96,
  // positional conv kernel 16 in 4 groups.
  static AVHubertConfig Tiny();
  // JSON object with the fields above (fairseq names; resnet as "resnet_width", "resnet_layers",
  // "resnet_relu_type"); missing fields keep the Large() value. `where` names the source in errors.
  static AVHubertConfig FromJson(const std::string& json_text, const std::string& where = "config");
  std::string ToJson() const;
  int64_t fused_dim() const { return modality_fuse == "concat" ? 2 * encoder_embed_dim : encoder_embed_dim; }
  void Validate(const std::string& where) const;
};

// fairseq SubModel without its optional transformer: (resnet) then proj.
class AVHubertSubModelImpl : public torch::nn::Module {
 public:
  AVHubertSubModelImpl(const AVHubertConfig& config, bool video, const at::TensorOptions& options);
  ResEncoder resnet{nullptr};  // video only
  nn::Linear proj{nullptr};
};
TORCH_MODULE(AVHubertSubModel);

// fairseq MultiheadAttention (self-attention, q scaled by head_dim^-0.5 after its bias) with a key padding mask.
class AVHubertAttentionImpl : public torch::nn::Module {
 public:
  AVHubertAttentionImpl(const AVHubertConfig& config, const at::TensorOptions& options);
  // x [B, T, d]; key_padding [B, T] bool (true = padded) or undefined.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& key_padding) const;
  nn::Linear k_proj{nullptr}, v_proj{nullptr}, q_proj{nullptr}, out_proj{nullptr};

 private:
  int64_t heads_, head_dim_;
};
TORCH_MODULE(AVHubertAttention);

// wav2vec2 TransformerSentenceEncoderLayer.
class AVHubertLayerImpl : public torch::nn::Module {
 public:
  AVHubertLayerImpl(const AVHubertConfig& config, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& key_padding) const;
  AVHubertAttention self_attn{nullptr};
  LayerNorm self_attn_layer_norm{nullptr}, final_layer_norm{nullptr};
  nn::Linear fc1{nullptr}, fc2{nullptr};

 private:
  bool pre_ln_;
};
TORCH_MODULE(AVHubertLayer);

// pos_conv.0: Conv1d(d, d, conv_pos, padding conv_pos / 2, groups) under weight norm with dim=2, i.e.
// weight = weight_g * weight_v / ||weight_v|| with the norm over dims (0, 1) for each kernel tap.
class AVHubertPosConvImpl : public torch::nn::Module {
 public:
  AVHubertPosConvImpl(const AVHubertConfig& config, const at::TensorOptions& options);
  at::Tensor weight() const;  // the effective (normalised) weight [d, d / groups, K]
  // x [B, T, d] -> GELU(SamePad(conv(x))) [B, T, d]: the extra last frame of an even kernel is dropped.
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor weight_g, weight_v, bias;

 private:
  int64_t kernel_, groups_;
};
TORCH_MODULE(AVHubertPosConv);

class AVHubertTransformerImpl : public torch::nn::Module {
 public:
  AVHubertTransformerImpl(const AVHubertConfig& config, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& key_padding) const;
  torch::nn::ModuleList pos_conv{nullptr};  // holds the one AVHubertPosConv as "pos_conv.0"
  torch::nn::ModuleList layers{nullptr};
  LayerNorm layer_norm{nullptr};
  AVHubertPosConv pos_conv0{nullptr};

 private:
  bool pre_ln_;
  std::vector<AVHubertLayer> layer_list_;
};
TORCH_MODULE(AVHubertTransformer);

class AVHubertVisualEncoderImpl : public torch::nn::Module {
 public:
  AVHubertVisualEncoderImpl(const AVHubertConfig& config, const at::TensorOptions& options);
  // video [B, T, H, W] float (normalised 88x88 mouth ROI), lengths [B] int64 (valid frames; undefined = all valid)
  // -> [B, T, d]. Frames past a row's length are zeroed on input and masked out of attention, so a row's valid
  // part does not depend on what else is in the batch (in eval mode).
  at::Tensor forward(const at::Tensor& video, const at::Tensor& lengths = {}) const;
  // The per-frame visual features [B, T, d] after feature_extractor_video (no fusion or transformer).
  at::Tensor VideoFeatures(const at::Tensor& video, const at::Tensor& valid) const;
  const AVHubertConfig& config() const { return config_; }
  at::TensorOptions options() const { return options_; }

  AVHubertSubModel feature_extractor_audio{nullptr}, feature_extractor_video{nullptr};
  LayerNorm layer_norm{nullptr};
  nn::Linear post_extract_proj{nullptr};  // absent when fused_dim() == d
  AVHubertTransformer encoder{nullptr};

 private:
  AVHubertConfig config_;
  at::TensorOptions options_;
};
TORCH_MODULE(AVHubertVisualEncoder);

// Reads a file written by tools/convert_avhubert.py: metadata "config" (AVHubertConfig JSON) + tensors by name.
// A tensor of the wrong shape is one error naming the file, key and both shapes.
AVHubertVisualEncoder LoadAVHubertEncoder(const std::string& safetensors_file, c10::Device device,
                                          c10::ScalarType dtype);
// Random weights (tests, demos, training from scratch): linear/conv ~ N(0, 1/fan_in), norms 1/0, PReLU 0.25,
// BN running stats 0/1, weight_g = ||weight_v|| per tap (as nn.utils.weight_norm initialises it).
AVHubertVisualEncoder RandomAVHubertEncoder(const AVHubertConfig& config, c10::Device device, c10::ScalarType dtype,
                                            uint64_t seed = 0);
// Every tensor name and shape the module loads (parameters and BN running statistics), in registration order.
std::vector<std::pair<std::string, std::vector<int64_t>>> AVHubertTensorShapes(const AVHubertVisualEncoderImpl& m);

}  // namespace mome::encoders
