// Whether bytes are well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). Text that
// goes into JSON or a tokenizer's training target is checked with it where it enters, so one bad file is
// reported and skipped instead of failing a whole run when it is written out.
#pragma once

#include <string_view>

namespace mome {

bool IsValidUtf8(std::string_view text);

}  // namespace mome
