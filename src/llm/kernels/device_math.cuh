// What every kernel file of llm/kernels shares: reading a value of the storage dtype as float, rounding a float
// through the storage dtype (as PyTorch stores an intermediate), and calling a templated launch for a tensor's dtype.
#pragma once

#include <ATen/ATen.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace mome::llm::kernels::device {

template <typename T>
__device__ __forceinline__ float F(T v) {
  return static_cast<float>(v);
}

template <typename T>
__device__ __forceinline__ float Round(float v) {
  return static_cast<float>(static_cast<T>(v));
}

// fn(T* tag) with T the CUDA type of `type`: __nv_bfloat16, __half, else float.
template <typename Fn>
void DispatchFloating(c10::ScalarType type, Fn&& fn) {
  switch (type) {
    case at::kBFloat16: fn(static_cast<__nv_bfloat16*>(nullptr)); break;
    case at::kHalf: fn(static_cast<__half*>(nullptr)); break;
    default: fn(static_cast<float*>(nullptr));
  }
}

}  // namespace mome::llm::kernels::device
