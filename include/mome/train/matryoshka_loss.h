// The Matryoshka training objective of one batch: for each rate pair, cross-entropy + load balancing (MoME) +
// decorrelation, then the equal-weight mean over pairs. The one implementation the trainer, bench/avsr_bench and
// the tests call, so that what is benchmarked and tested is what trains.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "mome/model/avsr_model.h"
#include "mome/model/model_config.h"

namespace mome::train {

struct MatryoshkaTerms {
  at::Tensor loss;  // the objective, differentiable
  // Per rate pair, detached and still on the device (read them in one transfer after backward() is queued).
  std::vector<at::Tensor> ce, load_balancing, decorrelation;
  double tokens = 0;  // prompt tokens that are not padding, summed over the pairs (read on the host)
};

// labelled_logits_only: the LM head only where a label is (training); false gives the full logits (references).
MatryoshkaTerms MatryoshkaLoss(const model::AVSRModelImpl& model, const model::ModelInputs& inputs,
                               const std::vector<model::RatePair>& pairs, const model::LossSection& weights,
                               bool labelled_logits_only = true);

// The global gradient norm of `params`, summed in double (a float sum of squares overflows long before the norm
// does), with one host read; then clipping to `max_norm` (<= 0: none). A non-finite norm clips nothing.
double ClipGradients(const std::vector<at::Tensor>& params, double max_norm);

}  // namespace mome::train
