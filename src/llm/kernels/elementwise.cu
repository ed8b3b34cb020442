// Rotary embedding and SwiGLU's silu(gate) * up, each in one CUDA kernel instead of four and two, with the
// roundings of HF's eager ops kept (every intermediate that PyTorch stores in the tensor dtype is rounded to it here
// too; __fmul_rn/__fadd_rn keep the compiler from fusing a multiply and an add into one rounding).
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "llm/kernels/device_math.cuh"
#include "llm/kernels/fused_kernels.h"

namespace mome::llm::kernels {
namespace {

using device::DispatchFloating;
using device::F;
using device::Round;

// out[b, t, h, i] = x * cos + swap_halves(x) * signed_sin, x strided in its first three dims.
template <typename T>
__global__ void RotaryKernel(const T* __restrict__ x, const T* __restrict__ cos, const T* __restrict__ sin,
                             T* __restrict__ out, int64_t total, int64_t t_len, int64_t heads, int64_t dim,
                             int64_t s0, int64_t s1, int64_t s2) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= total) return;
  const int64_t i = idx % dim;
  const int64_t h = (idx / dim) % heads;
  const int64_t t = (idx / (dim * heads)) % t_len;
  const int64_t b = idx / (dim * heads * t_len);
  const int64_t half = dim / 2;
  const T* row = x + b * s0 + t * s1 + h * s2;
  const int64_t bt = (b * t_len + t) * dim;
  const float a = Round<T>(__fmul_rn(F(row[i]), F(cos[bt + i])));
  const float c = Round<T>(__fmul_rn(F(row[i < half ? i + half : i - half]), F(sin[bt + i])));
  out[idx] = static_cast<T>(__fadd_rn(a, c));
}

// out[r, j] = silu(g) * u with g = in[r, j], u = in[r, n + j]; silu rounded to the dtype first (HF: act(g) * u).
template <typename T>
__global__ void SiluMulKernel(const T* __restrict__ in, T* __restrict__ out, int64_t total, int64_t n) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= total) return;
  const int64_t r = idx / n, j = idx % n;
  const float g = F(in[r * 2 * n + j]);
  const float s = Round<T>(g / (1.0f + expf(-g)));
  out[idx] = static_cast<T>(__fmul_rn(s, F(in[r * 2 * n + n + j])));
}

constexpr int kBlock = 256;

}  // namespace

at::Tensor Rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& signed_sin) {
  TORCH_CHECK(x.dim() == 4 && x.stride(3) == 1, "Rotary: x must be [B, T, H, D] with a contiguous last dim");
  const at::Tensor c = cos.contiguous(), s = signed_sin.contiguous();
  at::Tensor out = at::empty(x.sizes(), x.options());
  const int64_t total = out.numel();
  if (total == 0) return out;
  const c10::cuda::CUDAGuard guard(x.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const auto blocks = static_cast<unsigned>((total + kBlock - 1) / kBlock);
  DispatchFloating(x.scalar_type(), [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    RotaryKernel<T><<<blocks, kBlock, 0, stream>>>(
        static_cast<const T*>(x.data_ptr()), static_cast<const T*>(c.data_ptr()), static_cast<const T*>(s.data_ptr()),
        static_cast<T*>(out.data_ptr()), total, x.size(1), x.size(2), x.size(3), x.stride(0), x.stride(1),
        x.stride(2));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

at::Tensor SiluMul(const at::Tensor& gate_up) {
  const at::Tensor in = gate_up.contiguous();
  const int64_t n = in.size(-1) / 2;
  std::vector<int64_t> shape(in.sizes().begin(), in.sizes().end());
  shape.back() = n;
  at::Tensor out = at::empty(shape, in.options());
  const int64_t total = out.numel();
  if (total == 0) return out;
  const c10::cuda::CUDAGuard guard(in.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const auto blocks = static_cast<unsigned>((total + kBlock - 1) / kBlock);
  DispatchFloating(in.scalar_type(), [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    SiluMulKernel<T><<<blocks, kBlock, 0, stream>>>(static_cast<const T*>(in.data_ptr()),
                                                   static_cast<T*>(out.data_ptr()), total, n);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

}  // namespace mome::llm::kernels
