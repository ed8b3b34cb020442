// Kernels of the one-token decoding step (a profile of the CUDA-graph step of Llama-3.2-1B on an H100 showed, per
// layer, a cuDNN SDPA call of ~8 µs over ~330 cached keys, two index_copy writes into the cache and a rotary kernel
// of ~2.4 µs each, and per token a log_softmax + argmax of ~56 µs: one block reducing 128k logits). Here:
//   RotaryIntoCache  rotary of q and k from the packed projection, k and v written at the cache slot: one kernel
//   DecodeAttention  softmax(q k^T * scale + bias) v for the one new token, a block per (sequence, kv head);
//                    opt-in (llama.cpp says why): it needs a split over the keys to use more than B x KV SMs
//   GreedyPick       argmax and its log-probability per row, one pass over the logits
// (A fused residual add + RMSNorm was tried: at batch 1 one block doing both took 4.3 µs against 1.3 + 2.6 for the two
// kernels, so the layer keeps them apart.) Rotary rounds as HF's eager ops; attention
// keeps the probabilities in fp32 (the fused SDPA kernels round them to the dtype before P·V), so it agrees with
// SDPA to the dtype's rounding, not bit for bit.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cfloat>

#include "llm/kernels/device_math.cuh"
#include "llm/kernels/fused_kernels.h"

namespace mome::llm::kernels {
namespace {

constexpr int kBlock = 256;
constexpr int kPickBlock = 1024;
constexpr int kMaxGroups = 8;

using device::DispatchFloating;
using device::F;
using device::Round;

// qkv [B, heads + 2 kv_heads, D] (one token): q rotated into q_out [B, heads, D]; k rotated and v copied into the
// caches [B, kv_heads, capacity, D] at *slot. Rotary rounds as RotaryKernel (elementwise.cu) does.
template <typename T>
__global__ void RotaryIntoCacheKernel(const T* __restrict__ qkv, const T* __restrict__ cos, const T* __restrict__ sin,
                                      const int64_t* __restrict__ slot, T* __restrict__ q_out, T* __restrict__ k_cache,
                                      T* __restrict__ v_cache, int heads, int kv_heads, int dim, int64_t capacity,
                                      int64_t total) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= total) return;
  const int rows = heads + 2 * kv_heads;
  const int i = static_cast<int>(idx % dim);
  const int h = static_cast<int>((idx / dim) % rows);
  const int64_t b = idx / (static_cast<int64_t>(dim) * rows);
  const T* row = qkv + (b * rows + h) * dim;
  if (h >= heads + kv_heads) {
    const int64_t kv = b * kv_heads + (h - heads - kv_heads);
    v_cache[(kv * capacity + *slot) * dim + i] = row[i];
    return;
  }
  const int half = dim / 2;
  const float a = Round<T>(__fmul_rn(F(row[i]), F(cos[b * dim + i])));
  const float c = Round<T>(__fmul_rn(F(row[i < half ? i + half : i - half]), F(sin[b * dim + i])));
  const T value = static_cast<T>(__fadd_rn(a, c));
  if (h < heads) {
    q_out[(b * heads + h) * dim + i] = value;
  } else {
    k_cache[((b * kv_heads + (h - heads)) * capacity + *slot) * dim + i] = value;
  }
}

// 16-byte loads of T turned into floats: a thread reads a whole cached row in a few independent loads instead of
// one dependent load per element (the first version of ScoreKeys, 64 scalar loads a key, took ~70 µs a layer).
template <typename T>
struct Chunk {
  static constexpr int kSize = 16 / sizeof(T);
  __device__ static void Load(const T* p, float* out) {
    const uint4 raw = *reinterpret_cast<const uint4*>(p);
    const T* v = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int i = 0; i < kSize; ++i) out[i] = F(v[i]);
  }
};

