// The one place that knows which LibTorch we are built against (Debian's 1.13 on CPU, 2.x with CUDA).
#pragma once

#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
// at::scaled_dot_product_attention (flash / memory-efficient kernels) exists from 2.0 on.
#define MOME_HAS_SDPA 1
#else
#define MOME_HAS_SDPA 0
#endif

namespace mome::compat {
constexpr int kTorchMajor = TORCH_VERSION_MAJOR;
constexpr int kTorchMinor = TORCH_VERSION_MINOR;
}  // namespace mome::compat
