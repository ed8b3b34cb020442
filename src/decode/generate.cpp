#include "mome/decode/generate.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cmath>

#include "decode/incremental_decoder.h"
#if MOME_WITH_CUDA_KERNELS
#include "llm/kernels/fused_kernels.h"
#endif
#include "mome/core/error.h"

namespace mome::decode {
namespace {

constexpr double kExcluded = -1.0e9;  // HF's additive score for candidates that must not be chosen

// x [B, N, ...], index [B, M] -> [B, M, ...]: per batch row, the entries at `index`.
at::Tensor GatherBeams(const at::Tensor& x, const at::Tensor& index) {
  const int64_t b = x.size(0), n = x.size(1), m = index.size(1);
  const at::Tensor offsets = at::arange(b, index.options()).unsqueeze(1) * n;
  std::vector<int64_t> shape = x.sizes().vec();
  shape[1] = m;
  return x.flatten(0, 1).index_select(0, (index + offsets).flatten()).view(shape);
}

std::vector<int64_t> ToVector(const at::Tensor& ids) {
  const at::Tensor cpu = ids.to(at::kCPU, at::kLong).contiguous();  // one host copy, read in place
  return std::vector<int64_t>(cpu.data_ptr<int64_t>(), cpu.data_ptr<int64_t>() + cpu.numel());
}

// Cuts a row of generated tokens after its first EOS.
Hypothesis TrimRow(const int64_t* ids, const float* logprobs, int64_t length, const std::vector<int64_t>& eos,
                   double score) {
  Hypothesis h;
  h.score = score;
  for (int64_t i = 0; i < length; ++i) {
    h.ids.push_back(ids[i]);
    h.logprobs.push_back(logprobs[i]);
    if (std::find(eos.begin(), eos.end(), ids[i]) != eos.end()) break;
  }
  return h;
}

// The argmax of each row of logits and its log-softmax: one kernel on CUDA (a block per row), else ATen's ops.
std::pair<at::Tensor, at::Tensor> GreedyChoice(const at::Tensor& logits) {
#if MOME_WITH_CUDA_KERNELS
  if (logits.is_cuda() && logits.dim() == 2 && logits.scalar_type() == at::kFloat)
    return llm::kernels::GreedyPick(logits);
#endif
  const at::Tensor best = logits.argmax(-1);
  return {best, at::log_softmax(logits, -1).gather(1, best.unsqueeze(1)).squeeze(1)};
}

std::vector<Hypothesis> Greedy(IncrementalDecoder& decoder, at::Tensor logits, const at::Tensor& eos,
                               const GenerateOptions& options) {
  const int64_t b = logits.size(0);
  at::Tensor unfinished = at::ones({b}, logits.options().dtype(at::kBool));
  const at::Tensor pad = at::full({b}, options.pad_token_id, logits.options().dtype(at::kLong));
  std::vector<at::Tensor> tokens, logprobs;
  for (int64_t t = 0; t < options.max_new_tokens; ++t) {
    const auto [best, best_logprob] = GreedyChoice(logits);
    const at::Tensor next = at::where(unfinished, best, pad);
    tokens.push_back(next);
    logprobs.push_back(best_logprob);  // a finished row's is dropped with its pads (TrimRow)
    if (eos.numel() > 0) unfinished = unfinished.logical_and(at::isin(next, eos).logical_not());
    if (t + 1 == options.max_new_tokens) break;
    // Stopping needs a host sync; checking every 4th step keeps the GPU queue full (extra steps emit pads).
    if (eos.numel() > 0 && t % 4 == 3 && !unfinished.any().item<bool>()) break;
    logits = decoder.Step(next);
  }
  const at::Tensor all_tokens = at::stack(tokens, 1).cpu().contiguous();
  const at::Tensor all_logprobs = at::stack(logprobs, 1).to(at::kFloat).cpu().contiguous();
  const std::vector<int64_t> eos_list = ToVector(eos);
  std::vector<Hypothesis> out;
  const int64_t steps = all_tokens.size(1);
  for (int64_t i = 0; i < b; ++i) {
    Hypothesis h = TrimRow(all_tokens.data_ptr<int64_t>() + i * steps, all_logprobs.data_ptr<float>() + i * steps,
                           steps, eos_list, 0.0);
    for (float lp : h.logprobs) h.score += lp;
    out.push_back(std::move(h));
  }
  return out;
}

// Beam search, step for step the vectorised algorithm of HF transformers' `_beam_search`:
// keep 2K (or (1 + #eos) K) candidates per step, the best K that did not stop continue, candidates that
// stopped among the top K enter the finished set with score sum_logprob / length^length_penalty.
class BeamSearch {
 public:
  BeamSearch(const at::Tensor& logits, const at::Tensor& eos, const GenerateOptions& options, int64_t batch)
      : o_(options),
        eos_(eos),
        batch_(batch),
        k_(options.beam_size),
        max_new_(options.max_new_tokens),
        vocab_(logits.size(1)),
        keep_(std::min<int64_t>(std::max<int64_t>(2, 1 + eos.numel()) * k_, k_ * vocab_)),
        f32_(logits.options().dtype(at::kFloat)),
        i64_(logits.options().dtype(at::kLong)),
        flag_(logits.options().dtype(at::kBool)) {
    running_scores_ = at::zeros({batch, k_}, f32_);
    if (k_ > 1) running_scores_.narrow(1, 1, k_ - 1).fill_(kExcluded);  // the first step expands beam 0 only
    running_seqs_ = at::full({batch, k_, max_new_}, options.pad_token_id, i64_);
    running_lps_ = at::zeros({batch, k_, max_new_}, f32_);
    finished_seqs_ = running_seqs_.clone(), finished_lps_ = running_lps_.clone();
    finished_scores_ = at::full({batch, k_}, kExcluded, f32_);
    finished_len_ = at::zeros({batch, k_}, i64_);
    is_finished_ = at::zeros({batch, k_}, flag_);
    improvable_ = at::ones({batch, 1}, flag_);  // HF: is_early_stop_heuristic_unsatisfied
    top_k_mask_ = at::arange(keep_, i64_).lt(k_).unsqueeze(0);
    row_offsets_ = at::arange(batch, i64_).unsqueeze(1) * k_;
  }

