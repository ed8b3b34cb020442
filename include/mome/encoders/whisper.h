// The Whisper audio encoder, numerically equal to HF WhisperEncoder (last_hidden_state), loaded directly from an
// HF checkpoint folder (WhisperForConditionalGeneration: tensors under `model.encoder.`; WhisperModel: `encoder.`).
// conv1 (n_mels->d, k3, p1) GELU, conv2 (d->d, k3, s2, p1) GELU, + embed_positions, pre-LN layers, final LayerNorm.
// Parameters carry HF names and are created directly on the target device/dtype.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

#include "mome/frontend/log_mel.h"
#include "mome/nn/layers.h"

namespace mome::encoders {

struct WhisperEncoderConfig {
  int64_t d_model = 768;
  int64_t encoder_layers = 12;
  int64_t encoder_attention_heads = 12;
  int64_t encoder_ffn_dim = 3072;
  int64_t num_mel_bins = 80;
  int64_t max_source_positions = 1500;
  // Reads the encoder fields of an HF Whisper config.json (a file, or a folder holding one).
  static WhisperEncoderConfig FromJson(const std::string& path);
};

// Reference token count for a clip padded to 30 s: max(int(seconds * 50), 25), at most max_source_positions.
int64_t WhisperCutLength(int64_t samples, int64_t max_positions = 1500);

class LayerNormImpl : public torch::nn::Module {
 public:
  LayerNormImpl(int64_t dim, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor weight, bias;
};
TORCH_MODULE(LayerNorm);

class Conv1dImpl : public torch::nn::Module {
 public:
  Conv1dImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
             const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor weight, bias;
  int64_t stride, padding;
};
TORCH_MODULE(Conv1d);

class WhisperAttentionImpl : public torch::nn::Module {
 public:
  WhisperAttentionImpl(const WhisperEncoderConfig& config, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;  // [B, T, d], full (unmasked) self-attention
  nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};

 private:
  int64_t heads_, head_dim_;
};
TORCH_MODULE(WhisperAttention);

class WhisperEncoderLayerImpl : public torch::nn::Module {
 public:
  WhisperEncoderLayerImpl(const WhisperEncoderConfig& config, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;
  WhisperAttention self_attn{nullptr};
  LayerNorm self_attn_layer_norm{nullptr}, final_layer_norm{nullptr};
  nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(WhisperEncoderLayer);

class WhisperEncoderImpl : public torch::nn::Module {
 public:
  WhisperEncoderImpl(const WhisperEncoderConfig& config, const at::TensorOptions& options);
  // features [B, n_mels, frames] (any float dtype; cast to the module's) -> [B, ceil(frames / 2), d].
  // Positions are embed_positions[0, T): 3000 frames is HF's padded input; fewer is the true-length mode.
  at::Tensor forward(const at::Tensor& features) const;
  const WhisperEncoderConfig& config() const { return config_; }

  Conv1d conv1{nullptr}, conv2{nullptr};
  nn::Embedding embed_positions{nullptr};
  torch::nn::ModuleList layers{nullptr};
  LayerNorm layer_norm{nullptr};

 private:
  WhisperEncoderConfig config_;
  std::vector<WhisperEncoderLayer> layer_list_;
};
TORCH_MODULE(WhisperEncoder);

// Loads the encoder of an HF Whisper checkpoint folder (config.json + safetensors) onto device/dtype.
WhisperEncoder LoadWhisperEncoder(const std::string& folder, c10::Device device, c10::ScalarType dtype);
// Random weights (tests, benchmarks): sinusoidal positions as HF, other weights ~ N(0, 1/fan_in), norms 1/0.
WhisperEncoder RandomWhisperEncoder(const WhisperEncoderConfig& config, c10::Device device, c10::ScalarType dtype,
                                    uint64_t seed = 0);

struct WhisperAudioOptions {
  bool pad_to_30s = true;  // reference: pad to 30 s, encode 1500 tokens, cut to WhisperCutLength
  bool normalize = false;  // HF do_normalize on the waveform
};

// Waveforms (16 kHz mono) -> encoder outputs [B, T, d] plus each clip's valid length. pad_to_30s=false runs
// the batch padded to its longest clip (no attention mask: encode clips one at a time for exact true-length
// results) and reports each clip's ceil((samples / 160) / 2) tokens.
at::Tensor EncodeWaveforms(const WhisperEncoder& encoder, const std::vector<at::Tensor>& waveforms,
                           const WhisperAudioOptions& options, std::vector<int64_t>* lengths = nullptr);

}  // namespace mome::encoders
