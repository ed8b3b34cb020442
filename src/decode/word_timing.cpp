#include "mome/decode/word_timing.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "mome/core/atomic_file.h"
#include "mome/core/error.h"
#include "mome/io/json.h"

namespace mome::decode {
namespace fs = std::filesystem;

bool HasAlignmentConfig(const std::string& model_dir) {
  return fs::exists(fs::path(model_dir) / kAlignmentFile);
}

AlignmentConfig LoadAlignmentConfig(const std::string& model_dir) {
  const std::string path = (fs::path(model_dir) / kAlignmentFile).string();
  AlignmentConfig c;
  if (!fs::exists(path)) return c;
  const nlohmann::json j = io::ReadJsonObjectFile(path);
  try {
    for (const auto& h : j.at("heads"))
      c.heads.push_back({io::IntValue(h.at(0), path + ": a head's layer"), io::IntValue(h.at(1), path + ": a head")});
    c.median_width = io::OptionalInt(j, "median_width", 7, path);
    c.selection_median_error = j.value("selection_median_error", -1.0);
    c.selection_clips = io::OptionalInt(j, "selection_clips", 0, path);
  } catch (const nlohmann::json::exception& e) {
    MOME_FAIL(ErrorCode::kCorruptFile, path, ": malformed alignment heads (", e.what(), ")");
  }
  MOME_CHECK(!c.heads.empty() && c.median_width >= 1 && c.median_width % 2 == 1, ErrorCode::kCorruptFile, path,
             ": needs at least one head and an odd median_width");
  return c;
}

void SaveAlignmentConfig(const std::string& model_dir, const AlignmentConfig& c) {
  nlohmann::json heads = nlohmann::json::array();
  for (const auto& h : c.heads) heads.push_back({h.layer, h.head});
  const nlohmann::json j = {{"heads", heads},
                            {"median_width", c.median_width},
                            {"selection_median_error", c.selection_median_error},
                            {"selection_clips", c.selection_clips}};
  WriteFileAtomic((fs::path(model_dir) / kAlignmentFile).string(), j.dump(2) + "\n");
}

std::vector<std::pair<int64_t, int64_t>> DtwRowSpans(const at::Tensor& cost_in) {
  const at::Tensor cost = cost_in.to(at::kCPU, at::kDouble).contiguous();
  const int64_t n = cost.size(0), m = cost.size(1);
  MOME_CHECK(n > 0 && m > 0, ErrorCode::kShapeMismatch, "DTW needs a non-empty cost matrix, got ", cost.sizes());
  const double* c = cost.data_ptr<double>();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> d(static_cast<size_t>(n * m), inf);
  std::vector<int8_t> from(static_cast<size_t>(n * m), 0);  // 0 diagonal, 1 up (i-1), 2 left (j-1)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) {
      double best = i == 0 && j == 0 ? 0.0 : inf;
      int8_t step = 0;
      if (i > 0 && j > 0 && d[(i - 1) * m + j - 1] < best) best = d[(i - 1) * m + j - 1], step = 0;
      if (i > 0 && d[(i - 1) * m + j] < best) best = d[(i - 1) * m + j], step = 1;
      if (j > 0 && d[i * m + j - 1] < best) best = d[i * m + j - 1], step = 2;
      d[i * m + j] = best + c[i * m + j];
      from[i * m + j] = step;
    }
  std::vector<std::pair<int64_t, int64_t>> spans(static_cast<size_t>(n), {m, 0});
  for (int64_t i = n - 1, j = m - 1;;) {
    auto& s = spans[static_cast<size_t>(i)];
    s.first = std::min(s.first, j), s.second = std::max(s.second, j + 1);
    if (i == 0 && j == 0) break;
    const int8_t step = from[i * m + j];
    if (step == 0)
      --i, --j;
    else if (step == 1)
      --i;
    else
      --j;
  }
  return spans;
}

at::Tensor AttentionOnTimeGrid(const at::Tensor& attention, const PromptTimeline& t) {
  MOME_CHECK(attention.dim() == 3, ErrorCode::kShapeMismatch, "attention must be [heads, N, S], got ",
             attention.sizes());
  const int64_t frames = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(t.duration / kTimeGridSeconds)));
  const int64_t k = static_cast<int64_t>(t.positions.size());
  MOME_CHECK(k > 0, ErrorCode::kInvalidArgument, "the prompt has no audio or video tokens to align to");
  // spread [K, F]: token k's attention shared equally by the frames it covers.
  at::Tensor spread = at::zeros({k, frames}, at::kFloat);
  for (int64_t i = 0; i < k; ++i) {
    const int64_t first = std::min(frames - 1, static_cast<int64_t>(std::floor(t.starts[i] / kTimeGridSeconds)));
    const int64_t last = std::clamp(static_cast<int64_t>(std::ceil(t.ends[i] / kTimeGridSeconds)), first + 1, frames);
    spread[i].narrow(0, first, last - first).fill_(1.0 / static_cast<double>(last - first));
  }
  const at::Tensor index = at::tensor(t.positions, at::kLong).to(attention.device());
  const at::Tensor on_tokens = attention.to(at::kFloat).index_select(2, index).cpu();  // [H, N, K]
  return at::matmul(on_tokens, spread);                                                // [H, N, F]
}

