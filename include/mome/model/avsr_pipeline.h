// The whole recogniser from a ModelConfig: tokenizer, Llama, the Whisper and AV-HuBERT encoders and the AVSR
// model (compressors, projectors, adapters). It turns prepared clips (raw 16 kHz audio, 96x96 mouth crops) into
// model inputs, and says which parameters train. Used by mome_train, mome_decode and mome_analyze alike, so that
// training and inference see exactly the same features.
#pragma once

#include <torch/nn/module.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "mome/data/prepared.h"
#include "mome/data/augment.h"
#include "mome/encoders/avhubert.h"
#include "mome/encoders/whisper.h"
#include "mome/model/avsr_model.h"
#include "mome/model/model_config.h"
#include "mome/text/tokenizer.h"

namespace mome::model {

struct PipelineOptions {
  c10::Device device = c10::kCPU;
  c10::ScalarType dtype = at::kFloat;
  uint64_t seed = 0;  // initialisation of everything not read from a checkpoint
};

struct FeaturizeOptions {
  bool training = false;          // random 88x88 crop + horizontal flip instead of the centre crop
  uint64_t augment_seed = 0;      // with `training`: the crops/flips of this batch
  bool with_transcripts = false;  // tokenise clip.text as the training target
  // With `training`: noise and time masks (data/augment.h), drawn from augment_seed.
  const data::AugmentOptions* augment = nullptr;
  const std::vector<at::Tensor>* noise_pool = nullptr;  // babble utterances, or recordings when pool_is_noise
  bool pool_is_noise = false;
};

class AVSRPipeline {
 public:
  AVSRPipeline(const ModelConfig& config, const PipelineOptions& options);

  const ModelConfig& config() const { return config_; }
  const text::Tokenizer& tokenizer() const { return *tokenizer_; }
  AVSRModel& model() { return model_; }
  const llm::LlamaForCausalLM& llm() const { return llm_; }
  c10::Device device() const { return options_.device; }
  bool uses_audio() const { return config_.model.modality != "vsr"; }
  bool uses_video() const { return config_.model.modality != "asr"; }

  // Encoder features for a batch of clips (computed once, reused for every rate pair).
  ModelInputs Featurize(const std::vector<data::PreparedClip>& clips, const FeaturizeOptions& options);

  // A module holding exactly what trains (adapters, projectors, special embeddings; the LLM and the encoders when
  // the config unfreezes them), under stable names: what checkpoints store.
  torch::nn::Module& trainable() { return *trainable_; }
  // Training mode for what trains (BatchNorm batch statistics, in a trainable AV-HuBERT); evaluation mode for
  // everything when `on` is false — decoding must never depend on the batch.
  void SetTraining(bool on) {
    trainable_->train(on);
    frozen_->train(false);
  }
  // A fingerprint of everything frozen: a checkpoint refuses to load onto another base.
  std::string BaseFingerprint() const;

  // The transcript as the model is trained to write it (normalised spacing).
  static std::string NormalizeTranscript(const std::string& text);

 private:
  at::Tensor EncodeAudio(const std::vector<data::PreparedClip>& clips, const FeaturizeOptions& o, at::Tensor* lengths);
  at::Tensor EncodeVideo(const std::vector<data::PreparedClip>& clips, const FeaturizeOptions& options,
                         at::Tensor* lengths);

  ModelConfig config_;
  PipelineOptions options_;
  std::unique_ptr<text::Tokenizer> tokenizer_;
  llm::LlamaForCausalLM llm_{nullptr};
  encoders::WhisperEncoder whisper_{nullptr};
  encoders::AVHubertVisualEncoder avhubert_{nullptr};
  AVSRModel model_{nullptr};
  std::shared_ptr<torch::nn::Module> trainable_, frozen_;
  std::vector<int64_t> instruction_ids_;
};

// Encoder architectures from a config section: the preset, with dim/layers/heads/ffn overriding it.
encoders::WhisperEncoderConfig WhisperConfigFor(const EncoderSection& section);
encoders::AVHubertConfig AVHubertConfigFor(const EncoderSection& section);

}  // namespace mome::model
