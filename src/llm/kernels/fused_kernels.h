// Hand-written CUDA kernels for the decoding hot path (src/llm/kernels/*.cu). Built only when CMake finds a CUDA
// compiler next to a CUDA LibTorch (MOME_WITH_CUDA_KERNELS); callers keep the eager ATen path otherwise.
#pragma once

#include <ATen/core/Tensor.h>

#include <utility>

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

// The one-token decoding step (decode_step.cu). qkv [B, 1, heads + 2 kv_heads, D] contiguous, the packed projection
// of one token; cos, signed_sin [B, 1, 1, D]; slot [1] int64 on the device (read by the kernel, so a captured graph
// replays it); caches [B, kv_heads, capacity, D]. Writes rotated k and v at the slot; returns rotated q [B, 1, heads,
// D].
at::Tensor RotaryIntoCache(const at::Tensor& qkv, const at::Tensor& cos, const at::Tensor& signed_sin,
                           const at::Tensor& slot, const at::Tensor& k_cache, const at::Tensor& v_cache, int64_t heads,
                           int64_t kv_heads);

// Attention of one new token: q [B, kv_heads, groups, D] (the query heads sharing a kv head), caches
// [B, kv_heads, keys, D], additive bias [B, 1, 1, keys] in q's dtype; returns [B, kv_heads, groups, D].
// Probabilities stay fp32. DecodeAttentionSupports says whether a shape fits (else use SDPA).
bool DecodeAttentionSupports(int64_t groups, int64_t dim, int64_t keys);
at::Tensor DecodeAttention(const at::Tensor& q, const at::Tensor& k_cache, const at::Tensor& v_cache,
                           const at::Tensor& bias, double scale);

// The projections of a decoding step (gemv.cu): y [..., N] = x [..., K] · w [N, K]^T for one or two rows of bf16 or
// fp16, with one of the extras or none. DecodeLinearSupports says whether a call fits (else use at::linear).
struct DecodeLinearExtras {
  at::Tensor residual;     // [..., N]: returns residual + y, rounded as HF's separate add
  bool float_out = false;  // fp32 output of the dtype-rounded values (the logits' .float())
};
bool DecodeLinearSupports(const at::Tensor& x, const at::Tensor& w);
at::Tensor DecodeLinear(const at::Tensor& x, const at::Tensor& w, const DecodeLinearExtras& extras = {});

// Greedy choice per row of fp32 logits [rows, vocab]: (argmax int64 [rows], its log-softmax fp32 [rows]); ties go to
// the lower index, as argmax.
std::pair<at::Tensor, at::Tensor> GreedyPick(const at::Tensor& logits);

}  // namespace mome::llm::kernels
