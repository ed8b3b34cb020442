// Compressing the experts of a checkpoint with MoBE (mome_compress): layer after layer, each finished layer kept as a
// part file (OUT.parts/layer_L.safetensors) with its settings and input fingerprint, so a re-run skips it — or
// recomputes it, saying why, when either differs. The output (and --dense-out) is then written one tensor at a time
// from the parts, so no step holds more than one layer. Part files are written atomically: a killed run leaves
// complete parts or none.
#pragma once

#include <c10/core/Device.h>

#include <functional>
#include <string>
#include <vector>

#include "mome/compress/mobe.h"

namespace mome::compress {

struct CompressRequest {
  std::string input;            // checkpoint file or folder
  std::string arch;             // qwen3_moe | deepseek_v3 | mixtral | mome
  std::vector<int64_t> layers;  // empty: every layer with experts
  MobeOptions mobe;
  c10::Device device = c10::kCPU;
  std::string out;        // compressed safetensors
  std::string dense_out;  // reconstructed experts under the input's names ("" = none)
  std::string report;     // per-layer JSON report ("" = none)
};

// Runs the whole compression; `progress` gets one line per layer (what was done, the errors, the time).
// Returns the number of layers in the output.
size_t CompressCheckpoint(const CompressRequest& request, const std::function<void(const std::string&)>& progress);

}  // namespace mome::compress
