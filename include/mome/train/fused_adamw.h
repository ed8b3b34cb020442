// AdamW whose step on CUDA is PyTorch's fused multi-tensor kernel (at::_fused_adamw_, LibTorch >= 2.0): one launch
// for every parameter instead of about ten operator calls per parameter, which is what an eager training step on
// the GPU waits on. The state it keeps is torch::optim::AdamW's own (AdamWParamState: step, exp_avg, exp_avg_sq), so
// checkpoints, resume and the learning-rate schedule are unchanged; the update is AdamW's (decoupled weight decay,
// bias correction), computed in float32 inside the kernel. Elsewhere (CPU, amsgrad, older LibTorch) it is exactly
// torch::optim::AdamW::step.
#pragma once

#include <torch/optim/adamw.h>

#include <vector>

namespace mome::train {

class FusedAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;
  // Whether the last step() ran the fused kernel.
  bool last_step_fused() const { return last_step_fused_; }

 private:
  bool last_step_fused_ = false;
};

}  // namespace mome::train
