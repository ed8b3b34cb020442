// Writing a safetensors file one tensor at a time, for outputs larger than memory (a whole compressed or
// reconstructed MoE model): the header needs every tensor's dtype and shape up front, so the caller declares them
// all first, then hands over the data in the same order. Atomic like io::SaveSafetensors (temp file + rename).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mome/core/atomic_file.h"

namespace mome::compress {

struct PlannedTensor {
  std::string name;
  c10::ScalarType dtype;
  std::vector<int64_t> shape;
};

class SafetensorsStreamWriter {
 public:
  // Writes the header; kInvalidArgument on a duplicate or reserved name.
  SafetensorsStreamWriter(const std::string& path, std::vector<PlannedTensor> plan,
                          const std::map<std::string, std::string>& metadata = {});
  // The next planned tensor (any device/layout); its name, dtype and shape must be the planned ones (kInternal).
  void Write(const std::string& name, const at::Tensor& tensor);
  // Every planned tensor must have been written (kInternal); then the file replaces `path`.
  void Commit();
  // The name of the tensor Write expects next ("" when all are written).
  const std::string& next_name() const;

 private:
  std::string path_;
  std::vector<PlannedTensor> plan_;
  size_t next_ = 0;
  AtomicFile file_;
};

}  // namespace mome::compress
