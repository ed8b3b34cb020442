// The training loop of mome_train: AdamW + cosine schedule over the trainable parameters of an AVSR pipeline,
// Matryoshka losses over rate pairs, gradient accumulation and clipping, checkpoints (atomic, keep last K and the
// best by validation WER), exact resume, metrics.jsonl, plots, and stopping at a checkpoint when asked to.
//
// Exact resume: the data order is a function of (seed, epoch), augmentation a function of (seed, step), and the
// checkpoint holds parameters, optimiser state, step and sampler position, so a resumed run computes the same
// steps as an uninterrupted one.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mome/model/avsr_pipeline.h"
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

// Word errors and reference words of one rate pair on this process's share of the validation clips.
struct ValidationCounts {
  int64_t errors = 0, words = 0;
};

// Validation WER, plugged in by the caller (eval::CorpusValidator decodes a prepared corpus), so that training
// needs nothing of decoding or scoring. The trainer sums the counts over processes and keeps the best model.
class Validator {
 public:
  virtual ~Validator() = default;
  // `pipeline` is in evaluation mode; process `rank` of `world` scores its share of the clips.
  virtual ValidationCounts Score(const model::AVSRPipeline& pipeline, const model::RatePair& pair, int64_t rank,
                                 int64_t world) = 0;
};

struct TrainerOptions {
  std::string out_dir;
  bool resume = false;
  std::shared_ptr<GradientSync> sync;    // null: single process
  std::shared_ptr<Validator> validator;  // null: no validation (train.val_data is then not used)
  // Set (e.g. by the tool's SIGINT/SIGTERM handler) to stop after the current step with a checkpoint. The library
  // installs no signal handlers.
  const std::atomic<bool>* stop = nullptr;
};

struct TrainResult {
  int64_t steps_done = 0;  // the step count reached (max_steps unless interrupted)
  bool interrupted = false;
  double best_wer = -1;       // -1 when never evaluated
  bool ranks_in_sync = true;  // data parallel: every process ended with the same parameters
};

TrainResult RunTraining(const TrainConfig& config, const TrainerOptions& options);

// A run folder is never overwritten by a fresh run (its metrics and config would be gone before the first step):
// without `resume`, a folder holding metrics.jsonl or a checkpoint is refused (kInvalidArgument naming it).
void CheckRunFolder(const std::string& out_dir, bool resume);

}  // namespace mome::train
