#include "adapters/mome_dense.h"

#include <torch/csrc/autograd/custom_function.h>

namespace mome::adapters {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Inputs: x2d, router, down_weight, down_bias, up_weight, up_bias (+ top_k). Outputs: out, probs, index.
struct DenseMoMEFunction : public torch::autograd::Function<DenseMoMEFunction> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& router,
                               const at::Tensor& down_weight, const at::Tensor& down_bias, const at::Tensor& up_weight,
                               const at::Tensor& up_bias, int64_t top_k) {
    const int64_t tokens = x.size(0), d = x.size(1), n = router.size(0);
    const int64_t e = down_weight.size(0), b = down_weight.size(1), s = e - n;
    // Router logits in the compute dtype (as under the reference's autocast), softmax in float32.
    const at::Tensor probs = at::softmax(at::mm(x, router.t()), -1, at::kFloat);
    auto [top, index] = probs.topk(top_k, -1);
    const at::Tensor weights = top / top.sum(-1, true);  // renormalised over the chosen k
    // Gates over all experts: the k weights for routed experts, 1 for the shared ones, 0 elsewhere.
    at::Tensor gates_f = at::zeros({tokens, e}, probs.options());
    gates_f.narrow(1, 0, n).scatter_(1, index, weights);
    if (s > 0) gates_f.narrow(1, n, s).fill_(1.0);
    const at::Tensor gates = gates_f.to(x.scalar_type());
    const at::Tensor pre = at::addmm(down_bias.reshape({e * b}), x, down_weight.reshape({e * b, d}).t());
    const at::Tensor hidden = at::gelu(pre);
    const at::Tensor gated = (hidden.view({tokens, e, b}) * gates.unsqueeze(2)).view({tokens, e * b});
    const at::Tensor out = at::addmm(at::mm(gates, up_bias), gated, up_weight.reshape({d, e * b}).t());
    ctx->save_for_backward(
        {x, router, down_weight, up_weight, up_bias, probs, index, weights, gates, pre, hidden, gated});
    ctx->mark_non_differentiable({index});
    return {out, probs, index};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &router = saved[1], &down_weight = saved[2], &up_weight = saved[3],
                     &up_bias = saved[4], &probs = saved[5], &index = saved[6], &weights = saved[7], &gates = saved[8],
                     &pre = saved[9], &hidden = saved[10], &gated = saved[11];
    const int64_t tokens = x.size(0), d = x.size(1), n = router.size(0);
    const int64_t e = down_weight.size(0), b = down_weight.size(1);
    const at::Tensor d_out = grads[0].defined() ? grads[0] : at::zeros({tokens, d}, x.options());
    at::Tensor d_x, d_router, d_down_w, d_down_b, d_up_w, d_up_b;

    // Up projection and gating: out = gated @ Wu^T + gates @ bu.
    const at::Tensor d_gated = at::mm(d_out, up_weight.reshape({d, e * b})).view({tokens, e, b});
    if (ctx->needs_input_grad(4)) d_up_w = at::mm(d_out.t(), gated).view({d, e, b});
    if (ctx->needs_input_grad(5)) d_up_b = at::mm(gates.t(), d_out);
    const at::Tensor d_gates = at::addmm((d_gated * hidden.view({tokens, e, b})).sum(-1), d_out, up_bias.t());
    // Down projection: hidden = gelu(x @ Wd^T + bd).
    const at::Tensor d_pre =
        at::gelu_backward(d_gated * gates.unsqueeze(2), pre.view({tokens, e, b})).view({tokens, e * b});
    if (ctx->needs_input_grad(2)) d_down_w = at::mm(d_pre.t(), x).view({e, b, d});
    if (ctx->needs_input_grad(3)) d_down_b = d_pre.sum(0).view({e, b});
    if (ctx->needs_input_grad(0)) d_x = at::mm(d_pre, down_weight.reshape({e * b, d}));

    // Routing. The renormalised top-k weights are a softmax over the chosen logits, so for a chosen expert i
    // d logit_i = w_i (dw_i - sum_j w_j dw_j) and 0 for the others; the probabilities add the softmax backward.
    const at::Tensor d_weights = d_gates.narrow(1, 0, n).gather(1, index).to(at::kFloat);
    const at::Tensor centred = d_weights - (d_weights * weights).sum(-1, true);
    at::Tensor d_logits = at::zeros_like(probs).scatter_(1, index, weights * centred);
    if (grads[1].defined()) d_logits += at::_softmax_backward_data(grads[1], probs, -1, at::kFloat);
    d_logits = d_logits.to(x.scalar_type());
    if (ctx->needs_input_grad(1)) d_router = at::mm(d_logits.t(), x);
    if (ctx->needs_input_grad(0)) d_x.addmm_(d_logits, router);
    return {d_x, d_router, d_down_w, d_down_b, d_up_w, d_up_b, at::Tensor()};
  }
};

}  // namespace

DenseMoMEResult DenseMoME(const at::Tensor& x2d, const at::Tensor& router, const at::Tensor& down_weight,
                          const at::Tensor& down_bias, const at::Tensor& up_weight, const at::Tensor& up_bias,
                          int64_t top_k) {
  const variable_list out = DenseMoMEFunction::apply(x2d, router, down_weight, down_bias, up_weight, up_bias, top_k);
  return {out[0], out[1], out[2]};
}

}  // namespace mome::adapters
