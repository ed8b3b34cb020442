// Tokens added on top of a model's vocabulary (special tokens such as <|begin_of_text|> or
// <audio>): each is cut out of the text as one id before any other processing, as HF does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mome::text {

struct AddedToken {
  std::string content;
  int64_t id = -1;
  bool special = false;      // dropped by Decode(skip_special_tokens=true)
  bool single_word = false;  // only matches when not inside a word
  bool lstrip = false;       // swallows the whitespace on its left
  bool rstrip = false;       // swallows the whitespace on its right
  bool normalized = false;   // matched after the normalizer (second pass); see Split
};

// A stretch of the input: either text for the model, or one added token.
struct TextSegment {
  std::string_view text;
  int64_t added_id = -1;  // >= 0: this segment is the added token with that id
};

class AddedVocabulary {
 public:
  // Adds the token, or replaces the one with the same content.
  void Add(const AddedToken& token);

  const AddedToken* FindById(int64_t id) const;
  const AddedToken* FindByContent(std::string_view content) const;
  int64_t MaxId() const { return max_id_; }  // -1 when empty
  bool empty() const { return tokens_.empty(); }

  // Splits text as HF's AddedVocabulary does: first on the tokens with normalized=false, then
  // the remaining text on those with normalized=true; at each position the longest token wins,
  // and the search resumes after it. Empty segments are dropped.
  std::vector<TextSegment> Split(std::string_view text) const;

 private:
  void SplitPass(std::string_view text, bool normalized, std::vector<TextSegment>* out) const;

  std::vector<AddedToken> tokens_;
  std::unordered_map<std::string, size_t> by_content_;
  std::unordered_map<int64_t, size_t> by_id_;
  // Index of tokens_ by first byte, longest first, one table per pass.
  std::vector<size_t> by_first_byte_[2][256];
  int64_t max_id_ = -1;
};

}  // namespace mome::text
