#include "mome/train/matryoshka_loss.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>

#include "mome/train/losses.h"

namespace mome::train {

MatryoshkaTerms MatryoshkaLoss(const model::AVSRModelImpl& model, const model::ModelInputs& inputs,
                               const std::vector<model::RatePair>& pairs, const model::LossSection& weights,
                               bool labelled_logits_only) {
  const bool balance = model.options().adapters.kind == adapters::AdapterKind::kMoME && weights.load_balancing > 0;
  const bool decorrelate = weights.decorrelation > 0;
  MatryoshkaTerms terms;
  std::vector<at::Tensor> losses;
  for (const auto& pair : pairs) {
    std::vector<adapters::RouterStats> stats;  // this pair's forward only
    const model::ModelOutput out =
        model.Forward(inputs, pair, decorrelate, labelled_logits_only, balance ? &stats : nullptr);
    const at::Tensor ce = CrossEntropy(out.logits, out.labels);
    at::Tensor loss = ce;
    terms.ce.push_back(ce.detach());
    if (balance) {
      const at::Tensor lb = LoadBalancingLoss(stats, out.prompt.valid.reshape({-1}));
      terms.load_balancing.push_back(lb.detach());
      loss = loss + weights.load_balancing * lb;
    }
    if (decorrelate) {
      const at::Tensor dec = DecorrelationLoss(out.layer_outputs, out.prompt.bos_index, out.prompt.counted,
                                               weights.decorrelation, weights.decorrelation_layers);
      terms.decorrelation.push_back(dec.detach());
      loss = loss + dec;
    }
    terms.tokens += out.prompt.roles.ne(static_cast<int8_t>(model::TokenRole::kPad)).sum().item<double>();  // host
    losses.push_back(loss);
  }
  terms.loss = MatryoshkaMean(losses);
  return terms;
}

double ClipGradients(const std::vector<at::Tensor>& params, double max_norm) {
  // Per-tensor norms on the device, one host read for the total (a read per tensor costs a GPU round trip each).
  std::vector<at::Tensor> per_tensor;
  for (const auto& p : params) per_tensor.push_back(p.grad().to(at::kDouble).norm());
  const double total = at::stack(per_tensor).pow(2).sum().sqrt().item<double>();
  if (std::isfinite(total) && max_norm > 0 && total > max_norm) {
    torch::NoGradGuard no_grad;
    for (const auto& p : params) p.grad().mul_(max_norm / (total + 1e-6));
  }
  return total;
}

}  // namespace mome::train
