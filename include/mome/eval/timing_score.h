// How good word timestamps and confidences are, against a reference word table: hypothesis words are aligned to
// the reference by the unit-cost Levenshtein alignment mome_wer uses; a hypothesis word is correct when it is
// aligned to an equal reference word. Start/end errors are measured on correct words; the confidence AUC is the
// area under the ROC curve of confidence for telling correct hypothesis words from wrong ones (substituted or
// inserted), computed as the Mann-Whitney statistic (ties count half).
#pragma once

#include <string>
#include <vector>

#include "mome/data/lrs_transcript.h"
#include "mome/decode/word_timing.h"

namespace mome::eval {

// For each hypothesis word, the index of the reference word it is aligned to (substitution or match), or -1
// (inserted). Words compare after NormaliseWords (lower case).
std::vector<int64_t> AlignHypothesisToReference(const std::vector<std::string>& ref,
                                                const std::vector<std::string>& hyp);

class TimingScore {
 public:
  void Add(const std::vector<data::TimedWord>& reference, const std::vector<decode::WordTiming>& hypothesis);
  // {"words_scored", "start_mean_ms", "start_median_ms", "end_mean_ms", "end_median_ms", "start_within_100ms",
  //  "start_within_200ms", "confidence_auc", "correct_words", "wrong_words"}: a JSON object's text.
  std::string ToJson() const;
  double ConfidenceAuc() const;  // -1 when either class is empty
  size_t words_scored() const { return start_errors_.size(); }

 private:
  std::vector<double> start_errors_, end_errors_;  // seconds, absolute, of correct words
  std::vector<double> correct_confidence_, wrong_confidence_;
};

}  // namespace mome::eval