  // One step on the logits of the running beams; false when the search is over. Otherwise the decoder is
  // reordered to the new running beams and `*next_tokens` is what to feed it.
  bool Step(const at::Tensor& logits, int64_t t, IncrementalDecoder& decoder, at::Tensor* next_tokens) {
    Candidates c = Expand(logits, t);
    const at::Tensor next_source = KeepRunning(c);
    MergeFinished(c, t);
    if (t + 1 == max_new_ || !MayContinue(c, t)) return false;
    decoder.Reorder((next_source + row_offsets_).flatten());
    *next_tokens = running_seqs_.select(2, t).flatten();
    return true;
  }

  std::vector<Hypothesis> Result() const {
    const at::Tensor seqs = finished_seqs_.select(1, 0).cpu().contiguous();
    const at::Tensor lps = finished_lps_.select(1, 0).cpu().contiguous();
    const at::Tensor lens = finished_len_.select(1, 0).cpu().contiguous();
    const at::Tensor scores = finished_scores_.select(1, 0).to(at::kDouble).cpu().contiguous();
    const std::vector<int64_t> eos_list = ToVector(eos_);
    std::vector<Hypothesis> out;
    for (int64_t i = 0; i < batch_; ++i)
      out.push_back(TrimRow(seqs.data_ptr<int64_t>() + i * max_new_, lps.data_ptr<float>() + i * max_new_,
                            lens.data_ptr<int64_t>()[i], eos_list, scores.data_ptr<double>()[i]));
    return out;
  }

 private:
  struct Candidates {
    at::Tensor scores, source_beam, seqs, lps, stops;  // [batch, keep] (seqs/lps [batch, keep, max_new])
  };

  // The best `keep` continuations of the running beams, and which of them stop here (EOS, or the length limit).
  Candidates Expand(const at::Tensor& logits, int64_t t) const {
    const at::Tensor log_probs = at::log_softmax(logits, -1).view({batch_, k_, vocab_});
    const at::Tensor accumulated = (log_probs + running_scores_.unsqueeze(2)).view({batch_, k_ * vocab_});
    Candidates c;
    at::Tensor top_index;
    std::tie(c.scores, top_index) = accumulated.topk(keep_, 1);
    c.source_beam = top_index.div(vocab_, "floor");
    const at::Tensor token = top_index.remainder(vocab_);
    const at::Tensor token_lp = log_probs.view({batch_, k_ * vocab_}).gather(1, top_index);
    c.seqs = GatherBeams(running_seqs_, c.source_beam);
    c.lps = GatherBeams(running_lps_, c.source_beam);
    c.seqs.select(2, t).copy_(token);
    c.lps.select(2, t).copy_(token_lp);
    c.stops = t + 1 == max_new_ ? at::ones({batch_, keep_}, flag_)
                                : (eos_.numel() > 0 ? at::isin(token, eos_) : at::zeros({batch_, keep_}, flag_));
    return c;
  }

  // Running beams for the next step: the best K candidates that did not stop. Returns their source beams.
  at::Tensor KeepRunning(const Candidates& c) {
    const at::Tensor running_candidates = c.scores + c.stops.to(at::kFloat) * kExcluded;
    const at::Tensor next_index = std::get<1>(running_candidates.topk(k_, 1));
    running_seqs_ = GatherBeams(c.seqs, next_index);
    running_lps_ = GatherBeams(c.lps, next_index);
    running_scores_ = running_candidates.gather(1, next_index);
    return c.source_beam.gather(1, next_index);
  }

