// The whole recogniser from a ModelConfig: tokenizer, Llama, the Whisper and AV-HuBERT encoders and the AVSR
// model (compressors, projectors, adapters), and which parameters train. Weights only: it is read, never changed,
// by decoding, so one loaded pipeline serves several threads. data::Featurize turns clips into its inputs.
#pragma once

#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <vector>

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

class AVSRPipeline {
 public:
  AVSRPipeline(const ModelConfig& config, const PipelineOptions& options);

  const ModelConfig& config() const { return config_; }
  const text::Tokenizer& tokenizer() const { return *tokenizer_; }
  const AVSRModel& model() const { return model_; }
  const llm::LlamaForCausalLM& llm() const { return llm_; }
  c10::Device device() const { return options_.device; }
  bool uses_audio() const { return HasAudio(modality_); }
  bool uses_video() const { return HasVideo(modality_); }

  // The frozen encoders (null when the modality has no such input) and the tokenised instruction: what
  // data::Featurize turns clips into model inputs with.
  const encoders::WhisperEncoder& whisper() const { return whisper_; }
  const encoders::AVHubertVisualEncoder& avhubert() const { return avhubert_; }
  const std::vector<int64_t>& instruction_ids() const { return instruction_ids_; }
  c10::ScalarType dtype() const { return options_.dtype; }

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
  ModelConfig config_;
  PipelineOptions options_;
  Modality modality_;
  std::unique_ptr<text::Tokenizer> tokenizer_;
  llm::LlamaForCausalLM llm_{nullptr};
  encoders::WhisperEncoder whisper_{nullptr};
  encoders::AVHubertVisualEncoder avhubert_{nullptr};
  AVSRModel model_{nullptr};
  std::shared_ptr<torch::nn::Module> trainable_, frozen_;
  std::vector<int64_t> instruction_ids_;
};

}  // namespace mome::model
