// Hand-written CUDA kernels for the decoding hot path (src/llm/kernels/*.cu). Built only when CMake finds a CUDA
// compiler next to a CUDA LibTorch (MOME_WITH_CUDA_KERNELS); callers keep the eager ATen path otherwise.
#pragma once

#include <ATen/core/Tensor.h>

namespace mome::llm::kernels {

// Llama RMSNorm of a CUDA tensor (float32, bfloat16 or float16; weight of the same dtype), rounding as HF's
// eager LlamaRMSNorm. Not differentiable: use it where no gradient flows (callers check).
at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps);

}  // namespace mome::llm::kernels
