// Landmark files, both formats (JSON frames of 68 points, or text rows), then the interpolation of missing frames.
#include <torch/torch.h>

#include "fuzz_harness.h"
#include "mome/frontend/landmarks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mome::fuzz::WriteScratchFile("landmarks.json", data, size);
  return mome::fuzz::Guarded([&] {
    const auto track = mome::frontend::ReadLandmarks(path);
    (void)mome::frontend::InterpolateLandmarks(track.points, path).sum().item<float>();
  });
}
