#include "mome/model/model_config.h"

#include <cmath>

#include "mome/core/error.h"

namespace mome::model {
namespace {

constexpr const char* kWhisperPresets = "whisper-tiny, whisper-base, whisper-small, whisper-medium";
constexpr const char* kAVHubertPresets = "avhubert-tiny, avhubert-base, avhubert-large";

}  // namespace

void LlmSection::Visit(ConfigVisitor& v) {
  v.Field("preset", preset, "llama-3.2-1b | llama-3.2-3b | llama-3.1-8b, or empty to read path/config.json");
  v.Field("path", path, "HF checkpoint folder (config.json + safetensors + tokenizer)");
  v.Field("trainable", trainable, "train the LLM's own weights too (from-scratch demos)");
}

void LlmSection::Validate() const {
  ConfigRequire(!preset.empty() || !path.empty(), "preset", "give a preset or a path");
  if (!preset.empty()) ConfigRequireOneOf(preset, {"llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b"}, "preset");
}

void EncoderSection::Visit(ConfigVisitor& v) {
  v.Field("preset", preset,
          "whisper-tiny | whisper-base | whisper-small | whisper-medium | avhubert-tiny | avhubert-base | "
          "avhubert-large | empty");
  v.Field("path", path, "encoder checkpoint; empty = random initialisation (from-scratch training)");
  v.Field("dim", dim, "output width; 0 takes the preset's");
  v.Field("layers", layers, "transformer layers; 0 takes the preset's");
  v.Field("heads", heads, "attention heads; 0 takes the preset's");
  v.Field("ffn", ffn, "feed-forward width; 0 takes the preset's");
  v.Field("n_mels", n_mels, "Whisper mel bins (80 | 128); 0 takes the preset's");
  v.Field("pad_to_30s", pad_to_30s, "Whisper: pad every clip to 30 s as the reference (false: true length)");
  v.Field("trainable", trainable, "train the encoder too (frozen by default)");
  v.Field("roi_pool", roi_pool,
          "AV-HuBERT: average-pool the 88x88 mouth crops by 1 | 2 | 4 before the encoder (2: a 4x cheaper front end "
          "for CPU training from scratch; pretrained AV-HuBERT wants 1)");
}

void EncoderSection::Validate() const {
  for (const auto& [value, key] : {std::pair<int64_t, const char*>{dim, "dim"},
                                   {layers, "layers"},
                                   {heads, "heads"},
                                   {ffn, "ffn"},
                                   {n_mels, "n_mels"}})
    ConfigRequire(value >= 0 && value <= 65536, key, "must be in [0, 65536] (0 = the preset's), got ", value);
  ConfigRequire(roi_pool == 1 || roi_pool == 2 || roi_pool == 4, "roi_pool", "must be 1, 2 or 4, got ", roi_pool);
}

void AdaptersSection::Visit(ConfigVisitor& v) {
  v.Field("kind", kind, "mome | lora | none");
  v.Field("placement", placement, "MoME placement: mhsa | ffn | layer");
  v.Field("layers", layers, "decoder layers with adapters; empty = all");
  v.Field("num_experts", num_experts, "MoME routed experts");
  v.Field("top_k", top_k, "MoME experts per token: one value, or one per rate pair");
  v.Field("num_shared", num_shared, "MoME shared (always-on) experts");
  v.Field("bottleneck", bottleneck, "MoME expert bottleneck width");
  v.Field("shared_router", shared_router, "one router for every rate pair (false: one per pair, the ablation)");
  v.Field("dispatch", dispatch, "MoME expert dispatch: auto | dense | sorted");
  v.Field("lora_variant", lora_variant, "LoRA Matryoshka variant: ms | ss | mss");
  v.Field("lora_reduction", lora_reduction, "LoRA rank = d / reduction");
  v.Field("lora_alpha", lora_alpha, "LoRA scaling = alpha / reduction");
}

void AdaptersSection::Validate() const {
  ConfigRequireEnum(adapters::kAdapterKindNames, kind, "kind");
  ConfigRequireEnum(adapters::kPlacementNames, placement, "placement");
  ConfigRequireEnum(adapters::kLoRAVariantNames, lora_variant, "lora_variant");
  ConfigRequireOneOf(dispatch, {"auto", "dense", "sorted"}, "dispatch");
  ConfigRequire(num_experts > 0 && bottleneck > 0 && num_shared >= 0, "num_experts",
                "num_experts and bottleneck must be positive, num_shared >= 0");
  ConfigRequire(!top_k.empty(), "top_k", "needs at least one value");
  for (int64_t k : top_k) ConfigRequire(k >= 1 && k <= num_experts, "top_k", "values must be in [1, num_experts]");
  ConfigRequire(lora_reduction > 0, "lora_reduction", "must be positive");
}

void LossSection::Visit(ConfigVisitor& v) {
  v.Field("load_balancing", load_balancing, "weight of the Switch load-balancing loss (MoME)");
  v.Field("decorrelation", decorrelation, "lambda of the BOS decorrelation loss; 0 = off, paper 1e4");
  v.Field("decorrelation_layers", decorrelation_layers, "layers (1-based) it applies to; empty = 1..L-1");
}

void ModelSection::Visit(ConfigVisitor& v) {
  v.Field("modality", modality, "asr | vsr | avsr");
  v.Field("audio_rates", audio_rates, "Matryoshka audio compression rates");
  v.Field("video_rates", video_rates, "Matryoshka video compression rates");
  v.Field("compression", compression, "avg-pool | stack");
  v.Field("projector_hidden", projector_hidden, "projector hidden width");
  v.Field("projector_layer_norm", projector_layer_norm, "LayerNorm after each projector");
  v.Field("instruction", instruction, "prompt instruction; empty = the modality's default");
}

void LossSection::Validate() const {
  ConfigRequire(std::isfinite(load_balancing) && load_balancing >= 0, "load_balancing", "must be >= 0, got ",
                load_balancing);
  ConfigRequire(std::isfinite(decorrelation) && decorrelation >= 0, "decorrelation", "must be >= 0, got ",
                decorrelation);
  for (int64_t l : decorrelation_layers) ConfigRequire(l >= 1, "decorrelation_layers", "layers are 1-based, got ", l);
}

void ModelSection::Validate() const {
  ConfigRequireEnum(kModalityNames, modality, "modality");
  ConfigRequireOneOf(compression, {"avg-pool", "stack"}, "compression");
  for (int64_t r : audio_rates) ConfigRequire(r >= 1, "audio_rates", "rates must be >= 1");
  for (int64_t r : video_rates) ConfigRequire(r >= 1, "video_rates", "rates must be >= 1");
  ConfigRequire(modality == "vsr" || !audio_rates.empty(), "audio_rates", "needed for ", modality);
  ConfigRequire(modality == "asr" || !video_rates.empty(), "video_rates", "needed for ", modality);
  ConfigRequire(projector_hidden > 0, "projector_hidden", "must be positive");
}

// An encoder the modality uses needs a preset (its architecture; a checkpoint at `path` must match it); one it
// does not use is ignored, preset or not. The same rule for --dry-run, training and decoding.
void ModelConfig::Validate() const {
  const Modality m = ParseEnum(kModalityNames, model.modality, "model.modality");
  ConfigRequire(!HasAudio(m) || !audio_encoder.preset.empty(), "audio_encoder.preset", "needed for modality ",
                model.modality, " (", kWhisperPresets, ")");
  ConfigRequire(!HasVideo(m) || !video_encoder.preset.empty(), "video_encoder.preset", "needed for modality ",
                model.modality, " (", kAVHubertPresets, ")");
}

void ModelConfig::Visit(ConfigVisitor& v) {
  v.Section("llm", llm, "the frozen Llama decoder");
  v.Section("audio_encoder", audio_encoder, "the frozen audio encoder (Whisper)");
  v.Section("video_encoder", video_encoder, "the frozen visual encoder (AV-HuBERT)");
  v.Section("model", model, "Matryoshka rates, projectors, prompt");
  v.Section("adapters", adapters, "MoME or LoRA inside the LLM");
  v.Section("loss", loss, "loss weights");
}

llm::LlamaConfig LlamaPreset(const std::string& name) {
  llm::LlamaConfig c;
  c.vocab_size = 128256;
  c.max_position_embeddings = 131072;
  c.rms_norm_eps = 1e-5;
  c.rope.type = "llama3";
  c.rope.theta = 500000.0;
  c.rope.factor = name == "llama-3.1-8b" ? 8.0 : 32.0;
  c.rope.original_max_position_embeddings = 8192;
  c.bos_token_id = 128000;
  c.eos_token_ids = {128001};
  c.torch_dtype = "bfloat16";
  c.num_key_value_heads = 8;
  c.head_dim = 128;
  if (name == "llama-3.2-1b") {
    c.hidden_size = 2048, c.intermediate_size = 8192, c.num_hidden_layers = 16, c.num_attention_heads = 32;
    c.head_dim = 64, c.tie_word_embeddings = true;
  } else if (name == "llama-3.2-3b") {
    c.hidden_size = 3072, c.intermediate_size = 8192, c.num_hidden_layers = 28, c.num_attention_heads = 24;
    c.tie_word_embeddings = true;
  } else if (name == "llama-3.1-8b") {
    c.hidden_size = 4096, c.intermediate_size = 14336, c.num_hidden_layers = 32, c.num_attention_heads = 32;
  } else {
    MOME_FAIL(ErrorCode::kInvalidArgument, "unknown LLM preset '", name,
              "' (llama-3.2-1b, llama-3.2-3b, llama-3.1-8b)");
  }
  return c;
}

llm::LlamaConfig ResolveLlmConfig(const LlmSection& section) {
  return section.preset.empty() ? llm::LlamaConfig::FromJsonFile(section.path) : LlamaPreset(section.preset);
}

// ---------------------------------------------------------------- encoder presets: the one table

encoders::WhisperEncoderConfig WhisperConfigFor(const EncoderSection& s) {
  encoders::WhisperEncoderConfig c;
  const std::string& p = s.preset;
  if (p == "whisper-tiny")
    c.d_model = 384, c.encoder_layers = 4, c.encoder_attention_heads = 6;
  else if (p == "whisper-base")
    c.d_model = 512, c.encoder_layers = 6, c.encoder_attention_heads = 8;
  else if (p == "whisper-small")
    c.d_model = 768, c.encoder_layers = 12, c.encoder_attention_heads = 12;
  else if (p == "whisper-medium")
    c.d_model = 1024, c.encoder_layers = 24, c.encoder_attention_heads = 16;
  else
    MOME_FAIL(ErrorCode::kInvalidArgument, "audio_encoder.preset '", p, "' is not a Whisper preset");
  c.encoder_ffn_dim = 4 * c.d_model;
  if (s.dim > 0) c.d_model = s.dim, c.encoder_ffn_dim = 4 * s.dim;
  if (s.layers > 0) c.encoder_layers = s.layers;
  if (s.heads > 0) c.encoder_attention_heads = s.heads;
  if (s.ffn > 0) c.encoder_ffn_dim = s.ffn;
  if (s.n_mels > 0) c.num_mel_bins = s.n_mels;
  MOME_CHECK(c.d_model % c.encoder_attention_heads == 0, ErrorCode::kInvalidArgument, "audio_encoder: dim ", c.d_model,
             " is not a multiple of heads ", c.encoder_attention_heads);
  return c;
}

encoders::AVHubertConfig AVHubertConfigFor(const EncoderSection& s) {
  const std::string& p = s.preset;
  encoders::AVHubertConfig c;
  if (p == "avhubert-large")
    c = encoders::AVHubertConfig::Large();
  else if (p == "avhubert-tiny")
    c = encoders::AVHubertConfig::Tiny();
  else if (p == "avhubert-base")
    c.encoder_embed_dim = 768, c.encoder_layers = 12, c.encoder_attention_heads = 12, c.encoder_ffn_embed_dim = 3072;
  else
    MOME_FAIL(ErrorCode::kInvalidArgument, "video_encoder.preset '", p, "' is not an AV-HuBERT preset");
  // A resolved config repeats the preset's width; only a different width rescales the FFN.
  if (s.dim > 0 && s.dim != c.encoder_embed_dim) c.encoder_embed_dim = s.dim, c.encoder_ffn_embed_dim = 4 * s.dim;
  if (s.layers > 0) c.encoder_layers = s.layers;
  if (s.heads > 0) c.encoder_attention_heads = s.heads;
  if (s.ffn > 0) c.encoder_ffn_embed_dim = s.ffn;
  c.Validate("video_encoder");
  return c;
}

int64_t EncoderPresetDim(const std::string& name) {
  EncoderSection s;
  s.preset = name;
  if (name.rfind("whisper-", 0) == 0) return WhisperConfigFor(s).d_model;
  if (name.rfind("avhubert-", 0) == 0) return AVHubertConfigFor(s).encoder_embed_dim;
  MOME_FAIL(ErrorCode::kInvalidArgument, "unknown encoder preset '", name, "' (", kWhisperPresets, ", ",
            kAVHubertPresets, ")");
}

std::string DefaultInstruction(const std::string& modality) {
  if (modality == "asr") return "Transcribe speech to text.";
  if (modality == "vsr") return "Transcribe video to text.";
  return "Transcribe speech and video to text.";
}

AVSRModelOptions ToModelOptions(const ModelConfig& c) {
  AVSRModelOptions o;
  o.modality = ParseEnum(kModalityNames, c.model.modality, "modality");
  o.audio_rates = c.model.audio_rates;
  o.video_rates = c.model.video_rates;
  o.compression = c.model.compression;
  auto dim = [](const EncoderSection& e) {
    return e.dim > 0 ? e.dim : (e.preset.empty() ? 0 : EncoderPresetDim(e.preset));
  };  // unused: 0
  o.audio_dim = dim(c.audio_encoder);
  o.video_dim = dim(c.video_encoder);
  MOME_CHECK(!HasAudio(o.modality) || o.audio_dim > 0, ErrorCode::kInvalidArgument,
             "audio_encoder needs a preset or dim for modality ", c.model.modality);
  MOME_CHECK(!HasVideo(o.modality) || o.video_dim > 0, ErrorCode::kInvalidArgument,
             "video_encoder needs a preset or dim for modality ", c.model.modality);
  o.projector_hidden = c.model.projector_hidden;
  o.projector_layer_norm = c.model.projector_layer_norm;
  const AdaptersSection& a = c.adapters;
  o.adapters.kind = ParseEnum(adapters::kAdapterKindNames, a.kind, "adapters.kind");
  o.adapters.placement = ParseEnum(adapters::kPlacementNames, a.placement, "adapters.placement");
  o.adapters.layers = a.layers;
  o.adapters.mome.num_experts = a.num_experts;
  o.adapters.mome.top_k = a.top_k;
  o.adapters.mome.num_shared = a.num_shared;
  o.adapters.mome.bottleneck = a.bottleneck;
  o.adapters.mome.shared_router = a.shared_router;
  o.adapters.mome.dispatch = a.dispatch;
  o.adapters.lora_variant = ParseEnum(adapters::kLoRAVariantNames, a.lora_variant, "adapters.lora_variant");
  o.adapters.lora_reduction = a.lora_reduction;
  o.adapters.lora_alpha = a.lora_alpha;
  return o;
}

}  // namespace mome::model
