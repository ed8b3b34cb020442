#include "mome/train/trained_model.h"

#include "mome/core/error.h"
#include "mome/train/checkpoint.h"
#include "mome/train/trainer.h"

namespace mome::train {

TrainedModel LoadTrainedModel(const std::string& dir, c10::Device device, c10::ScalarType dtype) {
  TrainedModel m;
  m.dir = ResolveModelDir(dir);
  const CheckpointInfo info = ReadCheckpointInfo(m.dir);
  m.config = LoadConfigString<TrainConfig>(info.config_yaml, m.dir + "/checkpoint.json:config");
  m.step = info.step;
  model::PipelineOptions po;
  po.device = device;
  po.dtype = dtype;
  po.seed = static_cast<uint64_t>(m.config.train.seed);  // frozen randomly initialised parts come back the same
  m.pipeline = std::make_unique<model::AVSRPipeline>(m.config.model, po);
  LoadCheckpointWeights(m.dir, m.pipeline->trainable(), m.pipeline->BaseFingerprint());
  m.pipeline->SetTraining(false);
  for (auto& p : m.pipeline->trainable().parameters()) p.set_requires_grad(false);
  return m;
}

}  // namespace mome::train
