// A SentencePiece tokenizer.model through libmome's loader (the dlopened shim), then encode and decode as above.
#include "fuzz_harness.h"
#include "mome/text/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto [model, text] = mome::fuzz::SplitInput(data, size, "\n--text--\n");
  const std::string path =
      mome::fuzz::WriteScratchFile("tokenizer.model", reinterpret_cast<const uint8_t*>(model.data()), model.size());
  return mome::fuzz::Guarded([&] {
    const auto tokenizer = mome::text::LoadTokenizer(path);
    const auto ids = tokenizer->Encode(text, true);
    (void)tokenizer->Decode(ids, false);
    (void)tokenizer->Decode({-1, 0, tokenizer->VocabSize(), INT64_MAX}, true);
  });
}
