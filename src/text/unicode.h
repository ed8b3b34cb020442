// The Unicode character classes used by HF tokenizers' split patterns (Oniguruma semantics).
// Tables come from tools/gen_unicode_tables.py; kNotACodePoint belongs to no class.
#pragma once

namespace mome::text {

bool IsLetter(char32_t c);      // \p{L}: Lu Ll Lt Lm Lo
bool IsNumber(char32_t c);      // \p{N}: Nd Nl No
bool IsWhiteSpace(char32_t c);  // \s: Unicode White_Space
bool IsWordChar(char32_t c);    // \w as Rust's regex crate has it (for added tokens' single_word)

}  // namespace mome::text
