// An LRS2/LRS3 .txt transcript ("Text:  ...", "Conf:", the WORD START END ASDSCORE table).
#include "fuzz_harness.h"
#include "mome/data/lrs_transcript.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  return mome::fuzz::Guarded([&] { (void)mome::data::ParseLrsTranscriptText(text, "clip.txt"); });
}
