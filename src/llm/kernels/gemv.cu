// The projections of a decoding step: y [rows, N] = x [rows, K] · W [N, K]^T for one or two rows (batch-1 greedy
// decoding, or two sequences), bf16/fp16 with fp32 accumulation. A profile of the CUDA-graph step of Llama-3.2-1B on
// an H100 showed cuBLAS streaming the weights at 1.7 TB/s for q|k|v and o_proj and 2.4–2.8 for the MLP and the LM
// head (3.35 peak), and the residual adds and the fp32 cast of the logits as kernels of their own. Here a warp
// computes two output features, its lanes with all their 16-byte weight loads of a stretch of K in flight at once,
// and the kernels after a projection are folded into it: the residual add after o_proj and down_proj (rounded as
// HF's separate add: T(residual + T(y))) and the logits' .float(). Streaming speed is cuBLAS's (2.6 TB/s for
// gate|up, 3.1 for the LM head); the gain is the kernels it removes.
// Measured and dropped (H100, Llama-3.2-1B, bf16, CUDA-graph step): SiLU·up computed in the down projection's
// prologue (every warp recomputes the activation: 30 µs against 14 + 2 for the two kernels); rows up to 16 (at 8 rows
// each weight chunk needs 8 input loads: twice cuBLAS's time), so callers keep cuBLAS beyond two rows; the RMSNorm
// before q|k|v and gate|up in the prologue (each warp's pass over x added ~3 µs a call, as much as the norm kernels
// it removed: 1.462 vs 1.487 ms/token, within run-to-run spread).
// Only the fp32 summation order differs from cuBLAS's (callers keep cuBLAS for fp32, where results are HF-exact).
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "llm/kernels/device_math.cuh"
#include "llm/kernels/fused_kernels.h"

namespace mome::llm::kernels {
namespace {

constexpr int kWarps = 4;     // warps a block
constexpr int kFeatures = 2;  // output features a warp: each input chunk it loads serves both
constexpr int kChunk = 8;     // elements of a 16-byte load
constexpr int kMaxRows = 2;

using device::F;
using device::Round;

// Eight values of a 16-byte chunk as floats.
template <typename T>
__device__ __forceinline__ void Unpack(const uint4& raw, float* out) {
  const T* v = reinterpret_cast<const T*>(&raw);
#pragma unroll
  for (int i = 0; i < kChunk; ++i) out[i] = F(v[i]);
}

struct GemvArgs {
  const void* x;
  int64_t x_stride;  // elements between input rows
  const void* w;
  const void* residual;  // [rows, N] contiguous (kResidual)
  void* y;               // [rows, N]: T, or float (kFloatOut)
  int rows, k_dim, n_dim;
};

enum class Mode { kPlain, kResidual, kFloatOut };

// The epilogue of output (m, n): rounded to T, plus the residual, stored as T or float.
template <typename T, Mode kMode>
__device__ __forceinline__ void Store(const GemvArgs& a, int m, int n, float sum) {
  const int64_t at = static_cast<int64_t>(m) * a.n_dim + n;
  float v = Round<T>(sum);
  if constexpr (kMode == Mode::kResidual) v = Round<T>(__fadd_rn(F(static_cast<const T*>(a.residual)[at]), v));
  if constexpr (kMode == Mode::kFloatOut) {
    static_cast<float*>(a.y)[at] = v;
  } else {
    static_cast<T*>(a.y)[at] = static_cast<T>(v);
  }
}

// Lane l of a warp reads chunks l, l + 32, ... of its two weight rows, kInFlight chunks a row before it uses any
// (a stretch of 2048 elements: one round trip for a row of Llama-3.2-1B's hidden size); kRows is 1 or 2.
template <typename T, int kRows, Mode kMode>
__global__ void __launch_bounds__(kWarps * 32) GemvKernel(GemvArgs a) {
  constexpr int kInFlight = 8, kStride = 32 * kChunk;
  const int lane = threadIdx.x % 32;
  const int first = (blockIdx.x * kWarps + threadIdx.x / 32) * kFeatures;
  if (first >= a.n_dim) return;  // the whole warp
  const T* x = static_cast<const T*>(a.x);
  const T* w[kFeatures];
#pragma unroll
  for (int f = 0; f < kFeatures; ++f)  // an odd last feature reads the row before it again; its sum is dropped
    w[f] = static_cast<const T*>(a.w) + static_cast<int64_t>(min(first + f, a.n_dim - 1)) * a.k_dim;
  float acc[kFeatures][kRows] = {};
  for (int stretch = 0; stretch < a.k_dim; stretch += kStride * kInFlight) {
    const int base = stretch + lane * kChunk;
    uint4 raw[kInFlight][kFeatures];
#pragma unroll
    for (int u = 0; u < kInFlight; ++u)
#pragma unroll
      for (int f = 0; f < kFeatures; ++f) {
        const int k = base + u * kStride;
        raw[u][f] = k < a.k_dim ? __ldcs(reinterpret_cast<const uint4*>(w[f] + k)) : make_uint4(0, 0, 0, 0);
      }
#pragma unroll
    for (int u = 0; u < kInFlight; ++u) {
      const int k = base + u * kStride;
      if (k >= a.k_dim) break;
      float wf[kFeatures][kChunk];
#pragma unroll
      for (int f = 0; f < kFeatures; ++f) Unpack<T>(raw[u][f], wf[f]);
#pragma unroll
      for (int m = 0; m < kRows; ++m) {
        if (m >= a.rows) break;
        float xv[kChunk];
        Unpack<T>(__ldg(reinterpret_cast<const uint4*>(x + m * a.x_stride + k)), xv);
#pragma unroll
        for (int f = 0; f < kFeatures; ++f)
#pragma unroll
          for (int i = 0; i < kChunk; ++i) acc[f][m] = fmaf(wf[f][i], xv[i], acc[f][m]);
      }
    }
  }
#pragma unroll
  for (int f = 0; f < kFeatures; ++f)
#pragma unroll
    for (int m = 0; m < kRows; ++m)
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) acc[f][m] += __shfl_xor_sync(0xffffffffu, acc[f][m], o);
        // Lane (f * kRows + m) writes output (m, first + f).
#pragma unroll
  for (int f = 0; f < kFeatures; ++f)
#pragma unroll
    for (int m = 0; m < kRows; ++m)
      if (lane == f * kRows + m && m < a.rows && first + f < a.n_dim) Store<T, kMode>(a, m, first + f, acc[f][m]);
}

template <typename T, Mode kMode>
void Launch(const GemvArgs& a, cudaStream_t stream) {
  const dim3 grid((a.n_dim + kWarps * kFeatures - 1) / (kWarps * kFeatures)), block(kWarps * 32);
  if (a.rows == 1) {
    GemvKernel<T, 1, kMode><<<grid, block, 0, stream>>>(a);
  } else {
    GemvKernel<T, 2, kMode><<<grid, block, 0, stream>>>(a);
  }
}

bool Aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

}  // namespace