  // Finished set: the previous finished beams merged with candidates in the top K that stopped now.
  void MergeFinished(const Candidates& c, int64_t t) {
    const at::Tensor just_finished = c.stops.logical_and(top_k_mask_);
    at::Tensor final_scores = c.scores / std::pow(static_cast<double>(t + 1), o_.length_penalty);
    if (o_.early_stopping == EarlyStopping::kTrue)
      final_scores = final_scores + is_finished_.all(1, true).to(at::kFloat) * kExcluded;
    final_scores = final_scores + improvable_.logical_not().to(at::kFloat) * kExcluded;
    final_scores = final_scores + just_finished.logical_not().to(at::kFloat) * kExcluded;
    const at::Tensor merged_scores = at::cat({finished_scores_, final_scores}, 1);
    const at::Tensor best = std::get<1>(merged_scores.topk(k_, 1));
    finished_seqs_ = GatherBeams(at::cat({finished_seqs_, c.seqs}, 1), best);
    finished_lps_ = GatherBeams(at::cat({finished_lps_, c.lps}, 1), best);
    finished_scores_ = merged_scores.gather(1, best);
    finished_len_ = at::cat({finished_len_, at::full({batch_, keep_}, t + 1, i64_)}, 1).gather(1, best);
    is_finished_ = at::cat({is_finished_, just_finished}, 1).gather(1, best);
  }

  // HF's stopping test, after the step: can any running beam still beat the worst finished one?
  bool MayContinue(const Candidates& c, int64_t t) {
    const double lp = o_.length_penalty;
    const double best_length = o_.early_stopping == EarlyStopping::kNever && lp > 0 ? static_cast<double>(max_new_)
                                                                                    : static_cast<double>(t + 1);
    const at::Tensor best_running = running_scores_.narrow(1, 0, 1) / std::pow(best_length, lp);
    const at::Tensor worst_finished =
        at::where(is_finished_, std::get<0>(finished_scores_.min(1, true)), at::full({}, kExcluded, f32_));
    improvable_ = improvable_.logical_and(best_running.gt(worst_finished).any(1, true));
    bool open_beam = true;
    if (o_.early_stopping == EarlyStopping::kTrue) open_beam = !is_finished_.all().item<bool>();
    const bool any_improvable = improvable_.any().item<bool>();
    const bool all_stopped = c.stops.all().item<bool>();
    return any_improvable && open_beam && !all_stopped;
  }

