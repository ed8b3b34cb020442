// The WAV reader (RIFF chunks, fmt fields, PCM/float sample formats, data sizes against the file).
#include <torch/torch.h>

#include "fuzz_harness.h"
#include "mome/io/wav.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mome::fuzz::WriteScratchFile("clip.wav", data, size);
  return mome::fuzz::Guarded([&] {
    const auto audio = mome::io::ReadWav(path);
    if (audio.samples.numel() > 0) (void)audio.samples.sum().item<float>();
  });
}
