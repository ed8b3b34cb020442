#include "train/run_files.h"

#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "mome/core/atomic_file.h"
#include "mome/core/error.h"

namespace mome::train {
namespace {

namespace fs = std::filesystem;

// `link` becomes a symbolic link to `target` (relative to the link's folder) in one rename; nothing when it is one.
void LinkAtomic(const std::string& target, const std::string& link) {
  std::error_code ec;
  if (fs::is_symlink(link, ec) && fs::read_symlink(link, ec).string() == target) return;
  const std::string temp = link + ".tmp." + std::to_string(::getpid());
  fs::remove(temp, ec);
  fs::create_symlink(target, temp, ec);
  MOME_CHECK(!ec, ErrorCode::kIo, link, ": cannot create a link to ", target, " (", ec.message(), ")");
  fs::rename(temp, link, ec);  // replaces an older regular best.json too
  MOME_CHECK(!ec, ErrorCode::kIo, link, ": cannot move the link into place (", ec.message(), ")");
}

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
  // The summary travels inside best/ (one atomic swap for weights and their WER); best.json is a link to it, made
  // once, so a kill can never leave a best.json that describes other weights.
  io::SaveCheckpoint(run_dir_ + "/best", trainable, optimizer, info, {{"summary.json", summary.dump(2) + "\n"}});
  LinkAtomic("best/summary.json", run_dir_ + "/best.json");
}

}  // namespace mome::train
