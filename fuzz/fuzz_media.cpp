// Media demuxing and decoding from memory, as the server decodes an upload: any container FFmpeg reads, audio
// resampled to 16 kHz mono, video to 25 fps grey frames. Bounded so that one input cannot run for minutes.
#include <torch/torch.h>

#include "fuzz_harness.h"
#include "mome/io/media.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto bytes = std::make_shared<const std::string>(reinterpret_cast<const char*>(data), size);
  mome::io::MediaDecodeOptions options;
  options.max_seconds = 30;
  return mome::fuzz::Guarded([&] {
    const auto media = mome::io::DecodeMediaFromMemory(bytes, "upload", options);
    if (media.audio.numel() > 0) (void)media.audio.sum().item<float>();
    if (media.video.numel() > 0) (void)media.video.sum().item<float>();
  });
}
