// Corpus listings: the first byte picks a JSONL clip manifest, an auto_avsr label CSV, or one line of a prepared
// corpus's manifest; the rest is the file.
#include "fuzz_harness.h"
#include "mome/data/corpus.h"
#include "mome/data/prepared.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t* body = data + 1;
  const size_t body_size = size - 1;
  return mome::fuzz::Guarded([&] {
    switch (data[0] % 3) {
      case 0: (void)mome::data::ListManifest(mome::fuzz::WriteScratchFile("clips.jsonl", body, body_size)); break;
      case 1: {
        const std::string csv = mome::fuzz::WriteScratchFile("labels.csv", body, body_size);
        (void)mome::data::ListAutoAvsr(mome::fuzz::ScratchDir().string(), csv);
        break;
      }
      default:
        (void)mome::data::PreparedEntryFromJson(std::string(reinterpret_cast<const char*>(body), body_size),
                                                "manifest.jsonl:1");
    }
  });
}
