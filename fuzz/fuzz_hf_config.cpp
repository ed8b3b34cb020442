// Hugging Face config.json readers: the first byte picks Llama, Whisper or AV-HuBERT, the rest is the JSON text.
#include "fuzz_harness.h"
#include "mome/encoders/avhubert.h"
#include "mome/encoders/whisper.h"
#include "mome/llm/llama_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  return mome::fuzz::Guarded([&] {
    switch (data[0] % 3) {
      case 0: (void)mome::llm::LlamaConfig::FromJsonString(text, "config.json").ToJsonString(); break;
      case 1:
        (void)mome::encoders::WhisperEncoderConfig::FromJson(
            mome::fuzz::WriteScratchFile("config.json", data + 1, size - 1));
        break;
      default: (void)mome::encoders::AVHubertConfig::FromJson(text, "config.json").ToJson();
    }
  });
}
