#include "mome/eval/alignment_heads.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "mome/core/error.h"
#include "mome/data/featurizer.h"
#include "mome/decode/transcribe.h"

namespace mome::eval {
namespace {

using HeadErrors = std::map<std::pair<int64_t, int64_t>, std::vector<double>>;

double Median(std::vector<double> v) {
  if (v.empty()) return 1e9;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// Adds every head's word-start errors on one clip at one rate pair; false when the words do not line up.
bool ScoreClip(const decode::Transcriber& transcriber, const data::PreparedClip& clip, int64_t median_width,
               HeadErrors* errors) {
  const auto& p = transcriber.pipeline();
  const std::string text = model::AVSRPipeline::NormalizeTranscript(clip.text);
  const std::vector<int64_t> ids = p.tokenizer().Encode(text, false);
  if (ids.empty()) return false;
  const std::vector<float> no_logprobs(ids.size(), 0.0f);
  const std::vector<std::pair<double, double>> no_spans(ids.size(), {0.0, 0.0});
  if (decode::GroupWords(p.tokenizer(), ids, no_logprobs, no_spans).size() != clip.words.size()) return false;
  const model::ModelInputs inputs = data::Featurize(p, {clip});
  const model::PromptBatch prompt =
      p.model()->BuildPrompt(inputs, transcriber.pair(), model::PaddingSide::kLeft, false);
  decode::PromptTimeline timeline;
  const auto probs = transcriber.ForcedAttention(prompt, 0, ids, decode::ClipSeconds(clip), &timeline);
  for (size_t layer = 0; layer < probs.size(); ++layer) {
    const at::Tensor grid = decode::AttentionOnTimeGrid(probs[layer], timeline);  // [heads, n, F]
    for (int64_t head = 0; head < grid.size(0); ++head) {
      const auto spans = decode::TokenSpans(grid.narrow(0, head, 1), median_width);
      const auto words = decode::GroupWords(p.tokenizer(), ids, no_logprobs, spans);
      auto& e = (*errors)[{static_cast<int64_t>(layer), head}];
      for (size_t w = 0; w < words.size(); ++w) e.push_back(std::abs(words[w].start - clip.words[w].start));
    }
  }
  return true;
}

}  // namespace

decode::AlignmentConfig SelectAlignmentHeads(const model::AVSRPipeline& pipeline,
                                             const std::vector<data::PreparedClip>& clips,
                                             const HeadSelectionOptions& o,
                                             const std::function<void(size_t)>& progress) {
  MOME_CHECK(o.heads >= 1, ErrorCode::kInvalidArgument, "at least one alignment head must be kept");
  torch::NoGradGuard no_grad;
  HeadErrors errors;
  int64_t used = 0;
  for (size_t c = 0; c < clips.size(); ++c) {
    if (clips[c].words.empty()) continue;
    bool any = false;
    for (const auto& pair : pipeline.model()->rate_pairs()) {
      decode::Transcriber transcriber(pipeline, pair, decode::PipelineGenerateOptions(pipeline, 1, 1));
      any = ScoreClip(transcriber, clips[c], o.median_width, &errors) || any;
    }
    used += any;
    if (progress) progress(c + 1);
  }
  MOME_CHECK(used > 0 && !errors.empty(), ErrorCode::kInvalidArgument,
             "no clip with a reference word table matching its transcript: alignment heads need clips whose .txt "
             "carries WORD START END rows (prepare them with this version of mome_prepare)");
  std::vector<std::pair<double, std::pair<int64_t, int64_t>>> ranked;
  for (const auto& [head, e] : errors) ranked.push_back({Median(e), head});
  std::sort(ranked.begin(), ranked.end());
  decode::AlignmentConfig config;
  config.median_width = o.median_width;
  config.selection_clips = used;
  for (size_t i = 0; i < ranked.size() && static_cast<int64_t>(i) < o.heads; ++i)
    config.heads.push_back({ranked[i].second.first, ranked[i].second.second});
  config.selection_median_error = ranked.front().first;
  return config;
}

}  // namespace mome::eval
