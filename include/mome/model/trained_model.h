// Loading a trained model for inference: the run's checkpoint (config + trainable weights) over its base model.
// Needs nothing of training: the checkpoint's stored config is read for its model sections and the seed that
// initialised any frozen random parts.
#pragma once

#include <memory>
#include <string>

#include "mome/model/avsr_pipeline.h"
#include "mome/model/model_config.h"

namespace mome::model {

struct TrainedModel {
  std::string dir;     // the checkpoint folder actually used
  ModelConfig config;  // the model sections of the run's config
  uint64_t seed = 0;   // the run's train.seed
  int64_t step = 0;
  std::unique_ptr<AVSRPipeline> pipeline;
};

// `dir`: a checkpoint folder, or a run folder (then best/, else the latest checkpoint). Refuses a checkpoint whose
// base model (LLM and frozen encoders) differs from the one its config names now.
TrainedModel LoadTrainedModel(const std::string& dir, c10::Device device, c10::ScalarType dtype);

// The model sections and train.seed of a run's stored config (its `train` section is the trainer's business).
ModelConfig ModelConfigOfRun(const std::string& run_config_yaml, const std::string& origin, uint64_t* seed);

}  // namespace mome::model
