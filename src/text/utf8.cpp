#include "text/utf8.h"

namespace mome::text {
namespace {

bool InRange(unsigned char byte, unsigned char lo, unsigned char hi) {
  return byte >= lo && byte <= hi;
}

}  // namespace

Utf8Char DecodeUtf8At(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return {lead, 1, true};

  // Allowed range of the second byte and the number of continuation bytes, per the Unicode
  // well-formed table (Table 3-7): this rejects overlongs, surrogates and values past U+10FFFF.
  unsigned char lo = 0x80, hi = 0xBF;
  size_t continuation = 0;
  char32_t value = 0;
  if (InRange(lead, 0xC2, 0xDF)) {
    continuation = 1, value = lead & 0x1F;
  } else if (InRange(lead, 0xE0, 0xEF)) {
    continuation = 2, value = lead & 0x0F;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (InRange(lead, 0xF0, 0xF4)) {
    continuation = 3, value = lead & 0x07;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return {kNotACodePoint, 1, false};  // a stray continuation byte, C0/C1 or F5..FF
  }
  size_t length = 1;
  for (size_t k = 0; k < continuation; ++k) {
    const size_t i = pos + length;
    if (i >= text.size() || !InRange(byte(i), k == 0 ? lo : 0x80, k == 0 ? hi : 0xBF)) {
      return {kNotACodePoint, length, false};
    }
    value = (value << 6) | (byte(i) & 0x3F);
    ++length;
  }
  return {value, length, true};
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string Utf8Lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t pos = 0; pos < bytes.size();) {
    const Utf8Char c = DecodeUtf8At(bytes, pos);
    if (c.valid) {
      out.append(bytes.substr(pos, c.length));
    } else {
      AppendUtf8(0xFFFD, &out);
    }
    pos += c.length;
  }
  return out;
}

}  // namespace mome::text
