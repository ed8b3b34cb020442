// The BPE model of HF tokenizers: turns one pre-token into ids by applying merges in rank order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mome::text {

struct BpeOptions {
  std::optional<std::string> unk_token;
  std::string continuing_subword_prefix;  // "" = none
  std::string end_of_word_suffix;         // "" = none
  bool fuse_unk = false;
  bool byte_fallback = false;  // unknown characters become <0xAB> tokens when those exist
  bool ignore_merges = false;  // a pre-token that is itself in the vocabulary is one id (Llama 3)
};

class BpeModel {
 public:
  using Vocab = std::unordered_map<std::string, int64_t>;
  using Merges = std::vector<std::pair<std::string, std::string>>;

  // `file` names the tokenizer.json in errors (merges that use unknown tokens, a missing unk token).
  BpeModel(Vocab vocab, const Merges& merges, BpeOptions options, std::string file);

  // Appends the ids of one pre-token (a whole word, already byte-level mapped where that applies).
  void Tokenize(std::string_view word, std::vector<int64_t>* ids) const;

  std::optional<int64_t> TokenToId(std::string_view token) const;
  const std::string* IdToToken(int64_t id) const;                                // nullptr for an id without token
  int64_t IdLimit() const { return static_cast<int64_t>(id_to_token_.size()); }  // largest id + 1

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  struct Symbol {
    int32_t id;
    int32_t prev;     // -1: none
    int32_t next;     // -1: none
    uint32_t length;  // bytes of the word it covers; 0 once merged into its left neighbour
  };

  static uint64_t PairKey(int64_t left, int64_t right) {
    return (static_cast<uint64_t>(left) << 32) | static_cast<uint64_t>(right);
  }
  const Merge* FindMerge(int32_t left, int32_t right) const;
  std::vector<Symbol> InitialSymbols(std::string_view word) const;
  int32_t UnkId() const;
  void MergeAll(std::vector<Symbol>* symbols) const;

  Vocab vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_token_;
  std::unordered_map<uint64_t, Merge> merges_;
  BpeOptions options_;
  std::string file_;
};

}  // namespace mome::text
