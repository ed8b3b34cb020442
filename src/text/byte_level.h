// GPT-2's byte-level alphabet: every byte is shown as a printable character, so BPE can work on
// any byte string and decoding can recover the exact bytes.
#pragma once

#include <string>
#include <string_view>

namespace mome::text {

// The UTF-8 of the character that stands for each byte of `bytes`, concatenated.
std::string ByteLevelEncode(std::string_view bytes);

// HF's ByteLevel decoder for one token: if every character of it belongs to the byte-level
// alphabet, the bytes they stand for; otherwise (e.g. an added token "<a b>") its own bytes.
void AppendByteLevelDecoded(std::string_view token, std::string* bytes);

}  // namespace mome::text
