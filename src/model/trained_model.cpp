#include "mome/model/trained_model.h"

#include <yaml-cpp/yaml.h>

#include "mome/core/error.h"
#include "mome/io/checkpoint.h"

namespace mome::model {

ModelConfig ModelConfigOfRun(const std::string& run_config_yaml, const std::string& origin, uint64_t* seed) {
  YAML::Node root;
  try {
    root = YAML::Load(run_config_yaml);
  } catch (const YAML::Exception& e) {
    MOME_FAIL(ErrorCode::kCorruptFile, origin, ": not YAML (", e.msg, ")");
  }
  MOME_CHECK(root.IsMap(), ErrorCode::kCorruptFile, origin, ": expected a map of config sections");
  int64_t stored_seed = 0;
  if (const YAML::Node train = root["train"]; train && train.IsMap() && train["seed"]) {
    MOME_CHECK(YAML::convert<int64_t>::decode(train["seed"], stored_seed), ErrorCode::kCorruptFile, origin,
               ": train.seed is not an integer");
  }
  if (seed) *seed = static_cast<uint64_t>(stored_seed);
  root.remove("train");
  YAML::Emitter model_sections;
  model_sections << root;
  return LoadConfigString<ModelConfig>(model_sections.c_str(), origin);
}

TrainedModel LoadTrainedModel(const std::string& dir, c10::Device device, c10::ScalarType dtype) {
  TrainedModel m;
  m.dir = io::ResolveModelDir(dir);
  const io::CheckpointInfo info = io::ReadCheckpointInfo(m.dir);
  m.config = ModelConfigOfRun(info.config_yaml, m.dir + "/checkpoint.json:config", &m.seed);
  m.step = info.step;
  PipelineOptions po;
  po.device = device;
  po.dtype = dtype;
  po.seed = m.seed;  // frozen randomly initialised parts come back the same
  m.pipeline = std::make_unique<AVSRPipeline>(m.config, po);
  io::LoadCheckpointWeights(m.dir, m.pipeline->trainable(), m.pipeline->BaseFingerprint());
  m.pipeline->SetTraining(false);
  for (auto& p : m.pipeline->trainable().parameters()) p.set_requires_grad(false);
  return m;
}

}  // namespace mome::model
