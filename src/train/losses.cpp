#include "mome/train/losses.h"

#include <ATen/ATen.h>

#include "mome/core/error.h"

namespace mome::train {

at::Tensor CrossEntropy(const at::Tensor& logits, const at::Tensor& labels) {
  MOME_CHECK(logits.dim() == 3 && labels.dim() == 2 && logits.size(0) == labels.size(0) &&
                 logits.size(1) == labels.size(1),
             ErrorCode::kShapeMismatch, "cross-entropy needs logits [B, T, V] and labels [B, T], got ", logits.sizes(),
             " and ", labels.sizes());
  return at::cross_entropy_loss(logits.reshape({-1, logits.size(2)}).to(at::kFloat), labels.reshape({-1}), {},
                                at::Reduction::Mean, kIgnoreLabel);
}

at::Tensor MatryoshkaMean(const std::vector<at::Tensor>& losses) {
  MOME_CHECK(!losses.empty(), ErrorCode::kInvalidArgument, "Matryoshka mean of no losses");
  return at::stack(losses).mean();
}

at::Tensor LoadBalancingLoss(const std::vector<adapters::RouterStats>& stats, const at::Tensor& token_mask) {
  MOME_CHECK(!stats.empty(), ErrorCode::kInvalidArgument, "load-balancing loss without router statistics");
  std::vector<at::Tensor> probs, chosen;
  for (const auto& s : stats) {
    probs.push_back(s.probs);
    chosen.push_back(s.chosen);
  }
  const at::Tensor p = at::cat(probs, 0);
  const at::Tensor c = at::zeros_like(p).scatter_(1, at::cat(chosen, 0), 1.0);  // k-hot choices
  const int64_t experts = p.size(1);
  if (!token_mask.defined()) return experts * (c.mean(0) * p.mean(0)).sum();
  const at::Tensor w = token_mask.to(at::kFloat).reshape({-1}).repeat({static_cast<int64_t>(stats.size())});
  MOME_CHECK(w.size(0) == p.size(0), ErrorCode::kShapeMismatch, "load-balancing token mask covers ",
             token_mask.numel(), " tokens, router saw ", p.size(0) / static_cast<int64_t>(stats.size()));
  const at::Tensor total = w.sum().clamp_min(1.0);
  const at::Tensor f = (c * w.unsqueeze(1)).sum(0) / total, pe = (p * w.unsqueeze(1)).sum(0) / total;
  return experts * (f * pe).sum();
}

at::Tensor DecorrelationLoss(const std::vector<at::Tensor>& layer_outputs, const at::Tensor& bos_index,
                             const at::Tensor& counted, double lambda, std::vector<int64_t> layers) {
  const int64_t n = static_cast<int64_t>(layer_outputs.size());
  MOME_CHECK(n >= 2 || !layers.empty(), ErrorCode::kInvalidArgument,
             "decorrelation loss needs at least 2 layer outputs, got ", n);
  if (layers.empty())
    for (int64_t l = 1; l < n; ++l) layers.push_back(l);  // layer numbers 1..L-1
  const at::Tensor mask = counted.to(at::kFloat);
  std::vector<at::Tensor> per_layer;
  for (int64_t l : layers) {
    MOME_CHECK(l >= 1 && l <= n, ErrorCode::kInvalidArgument, "decorrelation layer ", l, " outside [1, ", n, "]");
    const at::Tensor h = layer_outputs[l - 1].to(at::kFloat);
    const int64_t b = h.size(0), s = h.size(1);
    const at::Tensor unit = h / h.norm(2, -1, true).clamp_min(1e-12);
    const at::Tensor bos = unit.gather(1, bos_index.view({b, 1, 1}).expand({b, 1, h.size(2)}));
    const at::Tensor cosine = (unit * bos).sum(-1);  // [B, S]
    per_layer.push_back((cosine.pow(2) * mask).sum() / static_cast<double>(b * std::max<int64_t>(s - 1, 1)));
  }
  return lambda * at::stack(per_layer).mean();
}

}  // namespace mome::train