namespace {

// Median over a window of `width` frames along the last axis (edges replicated), as scipy's median_filter.
at::Tensor MedianFilter(const at::Tensor& x, int64_t width) {
  if (width <= 1 || x.size(-1) < 2) return x;
  const int64_t pad = width / 2;
  const at::Tensor left = x.narrow(-1, 0, 1).expand({x.size(0), x.size(1), pad});
  const at::Tensor right = x.narrow(-1, x.size(-1) - 1, 1).expand({x.size(0), x.size(1), pad});
  const at::Tensor padded = at::cat({left, x, right}, -1);
  return std::get<0>(padded.unfold(-1, width, 1).median(-1));
}

}  // namespace

std::vector<std::pair<double, double>> TokenSpans(const at::Tensor& grid, int64_t median_width) {
  MOME_CHECK(grid.dim() == 3 && grid.size(1) > 0, ErrorCode::kShapeMismatch, "time-grid attention must be [H, N, F]");
  // Normalised per frame over the tokens: what matters is which token a frame belongs to most, not how much
  // attention the frame draws overall (Whisper's timing does the same).
  const at::Tensor mean = grid.mean(1, true);
  const at::Tensor std = grid.std(1, /*unbiased=*/false, true);
  const at::Tensor z = (grid - mean) / (std + 1e-6);
  const at::Tensor matrix = MedianFilter(z, median_width).mean(0);  // [N, F]
  const auto frames = DtwRowSpans(-matrix);
  std::vector<std::pair<double, double>> out;
  for (const auto& [first, last] : frames)
    out.emplace_back(static_cast<double>(first) * kTimeGridSeconds, static_cast<double>(last) * kTimeGridSeconds);
  return out;
}

namespace {

struct WordSpan {
  size_t begin = 0, end = 0;  // character offsets in the decoded text
};

std::vector<WordSpan> SplitWords(const std::string& text) {
  std::vector<WordSpan> words;
  for (size_t i = 0; i < text.size();) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i >= text.size()) break;
    const size_t begin = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    words.push_back({begin, i});
  }
  return words;
}

}  // namespace

std::vector<WordTiming> GroupWords(const text::Tokenizer& tokenizer, const std::vector<int64_t>& ids,
                                   const std::vector<float>& logprobs,
                                   const std::vector<std::pair<double, double>>& spans) {
  MOME_CHECK(ids.size() == logprobs.size() && ids.size() == spans.size(), ErrorCode::kShapeMismatch,
             "GroupWords: ", ids.size(), " ids, ", logprobs.size(), " logprobs, ", spans.size(), " spans");
  const std::string text = tokenizer.Decode(ids, /*skip_special_tokens=*/true);
  const std::vector<WordSpan> words = SplitWords(text);
  std::vector<WordTiming> out(words.size());
  std::vector<double> sum(words.size(), 0.0);
  std::vector<int64_t> count(words.size(), 0);
  size_t done = 0;  // characters of `text` accounted for by the tokens so far
  std::vector<int64_t> prefix;
  for (size_t i = 0; i < ids.size(); ++i) {
    prefix.push_back(ids[i]);
    const size_t now = std::min(text.size(), tokenizer.Decode(prefix, true).size());
    size_t first = done;
    while (first < now && std::isspace(static_cast<unsigned char>(text[first]))) ++first;
    done = std::max(done, now);
    if (first >= now) continue;  // nothing visible: a special token or a space
    size_t w = 0;
    while (w + 1 < words.size() && words[w].end <= first) ++w;
    WordTiming& word = out[w];
    if (count[w] == 0) word.start = spans[i].first, word.end = spans[i].second;
    word.start = std::min(word.start, spans[i].first);
    word.end = std::max(word.end, spans[i].second);
    sum[w] += logprobs[i];
    ++count[w];
  }
  for (size_t w = 0; w < words.size(); ++w) {
    out[w].word = text.substr(words[w].begin, words[w].end - words[w].begin);
    out[w].confidence = count[w] > 0 ? std::exp(sum[w] / static_cast<double>(count[w])) : 0.0;
  }
  return out;
}

}  // namespace mome::decode