// Scores of the `groups` query rows of one kv head against every cached key: scores[g * keys + s]. A thread per
// key; rows are 16-byte aligned when dim is a multiple of Chunk<T>::kSize (checked by the host).
template <typename T>
__device__ void ScoreKeys(const float* q, const T* k, const T* bias, float* scores, int groups, int dim, int64_t keys,
                          float scale) {
  constexpr int kSize = Chunk<T>::kSize;
  for (int64_t s = threadIdx.x; s < keys; s += blockDim.x) {
    float acc[kMaxGroups] = {};
    const T* key = k + s * dim;
#pragma unroll 4
    for (int c = 0; c < dim; c += kSize) {
      float kd[kSize];
      Chunk<T>::Load(key + c, kd);
#pragma unroll
      for (int i = 0; i < kSize; ++i)
#pragma unroll
        for (int g = 0; g < kMaxGroups; ++g)
          if (g < groups) acc[g] = fmaf(q[g * dim + c + i], kd[i], acc[g]);
    }
    const float b = F(bias[s]);
#pragma unroll
    for (int g = 0; g < kMaxGroups; ++g)  // unrolled with a guard: acc indexed at run time would live in local memory
      if (g < groups) scores[g * keys + s] = acc[g] * scale + b;
  }
}

// Each warp turns one group's scores into probabilities (fp32, max-subtracted as PyTorch's softmax).
__device__ void SoftmaxRows(float* scores, int groups, int64_t keys) {
  const int lane = threadIdx.x % 32;
  for (int g = threadIdx.x / 32; g < groups; g += blockDim.x / 32) {
    float* row = scores + g * keys;
    float m = -FLT_MAX;
    for (int64_t s = lane; s < keys; s += 32) m = fmaxf(m, row[s]);
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    float sum = 0.f;
    for (int64_t s = lane; s < keys; s += 32) {
      row[s] = expf(row[s] - m);
      sum += row[s];
    }
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    const float inv = 1.f / sum;
    for (int64_t s = lane; s < keys; s += 32) row[s] *= inv;
  }
}

// out[g, d] = sum_s p[g, s] v[s, d]: thread (part, pair) sums keys part, part + parts, ... over two adjacent dims
// (a warp reads 32 pairs of a row at once); the parts are then added.
template <typename T>
__device__ void WeightValues(const float* p, const T* v, float* partial, T* out, int groups, int dim, int64_t keys) {
  const int pairs = dim / 2, parts = blockDim.x / pairs;
  const int pair = threadIdx.x % pairs, part = threadIdx.x / pairs, d0 = pair * 2;
  if (part < parts) {
    float acc[kMaxGroups][2] = {};
#pragma unroll 4
    for (int64_t s = part; s < keys; s += parts) {
      const float v0 = F(v[s * dim + d0]), v1 = F(v[s * dim + d0 + 1]);
#pragma unroll
      for (int g = 0; g < kMaxGroups; ++g) {
        if (g < groups) {
          const float pg = p[g * keys + s];
          acc[g][0] = fmaf(pg, v0, acc[g][0]);
          acc[g][1] = fmaf(pg, v1, acc[g][1]);
        }
      }
    }
#pragma unroll
    for (int g = 0; g < kMaxGroups; ++g) {
      if (g < groups) {
        partial[(part * groups + g) * dim + d0] = acc[g][0];
        partial[(part * groups + g) * dim + d0 + 1] = acc[g][1];
      }
    }
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < groups * dim; idx += blockDim.x) {
    float sum = 0.f;
    for (int r = 0; r < parts; ++r) sum += partial[r * groups * dim + idx];
    out[idx] = static_cast<T>(sum);
  }
}

