// Hand-written matchers for the two split regexes byte-level BPE tokenizers use (there is no regex
// engine with \p{L} at hand). They reproduce Oniguruma's leftmost-first alternation, which HF
// tokenizers uses, including the backtracking of \s+(?!\S).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mome::text {

enum class SplitPattern {
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  kLlama3,
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kGpt2,
};

// The pattern a tokenizer.json regex string denotes, or nullopt for any other regex.
std::optional<SplitPattern> RecognizeSplitPattern(const std::string& regex);

// Splits text into consecutive pieces that cover it, matches and the gaps between them alike
// (HF Split with behavior "Isolated"). Bytes that are not UTF-8 count as punctuation-like
// characters, so any input is accepted.
std::vector<std::string_view> SplitWithPattern(std::string_view text, SplitPattern pattern);

}  // namespace mome::text
