// MoME's dense dispatch as one autograd node: routing (fp32 softmax, top-k, renormalisation), every expert on every
// token as two GEMMs, gating, and a hand-written backward.
// Why: in eager training the GPU waits on the host. Composed from ATen ops under autograd, one MoME layer costs ~60
// recorded operator calls forward and backward; this node runs the same maths with about a third of the calls and
// no graph recording inside (bench/adapter_bench: see the README's adapter table).
#pragma once

#include <ATen/ATen.h>

namespace mome::adapters {

struct DenseMoMEResult {
  at::Tensor out;    // [tokens, d] sum of the gated routed experts and the shared ones
  at::Tensor probs;  // [tokens, N] float32 router probabilities (differentiable: the load-balancing loss uses them)
  at::Tensor index;  // [tokens, k] chosen experts (int64)
};

// x2d [tokens, d]; router [N, d]; down_weight [E, b, d]; down_bias [E, b]; up_weight [d, E, b]; up_bias [E, d],
// where E = N + num_shared and the last num_shared experts are ungated.
DenseMoMEResult DenseMoME(const at::Tensor& x2d, const at::Tensor& router, const at::Tensor& down_weight,
                          const at::Tensor& down_bias, const at::Tensor& up_weight, const at::Tensor& up_bias,
                          int64_t top_k);

}  // namespace mome::adapters
