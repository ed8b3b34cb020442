#include "text/unicode.h"

#include <algorithm>
#include <iterator>

namespace mome::text {
namespace {

struct CodePointRange {
  char32_t first;
  char32_t last;
};

#include "text/unicode_tables.inc"

template <size_t N>
bool InTable(const CodePointRange (&table)[N], char32_t c) {
  // First range whose end is >= c; c is inside when that range also starts at or before it.
  const auto* it = std::lower_bound(std::begin(table), std::end(table), c,
                                    [](const CodePointRange& r, char32_t value) { return r.last < value; });
  return it != std::end(table) && it->first <= c;
}

}  // namespace

bool IsLetter(char32_t c) {
  return c >= 0x80 ? InTable(kLetterRanges, c) : ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}
bool IsNumber(char32_t c) {
  return c >= 0x80 ? InTable(kNumberRanges, c) : (c >= '0' && c <= '9');
}
bool IsWhiteSpace(char32_t c) {
  return c >= 0x80 ? InTable(kSpaceRanges, c) : (c == ' ' || (c >= 0x09 && c <= 0x0D));
}
bool IsWordChar(char32_t c) {
  return InTable(kWordRanges, c);
}

}  // namespace mome::text
