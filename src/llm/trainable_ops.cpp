#include "llm/trainable_ops.h"

#include <torch/csrc/autograd/custom_function.h>

#include <atomic>

#if MOME_WITH_CUDA_KERNELS
#include "llm/kernels/fused_kernels.h"
#endif

namespace mome::llm {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::atomic<FusedTraining> g_mode{FusedTraining::kAuto};

[[maybe_unused]] bool KernelsFor(const at::Tensor& x) {
#if MOME_WITH_CUDA_KERNELS
  return x.is_cuda();
#else
  (void)x;
  return false;
#endif
}

at::Tensor Rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& signed_sin) {
#if MOME_WITH_CUDA_KERNELS
  if (KernelsFor(x) && x.dim() == 4 && x.stride(3) == 1 && cos.scalar_type() == x.scalar_type())
    return kernels::Rotary(x, cos, signed_sin);
#endif
  return RotaryComposed(x, cos, signed_sin);
}

struct RmsNormFunction : public torch::autograd::Function<RmsNormFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight, double eps) {
    ctx->save_for_backward({x, weight});
    ctx->saved_data["eps"] = eps;
#if MOME_WITH_CUDA_KERNELS
    if (KernelsFor(x) && x.scalar_type() == weight.scalar_type()) return kernels::RmsNorm(x, weight, eps);
#endif
    return RmsNormComposed(x, weight, eps);
  }
  // y = w * T(h r), h = float(x), r = rsqrt(mean(h^2) + eps):  dx = r (g - h r mean(g h r)), g = float(dy * w).
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const double eps = ctx->saved_data["eps"].toDouble();
    const at::Tensor h = x.to(at::kFloat);
    const at::Tensor r = at::rsqrt(h.pow(2).mean(-1, true) + eps);
    const at::Tensor normed = h * r;
    const at::Tensor g = (grads[0] * saved[1]).to(at::kFloat);
    const at::Tensor dx = (g - normed * (g * normed).mean(-1, true)) * r;
    return {dx.to(x.scalar_type()), at::Tensor(), at::Tensor()};
  }
};

// Linear in x: the gradient is the transpose map, x' = dy * cos + swap(dy * signed_sin). With signed_sin =
// [-s, s] (the same s in both halves, as HF's cat(freqs, freqs)) swap(dy * signed_sin) = swap(dy) * -signed_sin,
// so the backward is the forward with the sine negated.
struct RotaryFunction : public torch::autograd::Function<RotaryFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& cos,
                            const at::Tensor& signed_sin) {
    ctx->save_for_backward({cos, signed_sin});
    return Rotary(x, cos, signed_sin);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    return {Rotary(grads[0].contiguous(), saved[0], -saved[1]), at::Tensor(), at::Tensor()};
  }
};

struct SiluMulFunction : public torch::autograd::Function<SiluMulFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gate_up) {
    ctx->save_for_backward({gate_up});
#if MOME_WITH_CUDA_KERNELS
    if (KernelsFor(gate_up)) return kernels::SiluMul(gate_up);
#endif
    return SiluMulComposed(gate_up);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const at::Tensor gate_up = ctx->get_saved_variables()[0];
    const int64_t n = gate_up.size(-1) / 2;
    const at::Tensor gate = gate_up.narrow(-1, 0, n), up = gate_up.narrow(-1, n, n);
    return {at::cat({at::silu_backward(grads[0] * up, gate), grads[0] * at::silu(gate)}, -1)};
  }
};

}  // namespace

void SetFusedTraining(FusedTraining mode) {
  g_mode = mode;
}

bool UseFusedTraining(const at::Tensor& x) {
  const FusedTraining mode = g_mode.load();
  return mode == FusedTraining::kOn || (mode == FusedTraining::kAuto && x.is_cuda());
}

at::Tensor RmsNormComposed(const at::Tensor& x, const at::Tensor& weight, double eps) {
  // As HF: normalise in float32, cast back to the input dtype, then scale.
  const at::Tensor h = x.to(at::kFloat);
  const at::Tensor variance = h.pow(2).mean(-1, /*keepdim=*/true);
  return weight * (h * at::rsqrt(variance + eps)).to(x.scalar_type());
}

at::Tensor RotaryComposed(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& signed_sin) {
  const int64_t half = x.size(-1) / 2;
  return x * cos + at::cat({x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1) * signed_sin;
}

at::Tensor SiluMulComposed(const at::Tensor& gate_up) {
  const int64_t n = gate_up.size(-1) / 2;
  return at::silu(gate_up.narrow(-1, 0, n)) * gate_up.narrow(-1, n, n);
}

at::Tensor RmsNormNode(const at::Tensor& x, const at::Tensor& weight, double eps) {
  return RmsNormFunction::apply(x, weight, eps);
}
at::Tensor RotaryNode(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& signed_sin) {
  return RotaryFunction::apply(x, cos, signed_sin);
}
at::Tensor SiluMulNode(const at::Tensor& gate_up) {
  return SiluMulFunction::apply(gate_up);
}

}  // namespace mome::llm
