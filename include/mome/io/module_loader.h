// Fills a module's parameters from a checkpoint by name: parameter "a.b.weight" of the module is tensor
// prefix + "a.b.weight" in the checkpoint. Shapes must match exactly; data is converted to each parameter's
// dtype/device on copy (so bf16 files load into f32 compute and the other way round).
#pragma once

#include <torch/nn/module.h>

#include <string>
#include <vector>

#include "mome/io/safetensors.h"

namespace mome::io {

struct LoadReport {
  size_t loaded = 0;
  std::vector<std::string> unused;  // checkpoint tensors under `prefix` that no parameter took
};

// `expected_dtype` (optional, e.g. from config.json's torch_dtype): a tensor stored in another dtype is an error.
LoadReport LoadModuleWeights(torch::nn::Module& module, const CheckpointReader& reader, const std::string& prefix = "",
                             c10::optional<c10::ScalarType> expected_dtype = c10::nullopt);

}  // namespace mome::io
