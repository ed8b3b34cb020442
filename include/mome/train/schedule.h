// Learning-rate schedule of the recipe (SPEC.md §3): linear warmup, then per-step cosine decay to min_lr.
#pragma once

#include <cstdint>

namespace mome::train {

struct CosineSchedule {
  double peak_lr = 1e-3;
  double min_lr = 0.0;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  // The rate for optimiser step `step` (0-based).
  double LearningRate(int64_t step) const;
};

}  // namespace mome::train
