// tokenizer.json loading (BPE model, merges, pre-tokenizers, added tokens, post-processor), then encoding the text
// after the first NUL byte and decoding the ids back, and decoding ids the vocabulary may not have.
#include "fuzz_harness.h"
#include "mome/text/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts =
      mome::fuzz::SplitInput(data, size, std::string(1, '\0'));  // (structured bindings cannot be captured in C++17)
  const std::string& json = parts.first;
  const std::string& text = parts.second;
  const std::string path =
      mome::fuzz::WriteScratchFile("tokenizer.json", reinterpret_cast<const uint8_t*>(json.data()), json.size());
  return mome::fuzz::Guarded([&] {
    const auto tokenizer = mome::text::LoadTokenizer(path);
    const auto ids = tokenizer->Encode(text, true);
    (void)tokenizer->Decode(ids, false);
    (void)tokenizer->Decode({-1, 0, tokenizer->VocabSize(), INT64_MAX}, true);
  });
}