bool DecodeLinearSupports(const at::Tensor& x, const at::Tensor& w) {
  if (!x.is_cuda() || x.dim() < 1 || w.dim() != 2 || x.scalar_type() != w.scalar_type() || x.device() != w.device())
    return false;
  if (x.scalar_type() != at::kBFloat16 && x.scalar_type() != at::kHalf) return false;
  const int64_t k = w.size(1);
  if (x.size(-1) != k || k % kChunk != 0 || !w.is_contiguous() || x.stride(-1) != 1) return false;
  const int64_t rows = x.numel() / k;
  if (rows < 1 || rows > kMaxRows || w.size(0) > std::numeric_limits<int>::max() / 2) return false;
  // Rows may be strided (the last position of a prefill): one stride between them, 16-byte aligned.
  const at::Tensor rows_view = x.reshape({rows, k});
  if (rows_view.data_ptr() != x.data_ptr()) return false;  // reshape had to copy: no single row stride
  return rows_view.stride(1) == 1 && rows_view.stride(0) % kChunk == 0 && Aligned16(x.data_ptr()) &&
         Aligned16(w.data_ptr());
}

at::Tensor DecodeLinear(const at::Tensor& x, const at::Tensor& w, const DecodeLinearExtras& extras) {
  TORCH_CHECK(DecodeLinearSupports(x, w), "DecodeLinear: unsupported input ", x.sizes(), " or weight ", w.sizes());
  const int64_t n = w.size(0), k = w.size(1), rows = x.numel() / k;
  TORCH_CHECK(!(extras.residual.defined() && extras.float_out), "DecodeLinear: a residual or fp32 output, not both");
  const at::Tensor rows_view = x.reshape({rows, k});
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = n;
  at::Tensor y = at::empty(shape, x.options().dtype(extras.float_out ? at::kFloat : x.scalar_type()));
  at::Tensor res;
  if (extras.residual.defined()) {
    TORCH_CHECK(extras.residual.numel() == rows * n && extras.residual.scalar_type() == x.scalar_type(),
                "DecodeLinear: residual must be [", rows, ", ", n, "] of the input's dtype");
    res = extras.residual.contiguous();
  }
  const GemvArgs args{
      rows_view.data_ptr(), rows_view.stride(0),    w.data_ptr(),        res.defined() ? res.data_ptr() : nullptr,
      y.data_ptr(),         static_cast<int>(rows), static_cast<int>(k), static_cast<int>(n)};
  const c10::cuda::CUDAGuard guard(x.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  device::DispatchFloating(x.scalar_type(), [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if constexpr (!std::is_same_v<T, float>) {
      if (extras.float_out) {
        Launch<T, Mode::kFloatOut>(args, stream);
      } else if (res.defined()) {
        Launch<T, Mode::kResidual>(args, stream);
      } else {
        Launch<T, Mode::kPlain>(args, stream);
      }
    }
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return y;
}

}  // namespace mome::llm::kernels
