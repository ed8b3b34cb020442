#include "mome/eval/timing_score.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "mome/eval/wer.h"

namespace mome::eval {
namespace {

double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double ShareBelow(const std::vector<double>& v, double limit) {
  if (v.empty()) return 0.0;
  return static_cast<double>(std::count_if(v.begin(), v.end(), [&](double x) { return x <= limit; })) /
         static_cast<double>(v.size());
}

}  // namespace

std::vector<int64_t> AlignHypothesisToReference(const std::vector<std::string>& ref,
                                                const std::vector<std::string>& hyp) {
  const size_t r = ref.size(), h = hyp.size();
  // cost[i][j]: edits between ref[0..i) and hyp[0..j); backtrace prefers matches, then substitutions.
  std::vector<std::vector<int64_t>> cost(r + 1, std::vector<int64_t>(h + 1, 0));
  for (size_t i = 0; i <= r; ++i) cost[i][0] = static_cast<int64_t>(i);
  for (size_t j = 0; j <= h; ++j) cost[0][j] = static_cast<int64_t>(j);
  for (size_t i = 1; i <= r; ++i)
    for (size_t j = 1; j <= h; ++j)
      cost[i][j] =
          std::min({cost[i - 1][j - 1] + (ref[i - 1] == hyp[j - 1] ? 0 : 1), cost[i - 1][j] + 1, cost[i][j - 1] + 1});
  std::vector<int64_t> aligned(h, -1);
  for (size_t i = r, j = h; i > 0 || j > 0;) {
    if (i > 0 && j > 0 && cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] == hyp[j - 1] ? 0 : 1)) {
      aligned[--j] = static_cast<int64_t>(--i);
    } else if (j > 0 && cost[i][j] == cost[i][j - 1] + 1) {
      --j;  // inserted
    } else {
      --i;  // deleted
    }
  }
  return aligned;
}

void TimingScore::Add(const std::vector<data::TimedWord>& reference,
                      const std::vector<decode::WordTiming>& hypothesis) {
  std::vector<std::string> ref, hyp;
  for (const auto& w : reference) ref.push_back(NormaliseWords(w.word).empty() ? "" : NormaliseWords(w.word)[0]);
  for (const auto& w : hypothesis) hyp.push_back(NormaliseWords(w.word).empty() ? "" : NormaliseWords(w.word)[0]);
  const std::vector<int64_t> aligned = AlignHypothesisToReference(ref, hyp);
  for (size_t j = 0; j < hyp.size(); ++j) {
    const bool correct = aligned[j] >= 0 && ref[static_cast<size_t>(aligned[j])] == hyp[j];
    (correct ? correct_confidence_ : wrong_confidence_).push_back(hypothesis[j].confidence);
    if (!correct) continue;
    const data::TimedWord& r = reference[static_cast<size_t>(aligned[j])];
    start_errors_.push_back(std::abs(hypothesis[j].start - r.start));
    end_errors_.push_back(std::abs(hypothesis[j].end - r.end));
  }
}

double TimingScore::ConfidenceAuc() const {
  if (correct_confidence_.empty() || wrong_confidence_.empty()) return -1;
  double wins = 0;
  for (double c : correct_confidence_)
    for (double w : wrong_confidence_) wins += c > w ? 1.0 : (c == w ? 0.5 : 0.0);
  return wins / (static_cast<double>(correct_confidence_.size()) * static_cast<double>(wrong_confidence_.size()));
}

std::string TimingScore::ToJson() const {
  const nlohmann::json j = {{"words_scored", start_errors_.size()},
                            {"start_mean_ms", 1000 * Mean(start_errors_)},
                            {"start_median_ms", 1000 * Median(start_errors_)},
                            {"end_mean_ms", 1000 * Mean(end_errors_)},
                            {"end_median_ms", 1000 * Median(end_errors_)},
                            {"start_within_100ms", ShareBelow(start_errors_, 0.1)},
                            {"start_within_200ms", ShareBelow(start_errors_, 0.2)},
                            {"confidence_auc", ConfidenceAuc()},
                            {"correct_words", correct_confidence_.size()},
                            {"wrong_words", wrong_confidence_.size()}};
  return j.dump();
}

}  // namespace mome::eval
