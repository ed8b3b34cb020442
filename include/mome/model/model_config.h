// The YAML config of an AVSR model (configs/paper/*.yaml, configs/tiny_*.yaml): which LLM and encoders, the
// Matryoshka rates, the adapters and the loss weights. Declared once through ConfigVisitor (core/config.h).
#pragma once

#include <string>
#include <vector>

#include "mome/core/config.h"
#include "mome/encoders/avhubert.h"
#include "mome/encoders/whisper.h"
#include "mome/llm/llama_config.h"
#include "mome/model/avsr_model.h"

namespace mome::model {

struct LlmSection {
  std::string preset;      // llama-3.2-1b | llama-3.2-3b | llama-3.1-8b, or "" to read path/config.json
  std::string path;        // HF checkpoint folder with the real weights
  bool trainable = false;  // train the whole LLM too (tiny from-scratch models; the paper keeps it frozen)
  void Visit(ConfigVisitor& v);
  void Validate() const;
};

struct EncoderSection {
  std::string preset;  // whisper-small | whisper-medium | avhubert-base | avhubert-large | "" (no encoder)
  std::string path;    // checkpoint (HF folder for Whisper, converted safetensors for AV-HuBERT)
  int64_t dim = 0;     // output width; 0 takes the preset's
  int64_t layers = 0, heads = 0, ffn = 0;  // architecture overrides of the preset (0 keeps the preset's)
  int64_t n_mels = 0;                      // Whisper mel bins; 0 keeps the preset's (80, or 128 for large-v3)
  bool pad_to_30s = true;  // Whisper: encode 30 s padded, as the reference (false: the true length, faster)
  bool trainable = false;  // train the encoder (from-scratch demos); frozen otherwise
  int64_t roi_pool = 1;    // AV-HuBERT: average-pool the 88x88 mouth crops by this factor first (1 = the reference)
  void Visit(ConfigVisitor& v);
  void Validate() const;
};

struct AdaptersSection {
  std::string kind = "mome";
  std::string placement = "layer";
  std::vector<int64_t> layers;
  int64_t num_experts = 23;
  std::vector<int64_t> top_k = {4};
  int64_t num_shared = 1;
  int64_t bottleneck = 12;
  bool shared_router = true;
  std::string dispatch = "auto";
  std::string lora_variant = "ss";
  int64_t lora_reduction = 32;
  double lora_alpha = 8.0;
  void Visit(ConfigVisitor& v);
  void Validate() const;
};

struct LossSection {
  double load_balancing = 0.01;
  double decorrelation = 0.0;                 // lambda; 0 turns the loss off (the paper uses 1e4)
  std::vector<int64_t> decorrelation_layers;  // empty: 1..L-1
  void Visit(ConfigVisitor& v);
  void Validate() const;
};

struct ModelSection {
  std::string modality = "avsr";
  std::vector<int64_t> audio_rates = {4, 16};
  std::vector<int64_t> video_rates = {2, 5};
  std::string compression = "avg-pool";
  int64_t projector_hidden = 2048;
  bool projector_layer_norm = false;
  std::string instruction;  // "" picks the modality's default
  void Visit(ConfigVisitor& v);
  void Validate() const;
};

struct ModelConfig {
  LlmSection llm;
  EncoderSection audio_encoder, video_encoder;
  ModelSection model;
  AdaptersSection adapters;
  LossSection loss;
  void Visit(ConfigVisitor& v);
  void Validate() const;
  std::string ToString() const { return ConfigToString(*this); }
};

// Built-in architectures, so a config is usable (e.g. --dry-run) without any file on disk.
llm::LlamaConfig LlamaPreset(const std::string& name);
// The LLM's architecture: the preset, else `path`/config.json.
llm::LlamaConfig ResolveLlmConfig(const LlmSection& llm);
int64_t EncoderPresetDim(const std::string& name);
// Encoder architectures from a config section: the preset, with dim/layers/heads/ffn overriding it.
encoders::WhisperEncoderConfig WhisperConfigFor(const EncoderSection& section);
encoders::AVHubertConfig AVHubertConfigFor(const EncoderSection& section);
AVSRModelOptions ToModelOptions(const ModelConfig& config);
// The instruction of SPEC.md §1 for a modality.
std::string DefaultInstruction(const std::string& modality);

}  // namespace mome::model
