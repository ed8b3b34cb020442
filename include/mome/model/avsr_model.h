// The AVSR model: frozen encoders' features -> Matryoshka compression at a chosen rate -> one projector per
// (modality, rate) -> the prompt of SPEC.md §1 -> the frozen Llama with MoME/LoRA adapters.
// Encoders are outside this class for now: it takes their features [B, T, d_enc] and lengths, computed once per
// clip and reused for every rate.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <map>
#include <string>
#include <vector>

#include "mome/adapters/adapter_set.h"
#include "mome/llm/llama.h"
#include "mome/matryoshka/compressor.h"
#include "mome/matryoshka/projector.h"
#include "mome/model/prompt.h"

namespace mome::model {

enum class Modality { kASR, kVSR, kAVSR };
inline constexpr EnumNames<Modality, 3> kModalityNames{
    {{Modality::kASR, "asr"}, {Modality::kVSR, "vsr"}, {Modality::kAVSR, "avsr"}}};
inline bool HasAudio(Modality m) {
  return m != Modality::kVSR;
}
inline bool HasVideo(Modality m) {
  return m != Modality::kASR;
}

struct AVSRModelOptions {
  Modality modality = Modality::kAVSR;
  std::vector<int64_t> audio_rates = {4, 16};
  std::vector<int64_t> video_rates = {2, 5};
  std::string compression = "avg-pool";  // avg-pool | stack
  int64_t audio_dim = 1024;              // encoder widths (Whisper-medium, AV-HuBERT Large)
  int64_t video_dim = 1024;
  int64_t projector_hidden = 2048;
  bool projector_layer_norm = false;
  adapters::AdapterOptions adapters;  // num_scales is set to the number of rate pairs
};

// A (audio rate, video rate) pair; 0 for an absent modality.
struct RatePair {
  int64_t audio = 0, video = 0;
  bool operator<(const RatePair& o) const { return audio != o.audio ? audio < o.audio : video < o.video; }
};

struct ModelInputs {
  at::Tensor audio, audio_lengths;                    // [B, Ta, d_a], [B] (undefined for VSR)
  at::Tensor video, video_lengths;                    // [B, Tv, d_v], [B] (undefined for ASR)
  std::vector<std::vector<int64_t>> instruction_ids;  // per row (tokenised without BOS/EOS)
  std::vector<std::vector<int64_t>> transcript_ids;   // per row; empty at inference
};

struct ModelOutput {
  at::Tensor logits;                      // [B, S, vocab]; [1, N, vocab] with labelled_logits_only
  at::Tensor labels;                      // the labels aligned with `logits`: prompt.labels, or [1, N]
  PromptBatch prompt;                     // labels, masks, BOS positions
  std::vector<at::Tensor> layer_outputs;  // when requested
};

class AVSRModelImpl : public torch::nn::Module {
 public:
  // Projectors and adapters start from `init` (a CPU generator; undefined: the global generator).
  AVSRModelImpl(const AVSRModelOptions& options, llm::LlamaForCausalLM llm, const at::TensorOptions& tensor_options,
                const at::Generator& init = {});

  // Every trained pair: the Matryoshka scales, in order (scale index = position).
  const std::vector<RatePair>& rate_pairs() const { return pairs_; }
  int64_t ScaleOf(const RatePair& pair) const;  // throws naming the trained pairs when `pair` is not one

  // The prompt embeddings for one rate pair (left padding for generation, right for training).
  PromptBatch BuildPrompt(const ModelInputs& inputs, const RatePair& pair, PaddingSide side,
                          bool with_transcript) const;
  // labelled_logits_only: the LM head runs only where a label is (the transcript and EOS, ~10% of a training
  // prompt): the same cross-entropy for a tenth of the LM-head work and of the logits' memory. router_stats, when
  // given, receives the MoME routers' statistics of this forward (the load-balancing loss).
  ModelOutput Forward(const ModelInputs& inputs, const RatePair& pair, bool collect_layer_outputs,
                      bool labelled_logits_only = false,
                      std::vector<adapters::RouterStats>* router_stats = nullptr) const;
  // The adapters bound to `pair`'s Matryoshka scale for one forward or one generation.
  adapters::BoundAdapters AdaptersFor(const RatePair& pair,
                                      std::vector<adapters::RouterStats>* router_stats = nullptr) const;

  const AVSRModelOptions& options() const { return options_; }
  const llm::LlamaForCausalLM& llm() const { return llm_; }
  const adapters::AdapterSet& adapter_set() const { return adapters_; }
  const PromptTokenIds& token_ids() const { return token_ids_; }

  at::Tensor special_embeddings;  // [4, d] trainable: <audio> </audio> <video> </video>

 private:
  at::Tensor Embed(const std::vector<int64_t>& ids) const;
  at::Tensor Project(const at::Tensor& features, const at::Tensor& lengths, int64_t rate, bool audio,
                     std::vector<at::Tensor>* rows) const;

  AVSRModelOptions options_;
  llm::LlamaForCausalLM llm_;
  adapters::AdapterSet adapters_{nullptr};
  std::map<int64_t, matryoshka::Projector> audio_projectors_, video_projectors_;
  std::vector<RatePair> pairs_;
  PromptTokenIds token_ids_;
};
TORCH_MODULE(AVSRModel);

}  // namespace mome::model
