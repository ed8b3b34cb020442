// Greedy and beam search over the Llama decoder with a static KV cache, deterministic, with Hugging Face
// `generate(num_beams=K, do_sample=False)` semantics (length penalty, early stopping, max_new_tokens).
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

#include "mome/llm/llama.h"

namespace mome::decode {

// HF's `early_stopping`: false (stop when no running beam can beat the finished ones, judged at the current
// length), true (stop as soon as `beam_size` hypotheses are finished), "never" (judged at the maximum length).
enum class EarlyStopping { kHeuristic, kTrue, kNever };

constexpr int64_t kMaxNewTokens = 4096;  // and at most the model's max_position_embeddings
constexpr int64_t kMaxBeamSize = 64;

struct GenerateOptions {
  int64_t max_new_tokens = 32;
  int64_t beam_size = 1;  // 1 = greedy
  std::vector<int64_t> eos_token_ids;
  int64_t pad_token_id = 0;  // fills finished rows; never returned
  double length_penalty = 1.0;
  EarlyStopping early_stopping = EarlyStopping::kHeuristic;
  bool use_cuda_graphs = true;  // on CUDA, capture the decoding step once and replay it per token
  // Adapters inside the Llama (MoME/LoRA of an AVSR model), applied at every step; they must outlive the run.
  const llm::LayerHooks* hooks = nullptr;
};

struct Hypothesis {
  std::vector<int64_t> ids;     // generated tokens, up to and including the first EOS
  std::vector<float> logprobs;  // log-probability of each generated token under the model
  double score = 0.0;           // greedy: sum of logprobs; beam: sum / length^length_penalty (HF's score)
};

class IncrementalDecoder;

// Decodes batch after batch, reusing its KV cache and (on CUDA) the captured decoding graph while the batch
// size repeats and the prompts fit. One Generator per thread; the model itself may be shared.
class Generator {
 public:
  Generator(const llm::LlamaForCausalLMImpl& lm, GenerateOptions options);
  ~Generator();
  // prompt_embeds [B, T, d] (left-padded), prompt_valid [B, T] bool (undefined: no padding).
  std::vector<Hypothesis> Generate(const at::Tensor& prompt_embeds, const at::Tensor& prompt_valid);
  // Token prompts of any lengths, checked against the vocabulary and left-padded.
  std::vector<Hypothesis> GenerateFromIds(const std::vector<std::vector<int64_t>>& prompts);
  const GenerateOptions& options() const { return options_; }

 private:
  IncrementalDecoder& DecoderFor(int64_t rows, int64_t capacity);
  const llm::LlamaForCausalLMImpl& lm_;
  GenerateOptions options_;
  std::unique_ptr<IncrementalDecoder> decoder_;
};

// One-shot forms of Generator::Generate / GenerateFromIds. One hypothesis per row.
std::vector<Hypothesis> Generate(const llm::LlamaForCausalLMImpl& lm, const at::Tensor& prompt_embeds,
                                 const at::Tensor& prompt_valid, const GenerateOptions& options);

// Token prompts of any lengths: embeds and left-pads them, then Generate. Ids are checked against the vocabulary.
std::vector<Hypothesis> GenerateFromIds(const llm::LlamaForCausalLMImpl& lm,
                                        const std::vector<std::vector<int64_t>>& prompts,
                                        const GenerateOptions& options);

// Left-pads token prompts: returns (ids [B, T] padded with pad_id, valid [B, T]) on `device`.
std::pair<at::Tensor, at::Tensor> LeftPad(const std::vector<std::vector<int64_t>>& prompts, int64_t pad_id,
                                          c10::Device device);

}  // namespace mome::decode
