// Kernels of the one-token decoding step (a profile of the CUDA-graph step of Llama-3.2-1B on an H100 showed, per
// layer, a cuDNN SDPA call of ~8 µs over ~330 cached keys, two index_copy writes into the cache and a rotary kernel
// of ~2.4 µs each, and per token a log_softmax + argmax of ~56 µs: one block reducing 128k logits). Here:
//   RotaryIntoCache  rotary of q and k from the packed projection, k and v written at the cache slot: one kernel
//   DecodeAttention  softmax(q k^T * scale + bias) v for the one new token, split over the keys (a block per
//                    32 keys of a (sequence, kv head)) and merged by a second kernel
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

// Attention of one new token over the cache, split over the keys (flash-decoding): block (head, split) takes
// kSplitKeys keys of one (sequence, kv head) for all its query rows and leaves, per row, the chunk's max score m,
// sum of exp(score - m) l and unnormalised output o; a second kernel merges the splits. A block per kv head alone
// (the first version) gave 8 blocks at batch 1 and measured 37 µs a layer against cuDNN's 8.
constexpr int kSplitKeys = 32;
constexpr int kSplitThreads = 128;
constexpr int kKeyLanes = kSplitThreads / kSplitKeys;  // threads sharing one key's dot products

// Each key's kKeyLanes threads take interleaved 16-byte chunks of its row; their sums meet by shuffles.
template <typename T>
__device__ void ScoreChunk(const float* q, const T* k, const T* bias, float* scores, int groups, int dim, int keys,
                           float scale) {
  const int key = threadIdx.x / kKeyLanes, part = threadIdx.x % kKeyLanes;
  float acc[kMaxGroups] = {};
  constexpr int kSize = 16 / sizeof(T);  // elements of a 16-byte load
  if (key < keys) {
#pragma unroll 4
    for (int c = part * kSize; c < dim; c += kKeyLanes * kSize) {
      const uint4 raw = *reinterpret_cast<const uint4*>(k + static_cast<int64_t>(key) * dim + c);
      const T* v = reinterpret_cast<const T*>(&raw);
#pragma unroll
      for (int i = 0; i < kSize; ++i)
#pragma unroll
        for (int g = 0; g < kMaxGroups; ++g)  // unrolled with a guard: acc indexed at run time would be local memory
          if (g < groups) acc[g] = fmaf(q[g * dim + c + i], F(v[i]), acc[g]);
    }
  }
#pragma unroll
  for (int g = 0; g < kMaxGroups; ++g)
#pragma unroll
    for (int o = kKeyLanes / 2; o > 0; o >>= 1) acc[g] += __shfl_xor_sync(0xffffffffu, acc[g], o);
  if (part != 0) return;
  const float b = key < keys ? F(bias[key]) : -FLT_MAX;
#pragma unroll
  for (int g = 0; g < kMaxGroups; ++g)
    if (g < groups) scores[g * kSplitKeys + key] = key < keys ? acc[g] * scale + b : -FLT_MAX;
}

// Warp g turns row g's scores into exp(score - m) in place and records m and their sum l.
__device__ void ExpChunk(float* scores, float* stats, int groups) {
  const int lane = threadIdx.x % 32;
  for (int g = threadIdx.x / 32; g < groups; g += kSplitThreads / 32) {
    float* row = scores + g * kSplitKeys;
    float m = -FLT_MAX;
    for (int s = lane; s < kSplitKeys; s += 32) m = fmaxf(m, row[s]);
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    float sum = 0.f;
    for (int s = lane; s < kSplitKeys; s += 32) {
      row[s] = row[s] == -FLT_MAX ? 0.f : expf(row[s] - m);  // past the end of the cache: no weight
      sum += row[s];
    }
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    if (lane == 0) {
      stats[2 * g] = m;
      stats[2 * g + 1] = sum;
    }
  }
}

