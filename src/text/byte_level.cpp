#include "text/byte_level.h"

#include <array>
#include <cstdint>

#include "text/utf8.h"

namespace mome::text {
namespace {

// Printable bytes stand for themselves; the others (controls, space, DEL, NBSP, soft hyphen) are
// moved, in byte order, to U+0100 upwards. The highest character used is U+0143.
constexpr char32_t kAlphabetEnd = 0x144;

struct ByteLevelTables {
  std::array<std::string, 256> byte_to_utf8;
  std::array<int16_t, kAlphabetEnd> char_to_byte;  // -1: not in the alphabet
};

bool StandsForItself(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

const ByteLevelTables& Tables() {
  static const ByteLevelTables tables = [] {
    ByteLevelTables t;
    t.char_to_byte.fill(-1);
    char32_t next_moved = 0x100;
    for (int b = 0; b < 256; ++b) {
      const char32_t c = StandsForItself(b) ? static_cast<char32_t>(b) : next_moved++;
      AppendUtf8(c, &t.byte_to_utf8[b]);
      t.char_to_byte[c] = static_cast<int16_t>(b);
    }
    return t;
  }();
  return tables;
}

}  // namespace

std::string ByteLevelEncode(std::string_view bytes) {
  const ByteLevelTables& t = Tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += t.byte_to_utf8[b];
  return out;
}

void AppendByteLevelDecoded(std::string_view token, std::string* bytes) {
  const ByteLevelTables& t = Tables();
  const size_t start = bytes->size();
  for (size_t pos = 0; pos < token.size();) {
    const Utf8Char c = DecodeUtf8At(token, pos);
    if (!c.valid || c.code_point >= kAlphabetEnd || t.char_to_byte[c.code_point] < 0) {
      bytes->resize(start);
      bytes->append(token);
      return;
    }
    bytes->push_back(static_cast<char>(t.char_to_byte[c.code_point]));
    pos += c.length;
  }
}

}  // namespace mome::text
