#include "text/split_patterns.h"

#include "text/unicode.h"
#include "text/utf8.h"

namespace mome::text {
namespace {

constexpr const char* kLlama3Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kGpt2Regex = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// The text decoded once, so the matchers can look ahead by characters.
struct Chars {
  std::vector<char32_t> cp;
  std::vector<size_t> offset;  // byte offset of each character, plus the end
};

Chars Decode(std::string_view text) {
  Chars chars;
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = DecodeUtf8At(text, pos);
    chars.cp.push_back(c.code_point);
    chars.offset.push_back(pos);
    pos += c.length;
  }
  chars.offset.push_back(text.size());
  return chars;
}

bool IsNewline(char32_t c) {
  return c == '\r' || c == '\n';
}
bool IsOther(char32_t c) {
  return !IsWhiteSpace(c) && !IsLetter(c) && !IsNumber(c);
}  // [^\s\p{L}\p{N}]

// Each matcher returns how many characters the alternative matches at i (0 = no match).
class Matcher {
 public:
  explicit Matcher(const std::vector<char32_t>& cp) : cp_(cp), n_(cp.size()) {}

  size_t Llama3(size_t i) const {
    if (size_t m = Contraction(i, /*ignore_case=*/true)) return m;
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (!IsNewline(cp_[i]) && !IsLetter(cp_[i]) && !IsNumber(cp_[i])) {
      if (size_t m = Run(i + 1, IsLetter)) return 1 + m;
    } else if (size_t m = Run(i, IsLetter)) {
      return m;
    }
    // \p{N}{1,3}
    if (size_t m = Run(i, IsNumber)) return m < 3 ? m : 3;
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    if (size_t m = OptionalSpaceThen(i, IsOther)) return m + Run(i + m, IsNewline);
    // \s*[\r\n]+ : the whitespace run up to and including its last newline, if it has one.
    const size_t space = Run(i, IsWhiteSpace);
    for (size_t k = space; k > 0; --k) {
      if (IsNewline(cp_[i + k - 1])) return k;
    }
    return SpaceRun(i, space);
  }

  size_t Gpt2(size_t i) const {
    if (size_t m = Contraction(i, /*ignore_case=*/false)) return m;
    if (size_t m = OptionalSpaceThen(i, IsLetter)) return m;
    if (size_t m = OptionalSpaceThen(i, IsNumber)) return m;
    if (size_t m = OptionalSpaceThen(i, IsOther)) return m;
    return SpaceRun(i, Run(i, IsWhiteSpace));
  }

 private:
  // Length of the run of characters from i that satisfy pred.
  template <typename Pred>
  size_t Run(size_t i, Pred pred) const {
    size_t k = i;
    while (k < n_ && pred(cp_[k])) ++k;
    return k - i;
  }

  // ' ?X+' : an optional ASCII space, then one or more X.
  template <typename Pred>
  size_t OptionalSpaceThen(size_t i, Pred pred) const {
    if (cp_[i] == ' ') {
      if (size_t m = Run(i + 1, pred)) return 1 + m;
    }
    return Run(i, pred);  // a space is never an X here, so this only helps when cp_[i] != ' '
  }

  // \s+(?!\S)|\s+ given the whitespace run length at i: the whole run when it ends the text or
  // is a single character; otherwise the run minus its last character, which stays to prefix
  // the next word (that is where (?!\S) succeeds after backtracking).
  size_t SpaceRun(size_t i, size_t space) const {
    if (space == 0) return 0;
    if (i + space == n_ || space == 1) return space;
    return space - 1;
  }

  bool CharIs(size_t i, char lower, bool ignore_case) const {
    if (i >= n_) return false;
    const char32_t c = cp_[i];
    if (c == static_cast<char32_t>(lower)) return true;
    if (!ignore_case) return false;
    // Unicode simple case folding: only s has a non-ASCII fellow among these letters (U+017F ſ).
    return c == static_cast<char32_t>(lower - 'a' + 'A') || (lower == 's' && c == 0x17F);
  }

  // 's|'t|'re|'ve|'m|'ll|'d (the alternatives start with different letters, so order is moot).
  size_t Contraction(size_t i, bool ignore_case) const {
    if (cp_[i] != '\'') return 0;
    for (const char* suffix : {"s", "t", "re", "ve", "m", "ll", "d"}) {
      size_t k = 0;
      while (suffix[k] != '\0' && CharIs(i + 1 + k, suffix[k], ignore_case)) ++k;
      if (suffix[k] == '\0') return 1 + k;
    }
    return 0;
  }

  const std::vector<char32_t>& cp_;
  const size_t n_;
};

}  // namespace

std::optional<SplitPattern> RecognizeSplitPattern(const std::string& regex) {
  if (regex == kLlama3Regex) return SplitPattern::kLlama3;
  if (regex == kGpt2Regex) return SplitPattern::kGpt2;
  return std::nullopt;
}

std::vector<std::string_view> SplitWithPattern(std::string_view text, SplitPattern pattern) {
  const Chars chars = Decode(text);
  const Matcher matcher(chars.cp);
  std::vector<std::string_view> pieces;
  const auto piece = [&](size_t from, size_t to) {
    pieces.push_back(text.substr(chars.offset[from], chars.offset[to] - chars.offset[from]));
  };
  size_t gap = 0;  // start of characters no alternative matched (none do today, but stay general)
  for (size_t i = 0; i < chars.cp.size();) {
    const size_t m = pattern == SplitPattern::kLlama3 ? matcher.Llama3(i) : matcher.Gpt2(i);
    if (m == 0) {
      ++i;
      continue;
    }
    if (gap < i) piece(gap, i);
    piece(i, i + m);
    i += m;
    gap = i;
  }
  if (gap < chars.cp.size()) piece(gap, chars.cp.size());
  return pieces;
}

}  // namespace mome::text
