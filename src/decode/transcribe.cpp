#include "mome/decode/transcribe.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <limits>

#include "mome/core/error.h"
#include "mome/data/featurizer.h"
#include "mome/frontend/vad.h"
#include "mome/model/prompt.h"

namespace mome::decode {

GenerateOptions PipelineGenerateOptions(const model::AVSRPipeline& pipeline, int64_t beam_size,
                                        int64_t max_new_tokens) {
  GenerateOptions o;
  o.beam_size = beam_size;
  o.max_new_tokens = max_new_tokens;
  const auto& c = pipeline.llm()->config();
  o.eos_token_ids = c.eos_token_ids;
  if (const auto eos = pipeline.tokenizer().EosId())
    if (std::find(o.eos_token_ids.begin(), o.eos_token_ids.end(), *eos) == o.eos_token_ids.end())
      o.eos_token_ids.push_back(*eos);
  o.pad_token_id = o.eos_token_ids.empty() ? 0 : o.eos_token_ids[0];
  return o;
}

namespace {
GenerateOptions WithPipeline(const model::AVSRPipeline& p, GenerateOptions o, const llm::LayerHooks* hooks) {
  MOME_CHECK(o.hooks == nullptr, ErrorCode::kInvalidArgument,
             "Transcriber binds the pipeline's adapters itself: leave GenerateOptions::hooks empty");
  if (o.eos_token_ids.empty()) o.eos_token_ids = PipelineGenerateOptions(p, 1, 1).eos_token_ids;
  o.hooks = hooks;
  return o;
}
}  // namespace

Transcriber::Transcriber(const model::AVSRPipeline& pipeline, const model::RatePair& pair, GenerateOptions options,
                         const AlignmentConfig* alignment)
    : pipeline_(pipeline),
      pair_(pair),
      hooks_(pipeline.model()->AdaptersFor(pair)),
      generator_(*pipeline.llm(), WithPipeline(pipeline, std::move(options), &hooks_)),
      alignment_(alignment) {
  if (!alignment_) return;
  const auto& c = pipeline.llm()->config();
  for (const auto& h : alignment_->heads)
    MOME_CHECK(h.layer >= 0 && h.layer < c.num_hidden_layers && h.head >= 0 && h.head < c.num_attention_heads,
               ErrorCode::kInvalidArgument, "alignment head (", h.layer, ", ", h.head, ") is not in this model (",
               c.num_hidden_layers, " layers x ", c.num_attention_heads, " heads)");
}

double ClipSeconds(const data::PreparedClip& clip) {
  if (clip.audio.defined()) return static_cast<double>(clip.audio.numel()) / 16000.0;
  return clip.video.defined() ? static_cast<double>(clip.video.size(0)) / 25.0 : 0.0;
}

std::vector<Transcription> Transcriber::Run(const std::vector<data::PreparedClip>& clips) {
  return Decode(clips, /*with_timestamps=*/alignment_ != nullptr);
}

std::vector<Transcription> Transcriber::Decode(const std::vector<data::PreparedClip>& clips, bool with_timestamps) {
  torch::NoGradGuard no_grad;
  const model::ModelInputs inputs = data::Featurize(pipeline_, clips);
  const model::PromptBatch prompt =
      pipeline_.model()->BuildPrompt(inputs, pair_, model::PaddingSide::kLeft, /*with_transcript=*/false);
  const std::vector<Hypothesis> hyps = generator_.Generate(prompt.embeds, prompt.valid);
  const auto& eos = generator_.options().eos_token_ids;
  std::vector<Transcription> out;
  for (size_t i = 0; i < clips.size(); ++i) {
    Transcription t;
    t.key = clips[i].key;
    t.ref = clips[i].text;
    t.audio_seconds = ClipSeconds(clips[i]);
    t.ids = hyps[i].ids;
    t.logprobs = hyps[i].logprobs;
    if (!t.ids.empty() && std::find(eos.begin(), eos.end(), t.ids.back()) != eos.end()) {
      t.ids.pop_back();
      t.logprobs.pop_back();
    }
    t.text = pipeline_.tokenizer().Decode(t.ids, /*skip_special_tokens=*/true);
    if (with_timestamps) t.words = Timestamps(prompt, static_cast<int64_t>(i), t);
    out.push_back(std::move(t));
  }
  return out;
}

namespace {

constexpr int64_t kSamplesPerFrame = 640;  // 16 kHz audio, 25 fps video

// The part [begin, end) of `clip`: samples with audio, frames without; its video follows the audio's frames.
data::PreparedClip PieceOf(const data::PreparedClip& clip, int64_t begin, int64_t end, const std::string& key) {
  data::PreparedClip piece;
  piece.key = key;
  const bool audio = clip.audio.defined();
  const int64_t f0 = audio ? begin / kSamplesPerFrame : begin;
  const int64_t f1 = audio ? (end + kSamplesPerFrame - 1) / kSamplesPerFrame : end;
  if (audio) piece.audio = clip.audio.narrow(0, begin, end - begin);
  if (clip.video.defined()) {
    const int64_t frames = clip.video.size(0), a = std::min(f0, frames - 1), b = std::clamp(f1, a + 1, frames);
    piece.video = clip.video.narrow(0, a, b - a);
  }
  return piece;
}

// The pieces of `clip` to decode, with their times (seconds); `choose` picks the cuts inside long stretches.
std::vector<data::PreparedClip> CutClip(const data::PreparedClip& clip, double max_seconds,
                                        const frontend::CutChooser& choose,
                                        std::vector<std::pair<double, double>>* times) {
  std::vector<data::PreparedClip> pieces;
  const bool audio = clip.audio.defined();
  const auto spans = audio ? frontend::SplitAtPauses(clip.audio, max_seconds, {}, choose)
                           : frontend::FixedWindows(clip.video.size(0), static_cast<int64_t>(max_seconds * 25.0));
  const double unit = audio ? 16000.0 : 25.0;
  for (size_t i = 0; i < spans.size(); ++i) {
    pieces.push_back(PieceOf(clip, spans[i].begin, spans[i].end, clip.key + "#" + std::to_string(i)));
    times->emplace_back(spans[i].begin / unit, spans[i].end / unit);
  }
  return pieces;
}

// Piece `t` placed at `offset` seconds of the recording.
TranscriptSegment SegmentOf(const Transcription& t, double start, double end) {
  TranscriptSegment s{start, end, t.text, t.words, 0.0};
  for (auto& w : s.words) w.start += start, w.end += start;
  double sum = 0;
  for (float lp : t.logprobs) sum += lp;
  s.avg_logprob = t.logprobs.empty() ? 0.0 : sum / static_cast<double>(t.logprobs.size());
  return s;
}

}  // namespace

bool NeedsPieces(const data::PreparedClip& clip, double max_segment_seconds) {
  if (ClipSeconds(clip) > max_segment_seconds) return true;
  return clip.audio.defined() && frontend::SpeechRegions(clip.audio).empty();
}

Transcription Transcriber::RunRecording(const data::PreparedClip& clip, double max_segment_seconds,
                                        int64_t batch_size) {
  if (NeedsPieces(clip, max_segment_seconds)) return RunLong(clip, max_segment_seconds, batch_size);
  return Run({clip})[0];
}

Transcription Transcriber::RunLong(const data::PreparedClip& clip, double max_segment_seconds, int64_t batch_size) {
  MOME_CHECK(batch_size >= 1, ErrorCode::kInvalidArgument, "batch size must be positive");
  MOME_CHECK(max_segment_seconds >= 1.0 && max_segment_seconds <= 30.0, ErrorCode::kInvalidArgument,
             "segments must be 1..30 s long (Whisper's window), got ", max_segment_seconds);
  Transcription whole;
  whole.key = clip.key;
  whole.ref = clip.text;
  whole.audio_seconds = ClipSeconds(clip);
  std::vector<std::pair<double, double>> times;
  const auto piece_samples = static_cast<int64_t>(max_segment_seconds * 16000.0);
  const frontend::CutChooser choose = [&](const frontend::SampleSpan& stretch, const std::vector<int64_t>& cuts) {
    return ChooseCut(clip, stretch, cuts, piece_samples);
  };
  const std::vector<data::PreparedClip> pieces = CutClip(clip, max_segment_seconds, choose, &times);
  for (size_t begin = 0; begin < pieces.size(); begin += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(pieces.size(), begin + static_cast<size_t>(batch_size));
    const auto results = Run({pieces.begin() + begin, pieces.begin() + end});
    for (size_t i = 0; i < results.size(); ++i) {
      const Transcription& t = results[i];
      whole.segments.push_back(SegmentOf(t, times[begin + i].first, times[begin + i].second));
      whole.ids.insert(whole.ids.end(), t.ids.begin(), t.ids.end());
      whole.logprobs.insert(whole.logprobs.end(), t.logprobs.begin(), t.logprobs.end());
      const auto& words = whole.segments.back().words;
      whole.words.insert(whole.words.end(), words.begin(), words.end());
      if (!t.text.empty()) whole.text += (whole.text.empty() ? "" : " ") + t.text;
    }
  }
  return whole;
}

namespace {

constexpr size_t kCutContextTokens = 2;  // tokens on each side of a cut that score it

// Mean log-probability of logprobs[first, first + count) (-inf when that is empty: a piece decoded to nothing).
double MeanLogprob(const std::vector<float>& logprobs, size_t first, size_t count) {
  double sum = 0;
  size_t n = 0;
  for (size_t i = first; i < std::min(logprobs.size(), first + count); ++i) sum += logprobs[i], ++n;
  return n == 0 ? -std::numeric_limits<double>::infinity() : sum / static_cast<double>(n);
}

}  // namespace

int64_t Transcriber::ChooseCut(const data::PreparedClip& clip, const frontend::SampleSpan& stretch,
                               const std::vector<int64_t>& cuts, int64_t piece_samples) {
  // The piece a cut ends keeps the margin that SplitAtPauses gives every piece after its end.
  const auto margin = static_cast<int64_t>(frontend::VadOptions{}.margin_seconds * 16000.0);
  std::vector<data::PreparedClip> sides;  // per candidate: the piece it ends, then the piece it starts
  for (int64_t c : cuts) {
    sides.push_back(PieceOf(clip, stretch.begin, std::min(stretch.end, c + margin), clip.key + "<"));
    sides.push_back(PieceOf(clip, c, std::min(stretch.end, c + piece_samples), clip.key + ">"));
  }
  const std::vector<Transcription> decoded = Decode(sides, /*with_timestamps=*/false);  // scores only
  size_t best = 0;
  double best_score = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < cuts.size(); ++i) {  // ties keep the quieter candidate
    const auto& before = decoded[2 * i].logprobs;
    const double end_score =
        MeanLogprob(before, before.size() - std::min(before.size(), kCutContextTokens), kCutContextTokens);
    const double score = end_score + MeanLogprob(decoded[2 * i + 1].logprobs, 0, kCutContextTokens);
    if (score > best_score) best_score = score, best = i;
  }
  return cuts[best];
}

