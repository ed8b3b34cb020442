#include "mome/matryoshka/compressor.h"

#include <ATen/ATen.h>

#include "mome/core/error.h"

namespace mome::matryoshka {

CompressionMode ParseCompressionMode(const std::string& name) {
  if (name == "avg-pool" || name == "avgpool") return CompressionMode::kAvgPool;
  if (name == "stack") return CompressionMode::kStack;
  MOME_FAIL(ErrorCode::kInvalidArgument, "compression mode '", name, "' is not one of avg-pool, stack");
}

int64_t CompressedDim(int64_t dim, int64_t rate, CompressionMode mode) {
  return mode == CompressionMode::kStack ? dim * rate : dim;
}

Compressed Compress(const at::Tensor& features, const at::Tensor& lengths, int64_t rate, CompressionMode mode) {
  MOME_CHECK(features.dim() == 3, ErrorCode::kShapeMismatch, "compressor input must be [B, T, d], got ",
             features.sizes());
  MOME_CHECK(rate >= 1, ErrorCode::kInvalidArgument, "compression rate must be >= 1, got ", rate);
  const int64_t b = features.size(0), t = features.size(1), d = features.size(2);
  const int64_t out_t = t / rate;
  MOME_CHECK(out_t >= 1, ErrorCode::kShapeMismatch, "a clip of ", t, " frames is shorter than compression rate ", rate);
  // Windows never straddle rows' ends (floor), so each row's tokens are those it gets when alone.
  const at::Tensor windows = features.narrow(1, 0, out_t * rate).reshape({b, out_t, rate, d});
  Compressed out;
  out.features = mode == CompressionMode::kAvgPool ? windows.mean(2) : windows.reshape({b, out_t, rate * d});
  const at::Tensor full = at::full({b}, t, at::TensorOptions().dtype(at::kLong).device(features.device()));
  out.lengths = (lengths.defined() ? lengths.to(at::kLong) : full).div(rate, "floor");
  return out;
}

}  // namespace mome::matryoshka
