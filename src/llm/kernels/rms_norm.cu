// Llama's RMSNorm in one CUDA kernel, with the rounding of HF's eager LlamaRMSNorm kept:
//   h = float(x); r = rsqrt(mean(h^2) + eps); y = T(h * r); out = T(float(w) * float(y))
// (for T = bf16/fp16 the normalised value is rounded to T before the weight multiply, as HF does). The eager form
// is eight kernels per norm; in a CUDA-graph decoding step of a 1B model, two norms per layer were about a third of
// all kernels. Only the order of the fp32 sum of squares differs from PyTorch's reduction.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "llm/kernels/device_math.cuh"
#include "llm/kernels/fused_kernels.h"

namespace mome::llm::kernels {
namespace {

constexpr int kThreads = 256;

using device::F;

template <typename T>
__global__ void RmsNormKernel(const T* __restrict__ x, const T* __restrict__ w, T* __restrict__ out, int64_t n,
                              float eps) {
  const int64_t row = blockIdx.x;
  const T* xr = x + row * n;
  T* outr = out + row * n;
  float sum = 0.f;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) {
    const float h = F(xr[i]);
    sum += h * h;
  }
  // Block reduction: warps by shuffle, then the first warp over the warp sums.
  __shared__ float warp_sums[kThreads / 32];
  for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, offset);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = sum;
  __syncthreads();
  __shared__ float scale;
  if (warp == 0) {
    sum = lane < kThreads / 32 ? warp_sums[lane] : 0.f;
    for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, offset);
    if (lane == 0) scale = rsqrtf(sum / static_cast<float>(n) + eps);
  }
  __syncthreads();
  const float r = scale;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) {
    const T normed = static_cast<T>(F(xr[i]) * r);
    outr[i] = static_cast<T>(F(w[i]) * F(normed));
  }
}

}  // namespace

at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const at::Tensor input = x.contiguous();
  const int64_t n = input.size(-1);
  const int64_t rows = input.numel() / n;
  at::Tensor out = at::empty_like(input);
  if (rows == 0) return out;
  const c10::cuda::CUDAGuard guard(input.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const at::Tensor w = weight.contiguous();
  const float e = static_cast<float>(eps);
  switch (input.scalar_type()) {
    case at::kBFloat16:
      RmsNormKernel<__nv_bfloat16><<<rows, kThreads, 0, stream>>>(
          reinterpret_cast<const __nv_bfloat16*>(input.data_ptr()), reinterpret_cast<const __nv_bfloat16*>(w.data_ptr()),
          reinterpret_cast<__nv_bfloat16*>(out.data_ptr()), n, e);
      break;
    case at::kHalf:
      RmsNormKernel<__half><<<rows, kThreads, 0, stream>>>(reinterpret_cast<const __half*>(input.data_ptr()),
                                                            reinterpret_cast<const __half*>(w.data_ptr()),
                                                            reinterpret_cast<__half*>(out.data_ptr()), n, e);
      break;
    default:
      RmsNormKernel<float><<<rows, kThreads, 0, stream>>>(input.data_ptr<float>(), w.data_ptr<float>(),
                                                           out.data_ptr<float>(), n, e);
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

}  // namespace mome::llm::kernels