  const GenerateOptions& o_;
  const at::Tensor eos_;
  const int64_t batch_, k_, max_new_, vocab_, keep_;
  const at::TensorOptions f32_, i64_, flag_;
  at::Tensor running_scores_, running_seqs_, running_lps_;
  at::Tensor finished_seqs_, finished_lps_, finished_scores_, finished_len_, is_finished_;
  at::Tensor improvable_, top_k_mask_, row_offsets_;
};

std::vector<Hypothesis> Beam(IncrementalDecoder& decoder, at::Tensor logits, const at::Tensor& eos,
                             const GenerateOptions& options, int64_t batch) {
  BeamSearch search(logits, eos, options, batch);
  at::Tensor tokens;
  for (int64_t t = 0; t < options.max_new_tokens && search.Step(logits, t, decoder, &tokens); ++t)
    logits = decoder.Step(tokens);
  return search.Result();
}

}  // namespace

Generator::Generator(const llm::LlamaForCausalLMImpl& lm, GenerateOptions options)
    : lm_(lm), options_(std::move(options)) {
  // Bounded so that a typo cannot ask for a cache of hundreds of GB: the cache holds prompt + new tokens for every
  // beam, and a model is not trained for more positions than its config names.
  const int64_t most_tokens = std::min<int64_t>(kMaxNewTokens, lm.config().max_position_embeddings);
  MOME_CHECK(options_.max_new_tokens > 0 && options_.max_new_tokens <= most_tokens, ErrorCode::kInvalidArgument,
             "max new tokens must be in [1, ", most_tokens, "] (the model's positions, at most ", kMaxNewTokens,
             "), got ", options_.max_new_tokens);
  MOME_CHECK(options_.beam_size > 0 && options_.beam_size <= kMaxBeamSize, ErrorCode::kInvalidArgument,
             "beam size must be in [1, ", kMaxBeamSize, "], got ", options_.beam_size);
  for (int64_t id : options_.eos_token_ids)
    MOME_CHECK(id >= 0 && id < lm.config().vocab_size, ErrorCode::kInvalidArgument, "eos id ", id,
               " is outside the vocabulary [0, ", lm.config().vocab_size, ")");
}

Generator::~Generator() = default;

IncrementalDecoder& Generator::DecoderFor(int64_t rows, int64_t capacity) {
  if (!decoder_ || decoder_->batch() != rows || decoder_->capacity() < capacity) {
    // Rounded up so that the next batches, with other prompt lengths, usually fit the same cache and graph.
    const int64_t rounded = (capacity + 63) / 64 * 64;
    decoder_.reset();  // free the old cache first
    decoder_ = std::make_unique<IncrementalDecoder>(lm_, rows, rounded, options_.use_cuda_graphs, options_.hooks);
  }
  return *decoder_;
}

std::vector<Hypothesis> Generator::Generate(const at::Tensor& prompt_embeds, const at::Tensor& prompt_valid) {
  MOME_CHECK(prompt_embeds.dim() == 3 && prompt_embeds.size(1) > 0, ErrorCode::kShapeMismatch,
             "prompt embeddings must be [B, T > 0, d], got ", prompt_embeds.sizes());
  torch::NoGradGuard no_grad;
  const int64_t batch = prompt_embeds.size(0), k = options_.beam_size;
  const int64_t capacity = prompt_embeds.size(1) + options_.max_new_tokens;
  const at::Tensor eos =
      at::tensor(options_.eos_token_ids, at::TensorOptions().dtype(at::kLong)).to(prompt_embeds.device());
  if (k == 1) {
    IncrementalDecoder& decoder = DecoderFor(batch, capacity);
    return Greedy(decoder, decoder.Prefill(prompt_embeds, prompt_valid), eos, options_);
  }
  // Each beam is a row of the cache; the prompt is run once per beam row.
  IncrementalDecoder& decoder = DecoderFor(batch * k, capacity);
  const at::Tensor embeds = prompt_embeds.repeat_interleave(k, 0);
  const at::Tensor valid = prompt_valid.defined() ? prompt_valid.repeat_interleave(k, 0) : at::Tensor();
  return Beam(decoder, decoder.Prefill(embeds, valid), eos, options_, batch);
}

std::vector<Hypothesis> Generator::GenerateFromIds(const std::vector<std::vector<int64_t>>& prompts) {
  const int64_t vocab = lm_.config().vocab_size;
  for (size_t i = 0; i < prompts.size(); ++i)
    for (int64_t id : prompts[i])
      MOME_CHECK(id >= 0 && id < vocab, ErrorCode::kInvalidArgument, "token id ", id, " in prompt ", i,
                 " is outside the vocabulary [0, ", vocab, ")");
  torch::NoGradGuard no_grad;
  const auto [ids, valid] = LeftPad(prompts, options_.pad_token_id, lm_.options().device());
  const bool padded = !valid.all().item<bool>();
  return Generate(lm_.model->Embed(ids), padded ? valid : at::Tensor());
}

std::vector<Hypothesis> Generate(const llm::LlamaForCausalLMImpl& lm, const at::Tensor& prompt_embeds,
                                 const at::Tensor& prompt_valid, const GenerateOptions& options) {
  return Generator(lm, options).Generate(prompt_embeds, prompt_valid);
}

std::pair<at::Tensor, at::Tensor> LeftPad(const std::vector<std::vector<int64_t>>& prompts, int64_t pad_id,
                                          c10::Device device) {
  MOME_CHECK(!prompts.empty(), ErrorCode::kInvalidArgument, "no prompts given");
  size_t longest = 0;
  for (const auto& p : prompts) longest = std::max(longest, p.size());
  MOME_CHECK(longest > 0, ErrorCode::kInvalidArgument, "every prompt is empty");
  const int64_t b = static_cast<int64_t>(prompts.size()), t = static_cast<int64_t>(longest);
  at::Tensor ids = at::full({b, t}, pad_id, at::TensorOptions().dtype(at::kLong));
  at::Tensor valid = at::zeros({b, t}, at::TensorOptions().dtype(at::kBool));
  for (int64_t i = 0; i < b; ++i) {
    const auto& p = prompts[i];
    MOME_CHECK(!p.empty(), ErrorCode::kInvalidArgument, "prompt ", i, " is empty");
    const int64_t offset = t - static_cast<int64_t>(p.size());
    for (size_t j = 0; j < p.size(); ++j) {
      ids[i][offset + static_cast<int64_t>(j)] = p[j];
    }
    valid[i].narrow(0, offset, static_cast<int64_t>(p.size())).fill_(true);
  }
  return {ids.to(device), valid.to(device)};
}

std::vector<Hypothesis> GenerateFromIds(const llm::LlamaForCausalLMImpl& lm,
                                        const std::vector<std::vector<int64_t>>& prompts,
                                        const GenerateOptions& options) {
  return Generator(lm, options).GenerateFromIds(prompts);
}

}  // namespace mome::decode
