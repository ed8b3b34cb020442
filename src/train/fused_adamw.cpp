#include "mome/train/fused_adamw.h"

#include <ATen/ATen.h>
#include <torch/version.h>

#include <map>
#include <tuple>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>

#define MOME_HAS_FUSED_ADAMW (TORCH_VERSION_MAJOR >= 2)

namespace mome::train {
namespace {

// LibTorch keys optimizer state by the tensor's impl pointer: as a string before 2.x, as the pointer after.
template <typename Map>
typename Map::key_type StateKey(const Map&, const at::Tensor& p) {
  if constexpr (std::is_same_v<typename Map::key_type, std::string>) {
    std::ostringstream key;  // what c10::guts::to_string wrote
    key << p.unsafeGetTensorImpl();
    return key.str();
  } else
    return static_cast<typename Map::key_type>(p.unsafeGetTensorImpl());
}

}  // namespace

torch::Tensor FusedAdamW::step(LossClosure closure) {
  last_step_fused_ = false;
#if MOME_HAS_FUSED_ADAMW
  bool fusable = true;
  for (const auto& group : param_groups())
    for (const auto& p : group.params()) fusable = fusable && p.is_cuda();
  for (const auto& group : param_groups())
    fusable = fusable && !static_cast<const torch::optim::AdamWOptions&>(group.options()).amsgrad();
  if (fusable && !closure) {
    torch::NoGradGuard no_grad;
    for (auto& group : param_groups()) {
      const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
      // Parameters grouped by their step count (the same for all unless some had no gradient at times), one
      // kernel launch per (device, dtype, step) group.
      std::map<std::tuple<int64_t, int64_t, int64_t>, std::vector<at::Tensor>> params, grads, avgs, sqs;
      for (auto& p : group.params()) {
        if (!p.grad().defined()) continue;
        auto& slot = state_[StateKey(state_, p)];
        if (!slot) {
          auto s = std::make_unique<torch::optim::AdamWParamState>();
          s->step(0);
          s->exp_avg(at::zeros_like(p, at::MemoryFormat::Preserve));
          s->exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Preserve));
          slot = std::move(s);
        }
        auto& s = static_cast<torch::optim::AdamWParamState&>(*slot);
        s.step(s.step() + 1);
        const auto key =
            std::make_tuple(static_cast<int64_t>(p.get_device()), static_cast<int64_t>(p.scalar_type()), s.step());
        params[key].push_back(p);
        grads[key].push_back(p.grad());
        avgs[key].push_back(s.exp_avg());
        sqs[key].push_back(s.exp_avg_sq());
      }
      for (auto& [key, list] : params) {
        // The kernel reads each parameter's step from a float32 device tensor (read only: one serves the group).
        const at::Tensor step = at::full({}, static_cast<double>(std::get<2>(key)),
                                         at::TensorOptions().dtype(at::kFloat).device(list[0].device()));
        const std::vector<at::Tensor> steps(list.size(), step);
        at::_fused_adamw_(list, grads[key], avgs[key], sqs[key], {}, steps, o.lr(), std::get<0>(o.betas()),
                          std::get<1>(o.betas()), o.weight_decay(), o.eps(), /*amsgrad=*/false, /*maximize=*/false);
      }
    }
    last_step_fused_ = true;
    return {};
  }
#endif
  return torch::optim::AdamW::step(closure);
}

}  // namespace mome::train
