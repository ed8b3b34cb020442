// MoME: a Mixture of Matryoshka Experts for one decoder layer (SPEC.md §2).
// N routed bottleneck experts (Linear(d, b) -> GELU -> Linear(b, d)), chosen per token by a router
// Linear(d, N, no bias) -> fp32 softmax -> top-k -> weights renormalised to sum to 1; S shared experts always on,
// added without a gate. One router serves every Matryoshka scale (default) or one router per scale (ablation);
// top-k may differ per scale.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <string>

#include <vector>

namespace mome::adapters {

struct MoMEOptions {
  int64_t dim = 0;                   // d of the LLM
  int64_t num_experts = 23;          // routed experts N
  int64_t num_shared = 1;            // shared experts S
  int64_t bottleneck = 12;           // b
  int64_t num_scales = 1;            // Matryoshka scales served (compression-rate pairs)
  std::vector<int64_t> top_k = {4};  // one value for every scale, or one per scale
  bool shared_router = true;         // false: one router per scale (the paper's ablation)
  // How tokens reach their experts: "dense" computes every expert for every token as two GEMMs and zeroes the
  // unchosen ones with the gates; "sorted" sorts the (token, expert) pairs by expert and runs each expert on its
  // tokens only (index_add back); "auto" picks dense on CUDA (no host sync, few launches) and sorted on the CPU
  // when routing skips most of the work (N/k > 4). bench/adapter_bench measures both.
  std::string dispatch = "auto";
};

// What the router did in one forward pass, for the load-balancing loss.
struct RouterStats {
  at::Tensor probs;   // [tokens, N] float32 router probabilities
  at::Tensor chosen;  // [tokens, k] indices of the selected experts
};

class MoMEAdapterImpl : public torch::nn::Module {
 public:
  // Random weights from `init` (a CPU generator; undefined: the global generator).
  MoMEAdapterImpl(const MoMEOptions& options, const at::TensorOptions& tensor_options, const at::Generator& init = {});
  // x [..., d] -> the adapter's output [..., d] for Matryoshka scale `scale`. When `stats` is given, the
  // router's probabilities and choices are appended to it.
  at::Tensor forward(const at::Tensor& x, int64_t scale, std::vector<RouterStats>* stats = nullptr) const;
  // Routing only: (weights [tokens, k] summing to 1, expert indices [tokens, k]).
  std::pair<at::Tensor, at::Tensor> Route(const at::Tensor& x2d, int64_t scale, at::Tensor* probs = nullptr) const;
  int64_t TopK(int64_t scale) const;
  bool UsesSortedDispatch(const at::Tensor& x) const;
  const MoMEOptions& options() const { return options_; }

  // Experts stacked: the first N are routed, the last S shared. Expert e: down_weight[e] [b, d] + down_bias[e]
  // [b], up_weight[:, e] [d, b] + up_bias[e] [d] (76,812 parameters for d 3072, b 12).
  at::Tensor down_weight, down_bias, up_weight, up_bias;
  std::vector<at::Tensor> router_weights;  // [N, d] each: one (shared) or one per scale

 private:
  at::Tensor SortedExperts(const at::Tensor& x2d, const at::Tensor& weights, const at::Tensor& index) const;
  MoMEOptions options_;
};
TORCH_MODULE(MoMEAdapter);

}  // namespace mome::adapters
