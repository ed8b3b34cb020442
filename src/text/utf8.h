// UTF-8 decoding that never fails: tokenizers must accept any bytes a caller hands them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mome::text {

// What DecodeUtf8At found at one position: a code point, or an ill-formed sequence.
struct Utf8Char {
  char32_t code_point = 0;  // kNotACodePoint when !valid
  size_t length = 0;        // bytes consumed, >= 1
  bool valid = false;
};

// Stands for bytes that are not UTF-8; no Unicode class contains it.
constexpr char32_t kNotACodePoint = 0xFFFFFFFF;

// Decodes the character at text[pos] (pos < text.size()). An ill-formed sequence consumes its
// "maximal subpart" (the lead byte and the continuation bytes that were still plausible), which is
// the unit Rust's String::from_utf8_lossy replaces by one U+FFFD.
Utf8Char DecodeUtf8At(std::string_view text, size_t pos);

void AppendUtf8(char32_t code_point, std::string* out);

// Bytes to valid UTF-8, each ill-formed maximal subpart replaced by U+FFFD (as from_utf8_lossy).
std::string Utf8Lossy(std::string_view bytes);

}  // namespace mome::text
