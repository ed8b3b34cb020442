#include "mome/model/avsr_model.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <sstream>

#include "mome/core/error.h"

namespace mome::model {

AVSRModelImpl::AVSRModelImpl(const AVSRModelOptions& o, llm::LlamaForCausalLM llm, const at::TensorOptions& t,
                             const at::Generator& init)
    : options_(o), llm_(std::move(llm)) {
  const bool audio = HasAudio(o.modality), video = HasVideo(o.modality);
  const char* modality = EnumName(kModalityNames, o.modality);
  MOME_CHECK(!audio || !o.audio_rates.empty(), ErrorCode::kInvalidArgument, "modality ", modality,
             " needs audio_rates");
  MOME_CHECK(!video || !o.video_rates.empty(), ErrorCode::kInvalidArgument, "modality ", modality,
             " needs video_rates");
  for (int64_t a : audio ? o.audio_rates : std::vector<int64_t>{0})
    for (int64_t v : video ? o.video_rates : std::vector<int64_t>{0}) pairs_.push_back({a, v});

  const llm::LlamaConfig& c = llm_->config();
  const auto mode = matryoshka::ParseCompressionMode(o.compression);
  auto make = [&](bool is_audio, int64_t rate) {
    matryoshka::ProjectorOptions p;
    p.in_dim = matryoshka::CompressedDim(is_audio ? o.audio_dim : o.video_dim, rate, mode);
    p.hidden = o.projector_hidden;
    p.out_dim = c.hidden_size;
    p.layer_norm = o.projector_layer_norm;
    const std::string name = std::string(is_audio ? "audio" : "video") + "_projector_r" + std::to_string(rate);
    return register_module(name, matryoshka::Projector(p, t, init));
  };
  if (audio)
    for (int64_t r : o.audio_rates) audio_projectors_.emplace(r, make(true, r));
  if (video)
    for (int64_t r : o.video_rates) video_projectors_.emplace(r, make(false, r));

  adapters::AdapterOptions a = o.adapters;
  a.num_scales = static_cast<int64_t>(pairs_.size());
  adapters_ = register_module("adapters", adapters::AdapterSet(a, c, t, init));

  // The reference leaves the new special tokens at random values; start them at the mean embedding, trainable.
  {
    torch::NoGradGuard no_grad;
    const at::Tensor& table = llm_->model->embed_tokens->weight;
    at::Tensor init =
        table.device().is_meta() ? at::empty({4, c.hidden_size}, t) : table.to(t.dtype()).mean(0, true).repeat({4, 1});
    special_embeddings = register_parameter("special_embeddings", init.to(t));
  }
  // Virtual ids past the LLM vocabulary name the special tokens (never decoded, so no tokenizer id is needed).
  token_ids_.bos = c.bos_token_id.value_or(0);
  token_ids_.eos = c.eos_token_ids.empty() ? 0 : c.eos_token_ids[0];
  token_ids_.audio_start = c.vocab_size;
  token_ids_.audio_end = c.vocab_size + 1;
  token_ids_.video_start = c.vocab_size + 2;
  token_ids_.video_end = c.vocab_size + 3;
}

int64_t AVSRModelImpl::ScaleOf(const RatePair& pair) const {
  for (size_t i = 0; i < pairs_.size(); ++i)
    if (pairs_[i].audio == pair.audio && pairs_[i].video == pair.video) return static_cast<int64_t>(i);
  std::ostringstream trained;
  for (const auto& p : pairs_) trained << " (" << p.audio << "," << p.video << ")";
  MOME_FAIL(ErrorCode::kInvalidArgument, "rate pair (", pair.audio, ",", pair.video,
            ") was not trained; trained pairs (audio,video):", trained.str());
}

at::Tensor AVSRModelImpl::Embed(const std::vector<int64_t>& ids) const {
  const int64_t vocab = llm_->config().vocab_size;
  bool all_text = ids.size() > 1;
  for (int64_t id : ids) {
    MOME_CHECK(id >= 0 && id < vocab + 4, ErrorCode::kInvalidArgument, "token id ", id, " outside the vocabulary");
    all_text = all_text && id < vocab;
  }
  const at::Tensor& table = llm_->model->embed_tokens->weight;
  if (all_text) {  // instruction and transcript: one gather instead of a view per token
    const at::Tensor index =
        at::tensor(ids, at::TensorOptions().dtype(at::kLong)).to(table.device(), at::kLong, /*non_blocking=*/true);
    return table.index_select(0, index).to(special_embeddings.scalar_type());
  }
  std::vector<at::Tensor> rows;
  for (int64_t id : ids) rows.push_back(id < vocab ? table[id] : special_embeddings[id - vocab]);
  return at::stack(rows, 0).to(special_embeddings.scalar_type());
}

at::Tensor AVSRModelImpl::Project(const at::Tensor& features, const at::Tensor& lengths, int64_t rate, bool audio,
                                  std::vector<at::Tensor>* rows) const {
  MOME_CHECK(features.defined(), ErrorCode::kInvalidArgument, "modality ", EnumName(kModalityNames, options_.modality),
             " needs ", audio ? "audio" : "video", " features");
  const auto& projectors = audio ? audio_projectors_ : video_projectors_;
  const auto it = projectors.find(rate);
  MOME_CHECK(it != projectors.end(), ErrorCode::kInvalidArgument, audio ? "audio" : "video", " rate ", rate,
             " has no projector");
  const auto compressed =
      matryoshka::Compress(features, lengths, rate, matryoshka::ParseCompressionMode(options_.compression));
  const at::Tensor projected = it->second->forward(compressed.features.to(special_embeddings.scalar_type()));
  const at::Tensor lens = compressed.lengths.cpu();
  for (int64_t i = 0; i < projected.size(0); ++i) rows->push_back(projected[i].narrow(0, 0, lens[i].item<int64_t>()));
  return projected;
}

PromptBatch AVSRModelImpl::BuildPrompt(const ModelInputs& in, const RatePair& pair, PaddingSide side,
                                       bool with_transcript) const {
  ScaleOf(pair);
  std::vector<at::Tensor> audio_rows, video_rows;
  if (pair.audio > 0) Project(in.audio, in.audio_lengths, pair.audio, true, &audio_rows);
  if (pair.video > 0) Project(in.video, in.video_lengths, pair.video, false, &video_rows);
  const size_t b = std::max(audio_rows.size(), video_rows.size());
  MOME_CHECK(in.instruction_ids.size() == b, ErrorCode::kShapeMismatch, "got ", in.instruction_ids.size(),
             " instructions for a batch of ", b);
  MOME_CHECK(!with_transcript || in.transcript_ids.size() == b, ErrorCode::kShapeMismatch, "got ",
             in.transcript_ids.size(), " transcripts for a batch of ", b);
  std::vector<PromptPieces> pieces(b);
  for (size_t i = 0; i < b; ++i) {
    if (!audio_rows.empty()) pieces[i].audio = audio_rows[i];
    if (!video_rows.empty()) pieces[i].video = video_rows[i];
    pieces[i].instruction_ids = in.instruction_ids[i];
    if (with_transcript) pieces[i].transcript_ids = in.transcript_ids[i];
  }
  return AssemblePrompts(
      pieces, token_ids_, [this](const std::vector<int64_t>& ids) { return Embed(ids); }, side, with_transcript);
}

adapters::BoundAdapters AVSRModelImpl::AdaptersFor(const RatePair& pair,
                                                   std::vector<adapters::RouterStats>* router_stats) const {
  return adapters_->At(ScaleOf(pair), router_stats);
}

ModelOutput AVSRModelImpl::Forward(const ModelInputs& inputs, const RatePair& pair, bool collect_layer_outputs,
                                   bool labelled_logits_only, std::vector<adapters::RouterStats>* router_stats) const {
  ModelOutput out;
  out.prompt = BuildPrompt(inputs, pair, PaddingSide::kRight, !inputs.transcript_ids.empty());
  const adapters::BoundAdapters hooks = AdaptersFor(pair, router_stats);
  llm::ForwardExtras extras;
  extras.hooks = &hooks;
  if (collect_layer_outputs) extras.layer_outputs = &out.layer_outputs;
  const PromptBatch& p = out.prompt;
  if (!labelled_logits_only) {
    out.logits = llm_->forward(p.embeds, p.positions, p.valid, nullptr, extras);
    out.labels = p.labels;
    return out;
  }
  const at::Tensor hidden = llm_->model->forward(p.embeds, p.positions, p.valid, nullptr, extras);
  out.logits = llm_->Logits(hidden.reshape({-1, hidden.size(2)}).index_select(0, p.labelled)).unsqueeze(0);
  out.labels = p.labels.reshape({-1}).index_select(0, p.labelled).unsqueeze(0);
  return out;
}

}  // namespace mome::model
