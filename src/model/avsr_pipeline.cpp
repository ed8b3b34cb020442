#include "mome/model/avsr_pipeline.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <filesystem>

#include "mome/core/error.h"
#include "mome/io/checkpoint.h"
#include "mome/llm/llama_loader.h"
#include "mome/nn/init.h"

namespace mome::model {
namespace {

// A module that only groups others under fixed names (checkpoint names: "avsr.*", "llm.*", "audio_encoder.*").
struct GroupModule : torch::nn::Module {
  void Add(const std::string& name, std::shared_ptr<torch::nn::Module> m) { register_module(name, std::move(m)); }
};

void SetTrainable(torch::nn::Module& m, bool trainable) {
  for (auto& p : m.parameters()) p.set_requires_grad(trainable);
}

}  // namespace

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
    : config_(config), options_(options), modality_(ParseEnum(kModalityNames, config.model.modality, "modality")) {
  MOME_CHECK(!config_.llm.path.empty(), ErrorCode::kInvalidArgument,
             "llm.path: a Llama checkpoint folder (with its tokenizer) is needed to build the model");
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
    avhubert_ = s.path.empty() ? encoders::RandomAVHubertEncoder(AVHubertConfigFor(s), options.device, options.dtype,
                                                                 options.seed + 2)
                               : encoders::LoadAVHubertEncoder(s.path, options.device, options.dtype);
    s.dim = avhubert_->config().encoder_embed_dim;
  }
  // A generator of its own: building a model leaves the process's random state alone.
  model_ = AVSRModel(ToModelOptions(config_), llm_, t, nn::SeededGenerator(options.seed + 3));

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

std::string AVSRPipeline::BaseFingerprint() const {
  return io::BaseFingerprint(*frozen_);
}

}  // namespace mome::model
