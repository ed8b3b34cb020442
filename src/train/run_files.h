// Private to train/: the files of a run folder that the training loop writes — metrics.jsonl and the rotating
// checkpoints — each behind one small class.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "mome/io/checkpoint.h"

namespace mome::train {

// RUN/metrics.jsonl: one JSON line per logged step. A resumed run keeps the lines of steps <= its step and
// appends (the file continues exactly); a fresh run starts it empty. Only rank 0 writes.
class MetricsWriter {
 public:
  MetricsWriter(const std::string& run_dir, int64_t resumed_step, bool writer);
  void Append(const nlohmann::json& line);
  void Close();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

// RUN/checkpoints/step-N (the last `keep_last`), written atomically by rank 0 after every process got there.
class CheckpointManager {
 public:
  CheckpointManager(std::string run_dir, int64_t keep_last) : run_dir_(std::move(run_dir)), keep_last_(keep_last) {}
  void Save(const torch::nn::Module& trainable, const torch::optim::Optimizer& optimizer,
            const io::CheckpointInfo& info) const;
  // RUN/best: the model with the best validation WER so far.
  void SaveBest(const torch::nn::Module& trainable, const torch::optim::Optimizer& optimizer,
                const io::CheckpointInfo& info, const nlohmann::json& summary) const;
  std::string Latest() const { return io::LatestCheckpoint(run_dir_); }

 private:
  std::string run_dir_;
  int64_t keep_last_;
};

}  // namespace mome::train
