// Word error rate (SPEC.md §4): lower-case, split on whitespace, word-level edit distance summed over the corpus,
// divided by the number of reference words.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace mome::eval {

struct EditCounts {
  int64_t sub = 0, del = 0, ins = 0, words = 0;
  int64_t errors() const { return sub + del + ins; }
  double wer_percent() const { return words > 0 ? 100.0 * static_cast<double>(errors()) / words : 0.0; }
  EditCounts& operator+=(const EditCounts& o);
};

enum class AlignmentCost {
  kLevenshtein,  // unit costs: the minimum number of edits (SPEC.md §4, the reference's editdistance)
  kSclite,       // NIST sclite's weights (substitution 4, insertion 3, deletion 3): its S/D/I exactly
};

std::vector<std::string> NormaliseWords(const std::string& text);  // lower-case (ASCII), whitespace split
EditCounts AlignWords(const std::vector<std::string>& ref, const std::vector<std::string>& hyp,
                      AlignmentCost cost = AlignmentCost::kLevenshtein);

// `key text` lines, or JSON lines with "key" and "text"; later duplicates are errors naming file and line.
std::map<std::string, std::string> ReadTranscripts(const std::string& path);

struct CorpusScore {
  EditCounts total;
  std::vector<std::string> missing;  // keys in the reference without a hypothesis (counted as all deleted)
  std::vector<std::string> extra;    // hypothesis keys not in the reference (ignored)
};
CorpusScore ScoreCorpus(const std::map<std::string, std::string>& ref, const std::map<std::string, std::string>& hyp,
                        AlignmentCost cost = AlignmentCost::kLevenshtein);

}  // namespace mome::eval
