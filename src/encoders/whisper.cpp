#include "mome/encoders/whisper.h"

#include <torch/torch.h>

#include <sys/stat.h>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mome/core/compat.h"
#include "mome/core/error.h"
#include "mome/io/json.h"
#include "mome/io/module_loader.h"
#include "mome/io/safetensors.h"

namespace mome::encoders {

using nlohmann::json;

namespace {

bool IsDir(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

WhisperEncoderConfig WhisperEncoderConfig::FromJson(const std::string& path_in) {
  const std::string path = IsDir(path_in) ? path_in + "/config.json" : path_in;
  const json j = io::ReadJsonObjectFile(path);
  WhisperEncoderConfig c;
  c.d_model = io::OptionalInt(j, "d_model", c.d_model, path);
  c.encoder_layers = io::OptionalInt(j, "encoder_layers", c.encoder_layers, path);
  c.encoder_attention_heads = io::OptionalInt(j, "encoder_attention_heads", c.encoder_attention_heads, path);
  c.encoder_ffn_dim = io::OptionalInt(j, "encoder_ffn_dim", c.encoder_ffn_dim, path);
  c.num_mel_bins = io::OptionalInt(j, "num_mel_bins", c.num_mel_bins, path);
  c.max_source_positions = io::OptionalInt(j, "max_source_positions", c.max_source_positions, path);
  if (j.contains("activation_function"))
    MOME_CHECK(j["activation_function"] == "gelu", ErrorCode::kUnsupported, path, ": activation_function ",
               io::Describe(j["activation_function"]), " (only \"gelu\" is supported)");
  MOME_CHECK(c.d_model > 0 && c.encoder_attention_heads > 0 && c.d_model % c.encoder_attention_heads == 0,
             ErrorCode::kInvalidArgument, path, ": d_model ", c.d_model,
             " is not divisible by encoder_attention_heads ", c.encoder_attention_heads);
  MOME_CHECK(c.encoder_layers >= 0 && c.encoder_ffn_dim > 0 && c.num_mel_bins > 0 && c.max_source_positions > 0,
             ErrorCode::kInvalidArgument, path, ": non-positive encoder size in config");
  return c;
}

int64_t WhisperCutLength(int64_t samples, int64_t max_positions) {
  // int(seconds * 50) with seconds = samples / 16000 is samples / 320.
  return std::min(std::max<int64_t>(samples / 320, 25), max_positions);
}

LayerNormImpl::LayerNormImpl(int64_t dim, const at::TensorOptions& options) {
  weight = register_parameter("weight", at::ones({dim}, options), false);
  bias = register_parameter("bias", at::zeros({dim}, options), false);
}

at::Tensor LayerNormImpl::forward(const at::Tensor& x) const {
  return at::layer_norm(x, {weight.size(0)}, weight, bias, 1e-5);
}

Conv1dImpl::Conv1dImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride_, int64_t padding_,
                       const at::TensorOptions& options)
    : stride(stride_), padding(padding_) {
  weight = register_parameter("weight", at::empty({out, in, kernel}, options), false);
  bias = register_parameter("bias", at::empty({out}, options), false);
}

at::Tensor Conv1dImpl::forward(const at::Tensor& x) const {
  if (!(weight.requires_grad() && at::GradMode::is_enabled())) return at::conv1d(x, weight, bias, {stride}, {padding});
  // Training: LibTorch 1.13's CPU conv1d backward (Debian's build) returns garbage weight and bias gradients for
  // these shapes (measured: norms ~1e19 that change between identical runs), so the convolution is written as
  // unfold + matmul, whose backward is plain autograd. Same result as conv1d up to float rounding.
  const int64_t k = weight.size(2);
  const auto cols = at::constant_pad_nd(x, {padding, padding}).unfold(2, k, stride);  // [B, C, T', k]
  const auto y = at::einsum("bctk,ock->bot", {cols, weight});
  return bias.defined() ? y + bias.view({1, -1, 1}) : y;
}

WhisperAttentionImpl::WhisperAttentionImpl(const WhisperEncoderConfig& c, const at::TensorOptions& options)
    : heads_(c.encoder_attention_heads), head_dim_(c.d_model / c.encoder_attention_heads) {
  q_proj = register_module("q_proj", nn::Linear(c.d_model, c.d_model, true, options));
  k_proj = register_module("k_proj", nn::Linear(c.d_model, c.d_model, false, options));
  v_proj = register_module("v_proj", nn::Linear(c.d_model, c.d_model, true, options));
  out_proj = register_module("out_proj", nn::Linear(c.d_model, c.d_model, true, options));
}

at::Tensor WhisperAttentionImpl::forward(const at::Tensor& x) const {
  const int64_t B = x.size(0), T = x.size(1);
  auto split = [&](const at::Tensor& t) { return t.view({B, T, heads_, head_dim_}).transpose(1, 2); };
  auto q = split(q_proj->forward(x)), k = split(k_proj->forward(x)), v = split(v_proj->forward(x));
  at::Tensor a;
#if MOME_HAS_SDPA
  if (q.is_cuda()) a = at::scaled_dot_product_attention(q, k, v);  // scale 1/sqrt(head_dim), as HF
#endif
  if (!a.defined()) {
    // HF eager: (q * head_dim^-0.5) k^T, softmax in the compute dtype.
    auto scores = at::matmul(q * (1.0 / std::sqrt(static_cast<double>(head_dim_))), k.transpose(-1, -2));
    a = at::matmul(at::softmax(scores, -1), v);
  }
  return out_proj->forward(a.transpose(1, 2).reshape({B, T, heads_ * head_dim_}));
}

WhisperEncoderLayerImpl::WhisperEncoderLayerImpl(const WhisperEncoderConfig& c, const at::TensorOptions& options) {
  self_attn = register_module("self_attn", WhisperAttention(c, options));
  self_attn_layer_norm = register_module("self_attn_layer_norm", LayerNorm(c.d_model, options));
  fc1 = register_module("fc1", nn::Linear(c.d_model, c.encoder_ffn_dim, true, options));
  fc2 = register_module("fc2", nn::Linear(c.encoder_ffn_dim, c.d_model, true, options));
  final_layer_norm = register_module("final_layer_norm", LayerNorm(c.d_model, options));
}

at::Tensor WhisperEncoderLayerImpl::forward(const at::Tensor& x_in) const {
  auto x = x_in + self_attn->forward(self_attn_layer_norm->forward(x_in));
  return x + fc2->forward(at::gelu(fc1->forward(final_layer_norm->forward(x))));
}

WhisperEncoderImpl::WhisperEncoderImpl(const WhisperEncoderConfig& c, const at::TensorOptions& options) : config_(c) {
  conv1 = register_module("conv1", Conv1d(c.num_mel_bins, c.d_model, 3, 1, 1, options));
  conv2 = register_module("conv2", Conv1d(c.d_model, c.d_model, 3, 2, 1, options));
  embed_positions = register_module("embed_positions", nn::Embedding(c.max_source_positions, c.d_model, options));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.encoder_layers; ++i) {
    layer_list_.emplace_back(c, options);
    layers->push_back(layer_list_.back());
  }
  layer_norm = register_module("layer_norm", LayerNorm(c.d_model, options));
}

at::Tensor WhisperEncoderImpl::forward(const at::Tensor& features) const {
  MOME_CHECK(features.dim() == 3 && features.size(1) == config_.num_mel_bins, ErrorCode::kShapeMismatch,
             "Whisper encoder: features must be [B, ", config_.num_mel_bins, ", frames], got ", features.sizes());
  const auto& w = conv1->weight;
  auto x = features.to(w.device(), w.scalar_type());
  x = at::gelu(conv1->forward(x));
  x = at::gelu(conv2->forward(x)).transpose(1, 2);
  const int64_t T = x.size(1);
  MOME_CHECK(T <= config_.max_source_positions, ErrorCode::kShapeMismatch, "Whisper encoder: ", features.size(2),
             " frames give ", T, " positions, more than max_source_positions ", config_.max_source_positions);
  x = x + embed_positions->weight.slice(0, 0, T);
  for (const auto& layer : layer_list_) x = layer->forward(x);
  return layer_norm->forward(x);
}

WhisperEncoder LoadWhisperEncoder(const std::string& folder, c10::Device device, c10::ScalarType dtype) {
  const auto config = WhisperEncoderConfig::FromJson(folder);
  auto reader = io::CheckpointReader::Open(folder);
  std::string prefix;
  if (reader.Has("model.encoder.conv1.weight"))
    prefix = "model.encoder.";
  else if (reader.Has("encoder.conv1.weight"))
    prefix = "encoder.";
  else
    MOME_FAIL(ErrorCode::kNotFound, folder,
              ": no Whisper encoder tensors (neither 'model.encoder.conv1.weight' nor 'encoder.conv1.weight')");
  WhisperEncoder encoder(config, at::TensorOptions().device(device).dtype(dtype));
  io::LoadModuleWeights(*encoder, reader, prefix);
  encoder->eval();
  return encoder;
}

WhisperEncoder RandomWhisperEncoder(const WhisperEncoderConfig& c, c10::Device device, c10::ScalarType dtype,
                                    uint64_t seed) {
  WhisperEncoder encoder(c, at::TensorOptions().device(device).dtype(dtype));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::NoGradGuard no_grad;
  for (auto& item : encoder->named_parameters()) {
    auto& p = item.value();
    const auto& name = item.key();
    if (name.find("layer_norm") != std::string::npos) continue;  // ones / zeros
    if (name == "embed_positions.weight") {
      // HF sinusoids: [sin(pos * inv), cos(pos * inv)], inv = exp(-log(10000) / (d/2 - 1) * i).
      const int64_t half = c.d_model / 2;
      auto inv = torch::exp(-std::log(10000.0) / static_cast<double>(half - 1) * torch::arange(half, torch::kFloat));
      auto t = torch::arange(c.max_source_positions, torch::kFloat).unsqueeze(1) * inv.unsqueeze(0);
      p.copy_(torch::cat({t.sin(), t.cos()}, 1));
      continue;
    }
    const double fan_in = p.dim() > 1 ? static_cast<double>(p[0].numel()) : 10.0;
    // The conv stem gets gain 4: at gain 1 its output is small next to the fixed sinusoidal positions, and two
    // different clips' features have cosine 0.99 at every position (measured on the demo's speech; 0.42 at gain
    // 4), which leaves a model trained from scratch almost nothing to learn from.
    const double gain = name.rfind("conv", 0) == 0 && p.dim() > 1 ? 4.0 : 1.0;
    p.copy_(at::normal(0.0, gain / std::sqrt(fan_in), p.sizes(), gen));
  }
  encoder->eval();
  return encoder;
}

at::Tensor EncodeWaveforms(const WhisperEncoder& encoder, const std::vector<at::Tensor>& waveforms,
                           const WhisperAudioOptions& options, std::vector<int64_t>* lengths) {
  const auto& c = encoder->config();
  frontend::LogMelOptions mel_options;
  mel_options.n_mels = c.num_mel_bins;
  mel_options.pad_to_30s = options.pad_to_30s;
  mel_options.normalize = options.normalize;
  std::vector<at::Tensor> on_device;
  const auto device = encoder->conv1->weight.device();
  for (const auto& w : waveforms) on_device.push_back(w.to(device));
  torch::NoGradGuard no_grad;
  auto out = encoder->forward(frontend::LogMel(mel_options)(on_device));
  std::vector<int64_t> lens;
  int64_t longest = 0;
  for (const auto& w : waveforms) {
    const int64_t n = w.size(0);
    const int64_t len = options.pad_to_30s ? WhisperCutLength(n, out.size(1)) : ((n / frontend::kWhisperHop) + 1) / 2;
    lens.push_back(len);
    longest = std::max(longest, len);
  }
  if (lengths) *lengths = lens;
  return out.slice(1, 0, longest);
}

}  // namespace mome::encoders
