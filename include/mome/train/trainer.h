// The training loop of mome_train: AdamW + cosine schedule over the trainable parameters of an AVSR pipeline,
// Matryoshka losses over rate pairs, gradient accumulation and clipping, checkpoints (atomic, keep last K and the
// best by validation WER), exact resume, metrics.jsonl, plots, and SIGINT/SIGTERM handling.
//
// Exact resume: the data order is a function of (seed, epoch), augmentation a function of (seed, step), and the
// checkpoint holds parameters, optimiser state, step and sampler position, so a resumed run computes the same
// steps as an uninterrupted one.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "mome/train/train_config.h"

namespace mome::train {

// Data-parallel gradient averaging across processes (c10d); absent = one process.
class GradientSync {
 public:
  virtual ~GradientSync() = default;
  virtual int64_t rank() const = 0;
  virtual int64_t world_size() const = 0;
  // Averages the gradients of `params` over all processes, in place.
  virtual void AllReduceMean(const std::vector<at::Tensor>& grads) = 0;
  // Sums scalars over processes (loss terms and counts for the log).
  virtual void AllReduceSum(at::Tensor& values) = 0;
  virtual void Barrier() = 0;
};

struct TrainerOptions {
  std::string out_dir;
  bool resume = false;
  std::shared_ptr<GradientSync> sync;  // null: single process
};

struct TrainResult {
  int64_t steps_done = 0;  // the step count reached (max_steps unless interrupted)
  bool interrupted = false;
  double best_wer = -1;  // -1 when never evaluated
  bool ranks_in_sync = true;  // data parallel: every process ended with the same parameters
};

TrainResult RunTraining(const TrainConfig& config, const TrainerOptions& options);

// The latest checkpoint folder under DIR/checkpoints, or "" when there is none.
std::string LatestCheckpoint(const std::string& run_dir);
// A model folder for inference: DIR itself when it holds checkpoint.json, else DIR/best, else the latest
// checkpoint of the run DIR. Throws naming DIR when there is none.
std::string ResolveModelDir(const std::string& dir);

}  // namespace mome::train
