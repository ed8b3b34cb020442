// The training objective's terms (SPEC.md §2-3), each returned separately so that each can be logged.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "mome/adapters/mome.h"

namespace mome::train {

constexpr int64_t kIgnoreLabel = -100;

// Mean token cross-entropy of logits [B, T, V] against labels [B, T] aligned with the logits (label t is the
// target of position t); positions labelled kIgnoreLabel do not count. Computed in float32.
at::Tensor CrossEntropy(const at::Tensor& logits, const at::Tensor& labels);

// Matryoshka objective: the equal-weight mean of the per-(audio rate, video rate) losses.
at::Tensor MatryoshkaMean(const std::vector<at::Tensor>& losses);

// Switch load-balancing loss with the tokens of every MoME layer pooled: E * sum_e f_e * P_e, with f_e the mean
// of the top-k one-hot choices and P_e the mean router probability. token_mask [tokens] (optional, the same for
// every entry of `stats`) excludes padding.
at::Tensor LoadBalancingLoss(const std::vector<adapters::RouterStats>& stats, const at::Tensor& token_mask = {});

// Decorrelation (attention-sink) loss: with h^ = h / |h| the layer output, c_{b,l,t} = <h^_{b,bos}, h^_{b,t}>;
// L_l = sum_{b,t counted} c^2 / (B (S - 1)); result = lambda * mean over `layers` (default: 1..L-1, i.e. every
// layer output but the last). layer_outputs[i] is the output of layer i+1, [B, S, d]; bos_index [B] is where BOS
// sits in each row (0 with right padding); counted [B, S] marks the tokens t that count (not BOS, not padding,
// not the transcript).
at::Tensor DecorrelationLoss(const std::vector<at::Tensor>& layer_outputs, const at::Tensor& bos_index,
                             const at::Tensor& counted, double lambda, std::vector<int64_t> layers = {});

}  // namespace mome::train