// One block per (sequence b, kv head): q [B*KV, groups, D], caches [B*KV, keys, D], bias [B, keys].
template <typename T>
__global__ void DecodeAttentionKernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                      const T* __restrict__ bias, T* __restrict__ out, int kv_heads, int groups,
                                      int dim, int64_t keys, float scale) {
  extern __shared__ float shared[];
  float* q_rows = shared;                   // groups * dim
  float* scores = q_rows + groups * dim;    // groups * keys
  float* partial = scores + groups * keys;  // (blockDim / (dim / 2)) * groups * dim
  const int64_t head = blockIdx.x, b = head / kv_heads;
  for (int i = threadIdx.x; i < groups * dim; i += blockDim.x) q_rows[i] = F(q[head * groups * dim + i]);
  __syncthreads();
  ScoreKeys(q_rows, k + head * keys * dim, bias + b * keys, scores, groups, dim, keys, scale);
  __syncthreads();
  SoftmaxRows(scores, groups, keys);
  __syncthreads();
  WeightValues(scores, v + head * keys * dim, partial, out + head * groups * dim, groups, dim, keys);
}

// A running (max, first index of the max, sum of exp(x - max)); merging keeps the lower index on ties, as argmax.
struct Pick {
  float max;
  int64_t index;
  float sum;
};

__device__ __forceinline__ Pick Merge(Pick a, Pick b) {
  if (b.index < 0) return a;
  if (a.index < 0) return b;
  const bool b_wins = b.max > a.max || (b.max == a.max && b.index < a.index);
  const Pick& hi = b_wins ? b : a;
  const Pick& lo = b_wins ? a : b;
  // Equal maxima (also both -inf) add as they are: exp(-inf - -inf) would be NaN.
  return {hi.max, hi.index, hi.sum + (lo.max == hi.max ? lo.sum : lo.sum * expf(lo.max - hi.max))};
}

__device__ Pick WarpMerge(Pick p) {
  for (int o = 16; o > 0; o >>= 1) {
    const Pick other{__shfl_xor_sync(0xffffffffu, p.max, o), __shfl_xor_sync(0xffffffffu, p.index, o),
                     __shfl_xor_sync(0xffffffffu, p.sum, o)};
    p = Merge(p, other);
  }
  return p;
}

// One block per row of logits [rows, vocab] (fp32): token = argmax, logprob = log_softmax at it = -log(sum).
__global__ void GreedyPickKernel(const float* __restrict__ logits, int64_t vocab, int64_t* __restrict__ token,
                                 float* __restrict__ logprob) {
  const float* row = logits + blockIdx.x * vocab;
  Pick p{-FLT_MAX, -1, 0.f};
  for (int64_t i = threadIdx.x; i < vocab; i += kPickBlock) p = Merge(p, Pick{row[i], i, 1.f});
  p = WarpMerge(p);
  __shared__ Pick warps[kPickBlock / 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warps[warp] = p;
  __syncthreads();
  if (warp != 0) return;
  p = WarpMerge(lane < kPickBlock / 32 ? warps[lane] : Pick{-FLT_MAX, -1, 0.f});
  if (lane == 0) {
    token[blockIdx.x] = p.index;
    logprob[blockIdx.x] = -logf(p.sum);
  }
}

template <typename T>
const T* Ptr(const at::Tensor& t) {
  return static_cast<const T*>(t.data_ptr());
}
template <typename T>
T* MutablePtr(const at::Tensor& t) {
  return static_cast<T*>(t.data_ptr());
}

size_t AttentionSharedBytes(int64_t groups, int64_t dim, int64_t keys) {
  // q rows, scores, and the partial sums of WeightValues: (kBlock / (dim / 2)) parts of groups * dim each.
  const int64_t parts = kBlock / (dim / 2);
  return sizeof(float) * static_cast<size_t>(groups * dim + groups * keys + parts * groups * dim);
}

}  // namespace