std::vector<at::Tensor> Transcriber::ForcedAttention(const model::PromptBatch& prompt, int64_t row,
                                                     const std::vector<int64_t>& ids, double duration,
                                                     PromptTimeline* timeline) const {
  torch::NoGradGuard no_grad;
  const at::Tensor keep = prompt.valid[row].cpu().nonzero().reshape({-1});
  const at::Tensor embeds = prompt.embeds[row].index_select(0, keep.to(prompt.embeds.device()));  // [P, d]
  const at::Tensor roles = prompt.roles[row].cpu().index_select(0, keep);
  const int64_t p = embeds.size(0), n = static_cast<int64_t>(ids.size());
  *timeline = PromptTimeline();
  timeline->duration = duration;
  int64_t audio = 0, video = 0;
  for (int64_t k = 0; k < p; ++k) {
    const auto role = static_cast<model::TokenRole>(roles[k].item<int8_t>());
    if (role != model::TokenRole::kAudio && role != model::TokenRole::kVideo) continue;
    const bool is_audio = role == model::TokenRole::kAudio;
    const double span = is_audio ? pair_.audio * kTimeGridSeconds : pair_.video * 0.04;
    const int64_t j = is_audio ? audio++ : video++;
    timeline->positions.push_back(k);
    timeline->starts.push_back(std::min(duration, j * span));
    timeline->ends.push_back(std::min(duration, (j + 1) * span));
  }
  const auto& lm = *pipeline_.llm();
  const at::Tensor id_tensor = at::tensor(ids, at::kLong).to(embeds.device()).unsqueeze(0);
  const at::Tensor sequence =
      at::cat({embeds, lm.model->Embed(id_tensor)[0].to(embeds.scalar_type())}, 0).unsqueeze(0);  // [1, P+n, d]
  const at::Tensor positions = at::arange(p + n, at::TensorOptions().dtype(at::kLong).device(embeds.device()));
  std::vector<at::Tensor> probs;
  llm::ForwardExtras extras;
  extras.hooks = &hooks_;
  extras.attention_probs = &probs;
  lm.model->forward(sequence, positions.unsqueeze(0), at::Tensor(), nullptr, extras);
  for (auto& layer : probs) layer = layer[0].narrow(1, p - 1, n);  // [heads, n, S]: the rows that predicted ids
  return probs;
}

std::vector<WordTiming> Transcriber::Timestamps(const model::PromptBatch& prompt, int64_t row,
                                                const Transcription& t) const {
  if (t.ids.empty()) return {};
  PromptTimeline timeline;
  const std::vector<at::Tensor> probs = ForcedAttention(prompt, row, t.ids, t.audio_seconds, &timeline);
  std::vector<at::Tensor> heads;
  for (const auto& h : alignment_->heads) heads.push_back(probs[h.layer][h.head]);
  const at::Tensor grid = AttentionOnTimeGrid(at::stack(heads), timeline);
  auto spans = TokenSpans(grid, alignment_->median_width);
  for (auto& [start, end] : spans)  // the last 20 ms frame may reach past the end of the clip
    start = std::min(start, t.audio_seconds), end = std::min(end, t.audio_seconds);
  return GroupWords(pipeline_.tokenizer(), t.ids, t.logprobs, spans);
}

}  // namespace mome::decode
