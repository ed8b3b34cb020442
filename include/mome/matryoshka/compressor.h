// Matryoshka token compression (SPEC.md §1): encoder features are reduced by a rate k, either by averaging k
// consecutive frames (AvgPool1d(k), the remainder dropped) or by stacking them (concatenating k frames: d -> k*d,
// the remainder dropped). Encoder features are computed once per clip and compressed at every rate.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace mome::matryoshka {

enum class CompressionMode { kAvgPool, kStack };
CompressionMode ParseCompressionMode(const std::string& name);  // "avg-pool" | "stack"

struct Compressed {
  at::Tensor features;  // [B, T / k, d] (avg-pool) or [B, T / k, k * d] (stack)
  at::Tensor lengths;   // [B] valid output tokens per row: floor(length / k), windows wholly inside the clip
};

// features [B, T, d]; lengths [B] valid frames per row (undefined: all T). Rows shorter than the batch keep
// exactly the tokens they would have alone, so results do not depend on batch mates.
Compressed Compress(const at::Tensor& features, const at::Tensor& lengths, int64_t rate, CompressionMode mode);

// Output width of a compressor for input width d.
int64_t CompressedDim(int64_t dim, int64_t rate, CompressionMode mode);

}  // namespace mome::matryoshka
