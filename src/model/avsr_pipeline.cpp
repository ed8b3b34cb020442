#include "mome/model/avsr_pipeline.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <filesystem>

#include "mome/core/error.h"
#include "mome/frontend/log_mel.h"
#include "mome/llm/llama_loader.h"
#include "mome/train/checkpoint.h"

namespace mome::model {
namespace {

// A module that only groups others under fixed names (checkpoint names: "avsr.*", "llm.*", "audio_encoder.*").
struct GroupModule : torch::nn::Module {
  void Add(const std::string& name, std::shared_ptr<torch::nn::Module> m) { register_module(name, std::move(m)); }
};

void SetTrainable(torch::nn::Module& m, bool trainable) {
  for (auto& p : m.parameters()) p.set_requires_grad(trainable);
}

constexpr int64_t kRoiSize = 88;
constexpr double kRoiMean = 0.421, kRoiStd = 0.165;

}  // namespace

encoders::WhisperEncoderConfig WhisperConfigFor(const EncoderSection& s) {
  encoders::WhisperEncoderConfig c;
  const std::string p = s.preset.empty() ? "whisper-medium" : s.preset;
  if (p == "whisper-tiny") c.d_model = 384, c.encoder_layers = 4, c.encoder_attention_heads = 6;
  else if (p == "whisper-base") c.d_model = 512, c.encoder_layers = 6, c.encoder_attention_heads = 8;
  else if (p == "whisper-small") c.d_model = 768, c.encoder_layers = 12, c.encoder_attention_heads = 12;
  else if (p == "whisper-medium") c.d_model = 1024, c.encoder_layers = 24, c.encoder_attention_heads = 16;
  else MOME_FAIL(ErrorCode::kInvalidArgument, "audio_encoder.preset '", p, "' is not a Whisper preset");
  c.encoder_ffn_dim = 4 * c.d_model;
  if (s.dim > 0) c.d_model = s.dim, c.encoder_ffn_dim = 4 * s.dim;
  if (s.layers > 0) c.encoder_layers = s.layers;
  if (s.heads > 0) c.encoder_attention_heads = s.heads;
  if (s.ffn > 0) c.encoder_ffn_dim = s.ffn;
  if (s.n_mels > 0) c.num_mel_bins = s.n_mels;
  MOME_CHECK(c.d_model % c.encoder_attention_heads == 0, ErrorCode::kInvalidArgument, "audio_encoder: dim ",
             c.d_model, " is not a multiple of heads ", c.encoder_attention_heads);
  return c;
}

encoders::AVHubertConfig AVHubertConfigFor(const EncoderSection& s) {
  const std::string p = s.preset.empty() ? "avhubert-large" : s.preset;
  encoders::AVHubertConfig c;
  if (p == "avhubert-large") c = encoders::AVHubertConfig::Large();
  else if (p == "avhubert-tiny") c = encoders::AVHubertConfig::Tiny();
  else if (p == "avhubert-base")
    c.encoder_embed_dim = 768, c.encoder_layers = 12, c.encoder_attention_heads = 12, c.encoder_ffn_embed_dim = 3072;
  else MOME_FAIL(ErrorCode::kInvalidArgument, "video_encoder.preset '", p, "' is not an AV-HuBERT preset");
  // A resolved config repeats the preset's width; only a different width rescales the FFN.
  if (s.dim > 0 && s.dim != c.encoder_embed_dim) c.encoder_embed_dim = s.dim, c.encoder_ffn_embed_dim = 4 * s.dim;
  if (s.layers > 0) c.encoder_layers = s.layers;
  if (s.heads > 0) c.encoder_attention_heads = s.heads;
  if (s.ffn > 0) c.encoder_ffn_embed_dim = s.ffn;
  c.Validate("video_encoder");
  return c;
}

std::string AVSRPipeline::NormalizeTranscript(const std::string& text) {
  std::string out;
  bool space = false;
  for (char ch : text) {
    if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += ch;
  }
  return out;
}

AVSRPipeline::AVSRPipeline(const ModelConfig& config, const PipelineOptions& options)
    : config_(config), options_(options) {
  MOME_CHECK(!config_.llm.path.empty(), ErrorCode::kInvalidArgument,
             "llm.path: a Llama checkpoint folder (with its tokenizer) is needed to build the model");
  torch::manual_seed(options.seed);
  tokenizer_ = text::LoadTokenizer(config_.llm.path);
  llm_ = llm::LoadLlama(config_.llm.path, options.device, options.dtype);
  const auto t = at::TensorOptions().device(options.device).dtype(options.dtype);

  if (uses_audio()) {
    auto& s = config_.audio_encoder;
    whisper_ = s.path.empty() ? encoders::RandomWhisperEncoder(WhisperConfigFor(s), options.device, options.dtype,
                                                               options.seed + 1)
                              : encoders::LoadWhisperEncoder(s.path, options.device, options.dtype);
    s.dim = whisper_->config().d_model;
  }
  if (uses_video()) {
    auto& s = config_.video_encoder;
    avhubert_ = s.path.empty() ? encoders::RandomAVHubertEncoder(AVHubertConfigFor(s), options.device,
                                                                 options.dtype, options.seed + 2)
                               : encoders::LoadAVHubertEncoder(s.path, options.device, options.dtype);
    s.dim = avhubert_->config().encoder_embed_dim;
  }
  torch::manual_seed(options.seed + 3);
  model_ = AVSRModel(ToModelOptions(config_), llm_, t);

  // What trains and what stays frozen, in two groups with stable names.
  auto trainable = std::make_shared<GroupModule>();
  auto frozen = std::make_shared<GroupModule>();
  trainable->Add("avsr", model_.ptr());
  auto place = [&](const std::string& name, std::shared_ptr<torch::nn::Module> m, bool train) {
    if (!m) return;
    SetTrainable(*m, train);
    m->train(train);
    (train ? trainable : frozen)->Add(name, std::move(m));
  };
  place("llm", llm_.ptr(), config_.llm.trainable);
  if (whisper_) place("audio_encoder", whisper_.ptr(), config_.audio_encoder.trainable);
  if (avhubert_) place("video_encoder", avhubert_.ptr(), config_.video_encoder.trainable);
  trainable_ = trainable;
  frozen_ = frozen;

  const std::string instruction =
      config_.model.instruction.empty() ? DefaultInstruction(config_.model.modality) : config_.model.instruction;
  instruction_ids_ = tokenizer_->Encode(instruction, false);
}

std::string AVSRPipeline::BaseFingerprint() const { return train::BaseFingerprint(*frozen_); }

at::Tensor AVSRPipeline::EncodeAudio(const std::vector<data::PreparedClip>& clips, const FeaturizeOptions& o,
                                     at::Tensor* lengths) {
  const bool per_clip = !o.training;
  const bool augment = o.training && o.augment && o.augment->any();
  std::mt19937_64 rng(o.augment_seed ^ 0xa0d10ULL);
  const auto& c = whisper_->config();
  frontend::LogMelOptions mel_options;
  mel_options.n_mels = c.num_mel_bins;
  mel_options.pad_to_30s = config_.audio_encoder.pad_to_30s;
  std::vector<at::Tensor> waves;
  std::vector<int64_t> lens;
  for (const auto& clip : clips) {
    MOME_CHECK(clip.audio.defined() && clip.audio.numel() > 0, ErrorCode::kInvalidArgument, "clip '", clip.key,
               "' has no audio, which modality ", config_.model.modality, " needs");
    const int64_t n = clip.audio.numel();
    MOME_CHECK(n <= frontend::kWhisperChunkSamples, ErrorCode::kInvalidArgument, "clip '", clip.key, "' is ",
               n / 16000.0, " s long; Whisper takes at most 30 s (cut it first, e.g. mome_prepare segments)");
    at::Tensor wave = clip.audio;
    if (augment)
      wave = data::AugmentAudio(wave.to(at::kFloat), *o.augment,
                                o.noise_pool ? *o.noise_pool : std::vector<at::Tensor>{}, o.pool_is_noise, rng);
    waves.push_back(wave.to(options_.device));
    lens.push_back(mel_options.pad_to_30s ? encoders::WhisperCutLength(n, c.max_source_positions)
                                          : ((n / frontend::kWhisperHop) + 1) / 2);
  }
  const int64_t longest = *std::max_element(lens.begin(), lens.end());
  *lengths = at::tensor(lens, at::kLong);
  torch::AutoGradMode grad(config_.audio_encoder.trainable && torch::GradMode::is_enabled());
  auto encode = [&](const std::vector<at::Tensor>& w) {
    at::Tensor mel;
    {
      torch::NoGradGuard no_grad;
      mel = frontend::LogMel(mel_options)(w);
    }
    return whisper_->forward(mel);
  };
  // Padded to 30 s every clip sees the same input length, so a batch is exact. On the true length the batch
  // would be padded to its longest clip (no attention mask in Whisper), so for batch-invariant results each
  // clip is encoded alone unless speed matters more (training).
  if (mel_options.pad_to_30s || !per_clip) return encode(waves).slice(1, 0, longest);
  at::Tensor out = at::zeros({static_cast<int64_t>(waves.size()), longest, c.d_model},
                             at::TensorOptions().device(options_.device).dtype(options_.dtype));
  for (size_t i = 0; i < waves.size(); ++i)
    out[static_cast<int64_t>(i)].narrow(0, 0, lens[i]).copy_(encode({waves[i]})[0].narrow(0, 0, lens[i]));
  return out;
}

at::Tensor AVSRPipeline::EncodeVideo(const std::vector<data::PreparedClip>& clips, const FeaturizeOptions& o,
                                     at::Tensor* lengths) {
  std::mt19937_64 rng(o.augment_seed);
  std::vector<at::Tensor> rois;
  std::vector<int64_t> lens;
  int64_t longest = 0;
  for (const auto& clip : clips) {
    MOME_CHECK(clip.video.defined() && clip.video.size(0) > 0, ErrorCode::kInvalidArgument, "clip '", clip.key,
               "' has no video, which modality ", config_.model.modality, " needs");
    const at::Tensor& v = clip.video;  // [T, H, W] uint8 mouth crops
    MOME_CHECK(v.size(1) >= kRoiSize && v.size(2) >= kRoiSize, ErrorCode::kShapeMismatch, "clip '", clip.key,
               "': mouth crops must be at least 88x88, got ", v.size(1), "x", v.size(2));
    int64_t top = (v.size(1) - kRoiSize) / 2, left = (v.size(2) - kRoiSize) / 2;
    bool flip = false;
    if (o.training) {  // RandomCrop 88 + horizontal flip (SPEC.md §1, training only)
      top = static_cast<int64_t>(rng() % (v.size(1) - kRoiSize + 1));
      left = static_cast<int64_t>(rng() % (v.size(2) - kRoiSize + 1));
      flip = rng() % 2 == 1;
    }
    at::Tensor roi = v.slice(1, top, top + kRoiSize).slice(2, left, left + kRoiSize);
    if (flip) roi = roi.flip({2});
    rois.push_back(roi);
    lens.push_back(v.size(0));
    longest = std::max(longest, v.size(0));
  }
  // Normalised first, then zero-padded: padding then looks like the zero padding of the Conv3d front end, so a
  // clip's features do not depend on the batch it is in.
  at::Tensor video = at::zeros({static_cast<int64_t>(clips.size()), longest, kRoiSize, kRoiSize},
                               at::TensorOptions().device(options_.device).dtype(options_.dtype));
  for (size_t i = 0; i < rois.size(); ++i)
  {
    at::Tensor frames = (rois[i].to(options_.device, at::kFloat) / 255.0 - kRoiMean) / kRoiStd;
    if (o.training && o.augment && o.augment->video_masks > 0) frames = data::AugmentVideo(frames, *o.augment, rng);
    video[static_cast<int64_t>(i)].narrow(0, 0, lens[i]).copy_(frames);
  }
  *lengths = at::tensor(lens, at::kLong);
  const at::Tensor device_lengths = lengths->to(options_.device);
  torch::AutoGradMode grad(config_.video_encoder.trainable && torch::GradMode::is_enabled());
  return avhubert_->forward(video, device_lengths);
}

ModelInputs AVSRPipeline::Featurize(const std::vector<data::PreparedClip>& clips, const FeaturizeOptions& o) {
  MOME_CHECK(!clips.empty(), ErrorCode::kInvalidArgument, "an empty batch");
  ModelInputs in;
  if (uses_audio()) in.audio = EncodeAudio(clips, o, &in.audio_lengths);
  if (uses_video()) in.video = EncodeVideo(clips, o, &in.video_lengths);
  for (const auto& clip : clips) {
    in.instruction_ids.push_back(instruction_ids_);
    if (o.with_transcripts) {
      const std::string text = NormalizeTranscript(clip.text);
      MOME_CHECK(!text.empty(), ErrorCode::kInvalidArgument, "clip '", clip.key, "' has an empty transcript");
      in.transcript_ids.push_back(tokenizer_->Encode(text, false));
    }
  }
  return in;
}

}  // namespace mome::model
