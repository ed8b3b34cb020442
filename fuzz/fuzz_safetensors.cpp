// The safetensors reader: header length, JSON header, dtypes, shapes and offsets against the file's size; then every
// tensor it accepted is read, so an offset it should have refused is a sanitizer report, not a quiet wrong value.
#include <torch/torch.h>

#include "fuzz_harness.h"
#include "mome/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mome::fuzz::WriteScratchFile("model.safetensors", data, size);
  return mome::fuzz::Guarded([&] {
    const auto file = mome::io::SafetensorsFile::Open(path);
    for (const auto& name : file->Names()) {
      const at::Tensor t = file->Get(name);
      if (t.numel() > 0) (void)t.flatten()[t.numel() - 1].item<double>();  // touches the tensor's last byte
    }
  });
}