// o[g, d] = sum over the chunk's keys of p[g, s] v[s, d]: thread (part, c) takes the 16-byte chunk c of dims of
// keys part, part + parts, ..., all its loads issued before any sum (one round trip to memory, where a loop of
// dependent loads waited for each); the parts then add in shared memory.
template <typename T>
__device__ void WeightChunk(const float* p, const T* v, float* partial, float* o, int groups, int dim, int keys) {
  constexpr int kSize = 16 / sizeof(T), kMaxKeys = 16;  // keys a thread: kSplitKeys / parts, parts >= 2 (Supports)
  const int chunks = dim / kSize, parts = kSplitThreads / chunks;
  const int c = threadIdx.x % chunks, part = threadIdx.x / chunks;
  float acc[kMaxGroups][kSize] = {};
  if (part < parts) {  // threads past parts * chunks only help add up
    uint4 raw[kMaxKeys];
#pragma unroll
    for (int j = 0; j < kMaxKeys; ++j) {
      const int s = part + j * parts;
      if (s < keys) raw[j] = *reinterpret_cast<const uint4*>(v + static_cast<int64_t>(s) * dim + c * kSize);
    }
#pragma unroll
    for (int j = 0; j < kMaxKeys; ++j) {
      const int s = part + j * parts;
      if (s >= keys) continue;
      const T* values = reinterpret_cast<const T*>(&raw[j]);
#pragma unroll
      for (int g = 0; g < kMaxGroups; ++g)
        if (g < groups)
#pragma unroll
          for (int i = 0; i < kSize; ++i) acc[g][i] = fmaf(p[g * kSplitKeys + s], F(values[i]), acc[g][i]);
    }
#pragma unroll
    for (int g = 0; g < kMaxGroups; ++g)
      if (g < groups)
#pragma unroll
        for (int i = 0; i < kSize; ++i) partial[(part * groups + g) * dim + c * kSize + i] = acc[g][i];
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < groups * dim; idx += kSplitThreads) {
    float sum = 0.f;
    for (int r = 0; r < parts; ++r) sum += partial[r * groups * dim + idx];
    o[idx] = sum;
  }
}

// Block (head = b * kv_heads + kv, split): q [heads, groups, D], caches [heads, capacity, D], bias [B, capacity];
// work [heads, splits, groups, D + 2] gets (o, m, l) of each row.
template <typename T>
__global__ void __launch_bounds__(kSplitThreads)
    DecodeAttentionSplitKernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                               const T* __restrict__ bias, float* __restrict__ work, int kv_heads, int groups, int dim,
                               int64_t capacity, float scale) {
  extern __shared__ float shared[];
  float* q_rows = shared;                         // groups * dim
  float* scores = q_rows + groups * dim;          // groups * kSplitKeys
  float* partial = scores + groups * kSplitKeys;  // WeightChunk's parts * groups * dim
  const int64_t head = blockIdx.x, b = head / kv_heads, first = static_cast<int64_t>(blockIdx.y) * kSplitKeys;
  const int keys = static_cast<int>(min(static_cast<int64_t>(kSplitKeys), capacity - first));
  for (int i = threadIdx.x; i < groups * dim; i += kSplitThreads) q_rows[i] = F(q[head * groups * dim + i]);
  __syncthreads();
  const int64_t row0 = head * capacity + first;
  ScoreChunk(q_rows, k + row0 * dim, bias + b * capacity + first, scores, groups, dim, keys, scale);
  __syncthreads();
  float* out = work + (head * gridDim.y + blockIdx.y) * groups * (dim + 2);
  ExpChunk(scores, out + groups * dim, groups);
  __syncthreads();
  WeightChunk(scores, v + row0 * dim, partial, out, groups, dim, keys);
}

