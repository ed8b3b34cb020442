// Hand-written CUDA kernels for the decoding hot path (src/llm/kernels/*.cu). Built only when CMake finds a CUDA
// compiler next to a CUDA LibTorch (MOME_WITH_CUDA_KERNELS); callers keep the eager ATen path otherwise.
#pragma once

#include <ATen/core/Tensor.h>

namespace mome::llm::kernels {

// Llama RMSNorm of a CUDA tensor (float32, bfloat16 or float16; weight of the same dtype), rounding as HF's
// eager LlamaRMSNorm. Not differentiable: use it where no gradient flows (callers check).
at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps);

// HF's rotary x * cos + rotate_half(x) * sin as x * cos + swap_halves(x) * signed_sin (llama.cpp), one kernel.
// x [B, T, H, D] with a contiguous last dim (any strides before it); cos, signed_sin [B, T, 1, D]. Returns a new
// contiguous tensor. Not differentiable.
at::Tensor Rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& signed_sin);

// SwiGLU's silu(gate) * up from the packed [..., 2n] gate|up projection, one kernel; [..., n]. Not differentiable.
at::Tensor SiluMul(const at::Tensor& gate_up);

}  // namespace mome::llm::kernels
