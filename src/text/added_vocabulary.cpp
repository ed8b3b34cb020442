#include "text/added_vocabulary.h"

#include <algorithm>

#include "text/unicode.h"
#include "text/utf8.h"

namespace mome::text {
namespace {

// The character that ends text[0, end), or kNotACodePoint.
char32_t LastChar(std::string_view text, size_t end) {
  size_t start = end;
  while (start > 0 && end - start < 4) {
    --start;
    if ((static_cast<unsigned char>(text[start]) & 0xC0) != 0x80) break;
  }
  if (start == end) return kNotACodePoint;
  const Utf8Char c = DecodeUtf8At(text, start);
  return c.valid && start + c.length == end ? c.code_point : kNotACodePoint;
}

char32_t FirstChar(std::string_view text, size_t start) {
  return start < text.size() ? DecodeUtf8At(text, start).code_point : kNotACodePoint;
}

// Start of the whitespace run that ends at `end` (HF's \s*$ on the text before a token).
size_t WhitespaceStartBefore(std::string_view text, size_t end) {
  while (end > 0) {
    const char32_t c = LastChar(text, end);
    if (!IsWhiteSpace(c)) break;
    std::string utf8;
    AppendUtf8(c, &utf8);
    end -= utf8.size();
  }
  return end;
}

// End of the whitespace run that starts at `start`.
size_t WhitespaceEndAfter(std::string_view text, size_t start) {
  while (start < text.size()) {
    const Utf8Char c = DecodeUtf8At(text, start);
    if (!c.valid || !IsWhiteSpace(c.code_point)) break;
    start += c.length;
  }
  return start;
}

}  // namespace

void AddedVocabulary::Add(const AddedToken& token) {
  if (token.content.empty()) return;  // HF ignores empty tokens
  auto found = by_content_.find(token.content);
  if (found != by_content_.end()) {
    by_id_.erase(tokens_[found->second].id);
    tokens_[found->second] = token;
  } else {
    by_content_[token.content] = tokens_.size();
    tokens_.push_back(token);
  }
  by_id_[token.id] = by_content_[token.content];
  max_id_ = std::max(max_id_, token.id);
  for (auto& pass : by_first_byte_) {
    for (auto& bucket : pass) bucket.clear();
  }
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const auto first = static_cast<unsigned char>(tokens_[i].content[0]);
    by_first_byte_[tokens_[i].normalized ? 1 : 0][first].push_back(i);
  }
  for (auto& pass : by_first_byte_) {
    for (auto& bucket : pass) {
      std::stable_sort(bucket.begin(), bucket.end(),
                       [&](size_t a, size_t b) { return tokens_[a].content.size() > tokens_[b].content.size(); });
    }
  }
}

const AddedToken* AddedVocabulary::FindById(int64_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocabulary::FindByContent(std::string_view content) const {
  auto it = by_content_.find(std::string(content));
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

std::vector<TextSegment> AddedVocabulary::Split(std::string_view text) const {
  std::vector<TextSegment> first;
  SplitPass(text, /*normalized=*/false, &first);
  std::vector<TextSegment> out;
  for (const TextSegment& segment : first) {
    if (segment.added_id >= 0) {
      out.push_back(segment);
    } else {
      SplitPass(segment.text, /*normalized=*/true, &out);
    }
  }
  return out;
}

void AddedVocabulary::SplitPass(std::string_view text, bool normalized, std::vector<TextSegment>* out) const {
  const auto& buckets = by_first_byte_[normalized ? 1 : 0];
  const auto emit = [&](size_t from, size_t to, int64_t id) {
    if (from < to) out->push_back({text.substr(from, to - from), id});
  };
  size_t emitted = 0;  // end of what is already in `out`
  for (size_t pos = 0; pos < text.size();) {
    const AddedToken* match = nullptr;
    for (size_t index : buckets[static_cast<unsigned char>(text[pos])]) {
      const std::string& content = tokens_[index].content;
      if (text.compare(pos, content.size(), content) == 0) {
        match = &tokens_[index];
        break;  // the bucket is sorted longest first
      }
    }
    if (match == nullptr) {
      ++pos;
      continue;
    }
    size_t start = pos;
    size_t stop = pos + match->content.size();
    pos = stop;  // the search goes on after the match, whether or not it is used
    if (match->single_word && ((start > 0 && IsWordChar(LastChar(text, start))) ||
                               (stop < text.size() && IsWordChar(FirstChar(text, stop))))) {
      continue;
    }
    if (match->lstrip) start = std::max(WhitespaceStartBefore(text, start), emitted);
    if (match->rstrip) {
      stop = WhitespaceEndAfter(text, stop);
      pos = stop;  // HF resumes inside the stripped space; we do not, so segments never overlap
    }
    emit(emitted, start, -1);
    emit(start, stop, match->id);
    emitted = stop;
  }
  emit(emitted, text.size(), -1);
}

}  // namespace mome::text
