// Loading a trained model for inference: the run's checkpoint (config + trainable weights) over its base model.
#pragma once

#include <memory>
#include <string>

#include "mome/model/avsr_pipeline.h"
#include "mome/train/train_config.h"

namespace mome::train {

struct TrainedModel {
  std::string dir;  // the checkpoint folder actually used
  TrainConfig config;
  int64_t step = 0;
  std::unique_ptr<model::AVSRPipeline> pipeline;
};

// `dir`: a checkpoint folder, or a run folder (then best/, else the latest checkpoint). Refuses a checkpoint whose
// base model (LLM and frozen encoders) differs from the one its config names now.
TrainedModel LoadTrainedModel(const std::string& dir, c10::Device device, c10::ScalarType dtype);

}  // namespace mome::train