at::Tensor RotaryIntoCache(const at::Tensor& qkv, const at::Tensor& cos, const at::Tensor& signed_sin,
                           const at::Tensor& slot, const at::Tensor& k_cache, const at::Tensor& v_cache, int64_t heads,
                           int64_t kv_heads) {
  TORCH_CHECK(qkv.is_contiguous() && k_cache.is_contiguous() && v_cache.is_contiguous() && qkv.size(1) == 1,
              "RotaryIntoCache: contiguous one-token qkv and caches expected");
  const int64_t b = qkv.size(0), dim = k_cache.size(3);
  const at::Tensor c = cos.contiguous(), s = signed_sin.contiguous();
  at::Tensor q = at::empty({b, 1, heads, dim}, qkv.options());
  const int64_t total = qkv.numel();
  const c10::cuda::CUDAGuard guard(qkv.device());
  const auto blocks = static_cast<unsigned>((total + kBlock - 1) / kBlock);
  DispatchFloating(qkv.scalar_type(), [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    RotaryIntoCacheKernel<T><<<blocks, kBlock, 0, at::cuda::getCurrentCUDAStream()>>>(
        Ptr<T>(qkv), Ptr<T>(c), Ptr<T>(s), slot.data_ptr<int64_t>(), MutablePtr<T>(q), MutablePtr<T>(k_cache),
        MutablePtr<T>(v_cache), static_cast<int>(heads), static_cast<int>(kv_heads), static_cast<int>(dim),
        k_cache.size(2), total);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return q;
}

bool DecodeAttentionSupports(int64_t groups, int64_t dim, int64_t keys) {
  // dim a multiple of 8 elements: whole 16-byte chunks for bf16/fp16 (and fp32, 4 a chunk) per cached row.
  return groups >= 1 && groups <= kMaxGroups && dim >= 8 && dim % 8 == 0 && dim <= 2 * kBlock &&
         AttentionSharedBytes(groups, dim, keys) <= 48 * 1024;
}

at::Tensor DecodeAttention(const at::Tensor& q, const at::Tensor& k_cache, const at::Tensor& v_cache,
                           const at::Tensor& bias, double scale) {
  const int64_t b = q.size(0), kv_heads = q.size(1), groups = q.size(2), dim = q.size(3), keys = k_cache.size(2);
  TORCH_CHECK(DecodeAttentionSupports(groups, dim, keys), "DecodeAttention: unsupported shape");
  const at::Tensor qc = q.contiguous(), bias_rows = bias.reshape({b, keys}).contiguous();
  at::Tensor out = at::empty_like(qc);
  const c10::cuda::CUDAGuard guard(q.device());
  DispatchFloating(q.scalar_type(), [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    DecodeAttentionKernel<T><<<static_cast<unsigned>(b * kv_heads), kBlock, AttentionSharedBytes(groups, dim, keys),
                               at::cuda::getCurrentCUDAStream()>>>(
        Ptr<T>(qc), Ptr<T>(k_cache), Ptr<T>(v_cache), Ptr<T>(bias_rows), MutablePtr<T>(out), static_cast<int>(kv_heads),
        static_cast<int>(groups), static_cast<int>(dim), keys, static_cast<float>(scale));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

std::pair<at::Tensor, at::Tensor> GreedyPick(const at::Tensor& logits) {
  TORCH_CHECK(logits.dim() == 2 && logits.scalar_type() == at::kFloat, "GreedyPick: fp32 [rows, vocab] expected");
  const at::Tensor l = logits.contiguous();
  const int64_t rows = l.size(0);
  at::Tensor token = at::empty({rows}, l.options().dtype(at::kLong)), logprob = at::empty({rows}, l.options());
  if (rows == 0) return {token, logprob};
  const c10::cuda::CUDAGuard guard(l.device());
  GreedyPickKernel<<<static_cast<unsigned>(rows), kPickBlock, 0, at::cuda::getCurrentCUDAStream()>>>(
      l.data_ptr<float>(), l.size(1), token.data_ptr<int64_t>(), logprob.data_ptr<float>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return {token, logprob};
}

}  // namespace mome::llm::kernels
