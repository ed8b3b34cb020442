#include "mome/adapters/mome.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cmath>

#include "adapters/mome_dense.h"
#include "mome/core/error.h"
#include "mome/nn/init.h"

namespace mome::adapters {

MoMEAdapterImpl::MoMEAdapterImpl(const MoMEOptions& o, const at::TensorOptions& t, const at::Generator& init)
    : options_(o) {
  MOME_CHECK(o.dim > 0 && o.num_experts > 0 && o.bottleneck > 0 && o.num_shared >= 0 && o.num_scales > 0,
             ErrorCode::kInvalidArgument,
             "MoME needs dim, num_experts, bottleneck, num_scales > 0 and num_shared >= 0");
  MOME_CHECK(o.top_k.size() == 1 || static_cast<int64_t>(o.top_k.size()) == o.num_scales, ErrorCode::kInvalidArgument,
             "MoME top_k must have 1 or num_scales (", o.num_scales, ") values, got ", o.top_k.size());
  MOME_CHECK(o.dispatch == "auto" || o.dispatch == "dense" || o.dispatch == "sorted", ErrorCode::kInvalidArgument,
             "MoME dispatch '", o.dispatch, "' is not one of auto, dense, sorted");
  for (int64_t k : o.top_k)
    MOME_CHECK(k >= 1 && k <= o.num_experts, ErrorCode::kInvalidArgument, "MoME top_k ", k, " must be in [1, ",
               o.num_experts, "]");
  const int64_t experts = o.num_experts + o.num_shared;
  torch::NoGradGuard no_grad;
  // Xavier-uniform on the down projection; zeros on the up projection, so training starts from the frozen model.
  const double bound = std::sqrt(6.0 / static_cast<double>(o.dim + o.bottleneck));
  down_weight = register_parameter("down_weight", nn::UniformInit({experts, o.bottleneck, o.dim}, bound, t, init));
  down_bias = register_parameter("down_bias", at::zeros({experts, o.bottleneck}, t));
  // Laid out [d, E, b] so that all experts' up-projections are one [d, E*b] matrix without a copy.
  up_weight = register_parameter("up_weight", at::zeros({o.dim, experts, o.bottleneck}, t));
  up_bias = register_parameter("up_bias", at::zeros({experts, o.dim}, t));
  // Router: nn.Linear's default init (uniform ±1/sqrt(d)).
  const double router_bound = 1.0 / std::sqrt(static_cast<double>(o.dim));
  const int64_t routers = o.shared_router ? 1 : o.num_scales;
  for (int64_t r = 0; r < routers; ++r)
    router_weights.push_back(register_parameter("router_" + std::to_string(r),
                                                nn::UniformInit({o.num_experts, o.dim}, router_bound, t, init)));
}

int64_t MoMEAdapterImpl::TopK(int64_t scale) const {
  MOME_CHECK(scale >= 0 && scale < options_.num_scales, ErrorCode::kInvalidArgument, "Matryoshka scale ", scale,
             " outside [0, ", options_.num_scales, ")");
  return options_.top_k.size() == 1 ? options_.top_k[0] : options_.top_k[scale];
}

std::pair<at::Tensor, at::Tensor> MoMEAdapterImpl::Route(const at::Tensor& x2d, int64_t scale,
                                                         at::Tensor* probs_out) const {
  const int64_t k = TopK(scale);
  const at::Tensor& router = router_weights[options_.shared_router ? 0 : scale];
  // Router logits in the compute dtype (as under the reference's autocast), softmax in float32.
  const at::Tensor probs = at::softmax(at::linear(x2d, router), -1, at::kFloat);
  at::Tensor weights, index;
  std::tie(weights, index) = probs.topk(k, -1);
  weights = weights / weights.sum(-1, true);
  if (probs_out) *probs_out = probs;
  return {weights, index};
}

bool MoMEAdapterImpl::UsesSortedDispatch(const at::Tensor& x) const {
  if (options_.dispatch == "sorted") return true;
  if (options_.dispatch == "dense") return false;
  return !x.is_cuda() && options_.num_experts > 4 * *std::max_element(options_.top_k.begin(), options_.top_k.end());
}

at::Tensor MoMEAdapterImpl::SortedExperts(const at::Tensor& x2d, const at::Tensor& weights,
                                          const at::Tensor& index) const {
  const int64_t n = options_.num_experts, s = options_.num_shared, k = index.size(1);
  auto run_expert = [&](int64_t e, const at::Tensor& rows) {
    const at::Tensor h = at::gelu(at::linear(rows, down_weight[e], down_bias[e]));
    return at::linear(h, up_weight.select(1, e), up_bias[e]);
  };
  at::Tensor out = at::zeros_like(x2d);
  for (int64_t e = n; e < n + s; ++e) out = out + run_expert(e, x2d);  // shared experts see every token
  const at::Tensor flat_expert = index.reshape({-1});
  const at::Tensor order = flat_expert.argsort();
  const at::Tensor token_of = order.div(k, "floor");
  const at::Tensor weight_of = weights.reshape({-1}).index_select(0, order).to(x2d.scalar_type()).unsqueeze(1);
  // One host read of the per-expert counts, then contiguous slices of the sorted pairs.
  const at::Tensor counts = at::bincount(flat_expert, {}, n).cpu();
  int64_t start = 0;
  for (int64_t e = 0; e < n; ++e) {
    const int64_t count = counts[e].item<int64_t>();
    if (count == 0) continue;
    const at::Tensor tokens_e = token_of.narrow(0, start, count);
    const at::Tensor y = run_expert(e, x2d.index_select(0, tokens_e)) * weight_of.narrow(0, start, count);
    out = out.index_add(0, tokens_e, y);
    start += count;
  }
  return out;
}

at::Tensor MoMEAdapterImpl::forward(const at::Tensor& x, int64_t scale, std::vector<RouterStats>* stats) const {
  const int64_t d = options_.dim;
  MOME_CHECK(x.size(-1) == d, ErrorCode::kShapeMismatch, "MoME input last dim ", x.size(-1), " != ", d);
  const at::Tensor x2d = x.reshape({-1, d});
  if (UsesSortedDispatch(x)) {
    at::Tensor probs;
    const auto [weights, index] = Route(x2d, scale, &probs);
    if (stats) stats->push_back({probs, index});
    return SortedExperts(x2d, weights, index).view(x.sizes());
  }
  // Experts are tiny (b = 12): computing all of them as two GEMMs with inner size E*b beats gathering tokens per
  // expert; the gates zero the experts a token did not choose. One autograd node (mome_dense.h): eager training
  // is bound by per-operator host cost on the GPU.
  const at::Tensor& router = router_weights[options_.shared_router ? 0 : scale];
  const DenseMoMEResult r = DenseMoME(x2d, router, down_weight, down_bias, up_weight, up_bias, TopK(scale));
  if (stats) stats->push_back({r.probs, r.index});
  return r.out.view(x.sizes());
}

}  // namespace mome::adapters