// Thread (g, d) of block `head` merges the splits: out = sum_s e^(m_s - M) o_s / sum_s e^(m_s - M) l_s.
template <typename T>
__global__ void MergeSplitsKernel(const float* __restrict__ work, T* __restrict__ out, int splits, int groups,
                                  int dim) {
  const int head = blockIdx.x, idx = threadIdx.x, g = idx / dim;
  if (g >= groups) return;
  const int stride = groups * (dim + 2);
  const float* base = work + static_cast<int64_t>(head) * splits * stride;
  // Unrolled so that the loads of several splits are in flight together (a rolled loop waits for each).
  float m = -FLT_MAX;
#pragma unroll 8
  for (int s = 0; s < splits; ++s) m = fmaxf(m, base[s * stride + groups * dim + 2 * g]);
  float num = 0.f, den = 0.f;
#pragma unroll 8
  for (int s = 0; s < splits; ++s) {
    const float* chunk = base + s * stride;
    const float w = expf(chunk[groups * dim + 2 * g] - m);
    num += w * chunk[idx];
    den += w * chunk[groups * dim + 2 * g + 1];
  }
  out[static_cast<int64_t>(head) * groups * dim + idx] = static_cast<T>(num / den);
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

// Parts of WeightChunk: threads sharing a 16-byte chunk of dims of the values.
int64_t ValueParts(int64_t dim, int64_t element_bytes) {
  return kSplitThreads / (dim / (16 / element_bytes));
}

size_t AttentionSharedBytes(int64_t groups, int64_t dim, int64_t element_bytes) {
  // q rows, the chunk's scores, and WeightChunk's partial sums.
  const int64_t parts = ValueParts(dim, element_bytes);
  return sizeof(float) * static_cast<size_t>(groups * dim + groups * kSplitKeys + parts * groups * dim);
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
  // dim: whole 16-byte chunks for every key lane in ScoreChunk; in WeightChunk at least two parts of at most 16 keys
  // (for 2- and 4-byte types alike); the merge's groups * dim threads in one block.
  const bool dims_fit = dim % (kKeyLanes * 8) == 0 && dim / 4 <= kSplitThreads / 2;
  return dims_fit && groups >= 1 && groups <= kMaxGroups && groups * dim <= 1024 && keys >= 1 &&
         AttentionSharedBytes(groups, dim, 2) <= 48 * 1024 && AttentionSharedBytes(groups, dim, 4) <= 48 * 1024;
}

at::Tensor DecodeAttention(const at::Tensor& q, const at::Tensor& k_cache, const at::Tensor& v_cache,
                           const at::Tensor& bias, double scale) {
  const int64_t b = q.size(0), kv_heads = q.size(1), groups = q.size(2), dim = q.size(3), keys = k_cache.size(2);
  TORCH_CHECK(DecodeAttentionSupports(groups, dim, keys) && k_cache.is_contiguous() && v_cache.is_contiguous(),
              "DecodeAttention: unsupported shape");
  const at::Tensor qc = q.contiguous(), bias_rows = bias.reshape({b, keys}).contiguous();
  at::Tensor out = at::empty_like(qc);
  const int64_t splits = (keys + kSplitKeys - 1) / kSplitKeys;
  at::Tensor work = at::empty({b * kv_heads, splits, groups, dim + 2}, q.options().dtype(at::kFloat));
  const c10::cuda::CUDAGuard guard(q.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  DispatchFloating(q.scalar_type(), [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const dim3 grid(static_cast<unsigned>(b * kv_heads), static_cast<unsigned>(splits));
    DecodeAttentionSplitKernel<T><<<grid, kSplitThreads, AttentionSharedBytes(groups, dim, sizeof(T)), stream>>>(
        Ptr<T>(qc), Ptr<T>(k_cache), Ptr<T>(v_cache), Ptr<T>(bias_rows), work.data_ptr<float>(),
        static_cast<int>(kv_heads), static_cast<int>(groups), static_cast<int>(dim), keys, static_cast<float>(scale));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    MergeSplitsKernel<T><<<static_cast<unsigned>(b * kv_heads), static_cast<unsigned>(groups * dim), 0, stream>>>(
        work.data_ptr<float>(), MutablePtr<T>(out), static_cast<int>(splits), static_cast<int>(groups),
        static_cast<int>(dim));
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
