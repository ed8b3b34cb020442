#include "train/run_files.h"

#include <sstream>

#include "mome/core/atomic_file.h"

namespace mome::train {
namespace {

// Keeps the metrics lines of steps <= `step` (a resumed run continues the file exactly).
void TruncateMetrics(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in.good()) return;
  std::ostringstream kept;
  std::string line;
  while (std::getline(in, line)) {
    try {
      if (nlohmann::json::parse(line).value("step", int64_t{0}) <= step) kept << line << '\n';
    } catch (const std::exception&) {  // a line cut by a crash: dropped
    }
  }
  WriteFileAtomic(path, kept.str());
}

}  // namespace

MetricsWriter::MetricsWriter(const std::string& run_dir, int64_t resumed_step, bool writer)
    : path_(run_dir + "/metrics.jsonl") {
  if (!writer) return;
  if (resumed_step == 0) RemoveTree(path_);
  TruncateMetrics(path_, resumed_step);
  out_.open(path_, std::ios::app);
}

void MetricsWriter::Append(const nlohmann::json& line) {
  if (!out_.is_open()) return;
  out_ << line.dump() << '\n';
  out_.flush();
}

void MetricsWriter::Close() {
  if (out_.is_open()) out_.close();
}

void CheckpointManager::Save(const torch::nn::Module& trainable, const torch::optim::Optimizer& optimizer,
                             const io::CheckpointInfo& info) const {
  io::SaveCheckpoint(run_dir_ + "/checkpoints/" + io::CheckpointName(info.step), trainable, optimizer, info);
  auto all = io::CheckpointsOf(run_dir_);
  while (static_cast<int64_t>(all.size()) > keep_last_) {
    RemoveFolderHidden(all.front());  // a kill mid-removal must not leave a half checkpoint in view
    all.erase(all.begin());
  }
}

void CheckpointManager::SaveBest(const torch::nn::Module& trainable, const torch::optim::Optimizer& optimizer,
                                 const io::CheckpointInfo& info, const nlohmann::json& summary) const {
  io::SaveCheckpoint(run_dir_ + "/best", trainable, optimizer, info);
  WriteFileAtomic(run_dir_ + "/best.json", summary.dump(2) + "\n");
}

}  // namespace mome::train
