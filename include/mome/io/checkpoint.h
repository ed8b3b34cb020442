// Training checkpoints: the trainable parameters (safetensors, under the module's names), the optimiser state
// and the resumable counters, written atomically (temp + fsync + rename) so a crash never leaves half a checkpoint.
// Self-describing: the metadata holds the resolved config and a fingerprint of the frozen base model, and loading
// refuses a checkpoint made for another base.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <map>
#include <string>
#include <vector>

namespace mome::io {

struct CheckpointInfo {
  std::string config_yaml;       // the resolved config of the run
  std::string base_fingerprint;  // BaseFingerprint() of the frozen model it was trained on
  int64_t step = 0;
  std::map<std::string, std::string> extra;  // sampler position, RNG state, ... (strings)
};

// A fingerprint of frozen weights: shapes, dtypes and a sample of values of every parameter, hashed.
std::string BaseFingerprint(const torch::nn::Module& frozen);

// Writes DIR/trainable.safetensors, DIR/optimizer.pt, DIR/checkpoint.json and `extra_files` (name -> contents);
// the folder appears complete or not at all (built as DIR.tmp, then renamed).
void SaveCheckpoint(const std::string& dir, const torch::nn::Module& trainable,
                    const torch::optim::Optimizer& optimizer, const CheckpointInfo& info,
                    const std::map<std::string, std::string>& extra_files = {});

// Loads into `trainable` and `optimizer`; throws mome::Error naming the folder when files are missing or corrupt,
// when a tensor's name or shape does not match, or when expected_fingerprint (if non-empty) differs.
// Only the metadata (checkpoint.json).
CheckpointInfo ReadCheckpointInfo(const std::string& dir);
// Only the weights (inference): parameters and buffers, with the same checks as LoadCheckpoint.
CheckpointInfo LoadCheckpointWeights(const std::string& dir, torch::nn::Module& trainable,
                                     const std::string& expected_fingerprint);

CheckpointInfo LoadCheckpoint(const std::string& dir, torch::nn::Module& trainable, torch::optim::Optimizer& optimizer,
                              const std::string& expected_fingerprint);

// ---------------------------------------------------------------- a run folder's layout
// RUN/checkpoints/step-NNNNNNNN (complete folders only; a temp or old one has a '.' in its name), RUN/best.

std::string CheckpointName(int64_t step);  // "step-00000120"
// The complete checkpoints under RUN/checkpoints, oldest first.
std::vector<std::string> CheckpointsOf(const std::string& run_dir);
// Deletes what a killed process left of checkpoint writes and removals (step-*.tmp.PID, *.old.PID, *.removing,
// best.tmp.PID): never visible as checkpoints, but each as large as one. Only while no process writes the run.
void RemoveCheckpointLeftovers(const std::string& run_dir);
// The latest checkpoint folder under DIR/checkpoints, or "" when there is none.
std::string LatestCheckpoint(const std::string& run_dir);
// A model folder for inference: DIR itself when it holds checkpoint.json, else DIR/best, else the latest
// checkpoint of the run DIR. Throws naming DIR when there is none.
std::string ResolveModelDir(const std::string& dir);

}  // namespace mome::io
