// What a checkpoint must hold besides weights and optimiser state for a resumed run to compute exactly the steps
// an uninterrupted one would: the step, the sampler's position in the batch stream, the best validation WER.
// Stored as separate integer/decimal fields of the checkpoint's metadata, parsed strictly.
#pragma once

#include <cstdint>

#include "mome/data/batch_sampler.h"
#include "mome/io/checkpoint.h"

namespace mome::train {

struct TrainingState {
  int64_t step = 0;
  data::BatchSampler::Position sampler;
  double best_wer = -1;  // -1: never validated
};

// Into / out of CheckpointInfo (step and extra fields). Reading also accepts the earlier "epoch:batch" form;
// a missing or malformed field is kCorruptFile naming `dir`.
void StoreTrainingState(const TrainingState& state, io::CheckpointInfo* info);
TrainingState ReadTrainingState(const io::CheckpointInfo& info, const std::string& dir);

}  // namespace mome::train
