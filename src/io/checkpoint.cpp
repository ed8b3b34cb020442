#include "mome/io/checkpoint.h"

#include <ATen/ATen.h>
#include <torch/serialize.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mome/core/atomic_file.h"
#include "mome/core/error.h"
#include "mome/io/json.h"
#include "mome/io/safetensors.h"

namespace mome::io {
namespace fs = std::filesystem;

std::string BaseFingerprint(const torch::nn::Module& frozen) {
  // FNV-1a over names, shapes, dtypes and up to 64 evenly spaced values per tensor: cheap even for 8B models
  // and sensitive to any other checkpoint.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  };
  for (const auto& item : frozen.named_parameters()) {
    mix(item.key().data(), item.key().size());
    const at::Tensor& t = item.value();
    for (int64_t d : t.sizes()) mix(&d, sizeof d);
    const int8_t type = static_cast<int8_t>(t.scalar_type());
    mix(&type, 1);
    if (t.device().is_meta() || t.numel() == 0) continue;
    const at::Tensor flat = t.detach().reshape({-1});
    const int64_t stride = std::max<int64_t>(1, flat.numel() / 64);
    const at::Tensor sample = flat.slice(0, 0, flat.numel(), stride).to(at::kCPU, at::kFloat).contiguous();
    mix(sample.data_ptr(), sample.numel() * sizeof(float));
  }
  std::ostringstream out;
  out << std::hex << h;
  return out.str();
}

namespace {

// The checkpoint's three files in `folder` (which exists and is empty).
void WriteCheckpointFiles(const std::string& folder, const torch::nn::Module& trainable,
                          const torch::optim::Optimizer& optimizer, const CheckpointInfo& info) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& p : trainable.named_parameters()) tensors.emplace_back(p.key(), p.value());
  // Buffers too (BatchNorm running statistics of an encoder trained from scratch).
  for (const auto& b : trainable.named_buffers()) tensors.emplace_back(b.key(), b.value());
  io::SaveSafetensors(folder + "/trainable.safetensors", tensors, {{"format", "pt"}});
  {
    // Serialised in memory, then written like every other file: LibTorch's file writer throws from its destructor
    // when the disk is full, which ends the process instead of reporting the error.
    torch::serialize::OutputArchive archive;
    optimizer.save(archive);
    std::ostringstream bytes;
    archive.save_to(bytes);
    WriteFileAtomic(folder + "/optimizer.pt", bytes.str());
  }
  nlohmann::json j = {{"step", info.step},
                      {"base_fingerprint", info.base_fingerprint},
                      {"config", info.config_yaml},
                      {"extra", info.extra},
                      {"format", "libmome-checkpoint-1"}};
  WriteFileAtomic(folder + "/checkpoint.json", j.dump(2));
}

}  // namespace

void SaveCheckpoint(const std::string& dir, const torch::nn::Module& trainable,
                    const torch::optim::Optimizer& optimizer, const CheckpointInfo& info,
                    const std::map<std::string, std::string>& extra_files) {
  const std::string temp = dir + ".tmp." + std::to_string(::getpid());
  std::error_code ec;
  RemoveTree(temp);
  fs::create_directories(temp, ec);
  MOME_CHECK(!ec, ErrorCode::kIo, temp, ": cannot create checkpoint folder: ", ec.message());
  try {
    WriteCheckpointFiles(temp, trainable, optimizer, info);
    for (const auto& [name, contents] : extra_files) WriteFileAtomic(temp + "/" + name, contents);
    ReplaceFolder(temp, dir);  // synced, then swapped in: the old checkpoint of this name stays until then
  } catch (...) {
    RemoveTree(temp);  // a failed write (a full disk) leaves nothing behind but the checkpoints before it
    throw;
  }
}

CheckpointInfo ReadCheckpointInfo(const std::string& dir) {
  const std::string meta_path = dir + "/checkpoint.json";
  MOME_CHECK(std::ifstream(meta_path).good(), ErrorCode::kNotFound, meta_path, ": no checkpoint here");
  const nlohmann::json j = ReadJsonObjectFile(meta_path);
  CheckpointInfo info;
  try {
    info.step = RequireInt(j, "step", meta_path);
    info.base_fingerprint = j.at("base_fingerprint").get<std::string>();
    info.config_yaml = j.at("config").get<std::string>();
    info.extra = j.at("extra").get<std::map<std::string, std::string>>();
  } catch (const nlohmann::json::exception& e) {
    MOME_FAIL(ErrorCode::kCorruptFile, meta_path, ": missing or malformed field (", e.what(), ")");
  }
  return info;
}

CheckpointInfo LoadCheckpointWeights(const std::string& dir, torch::nn::Module& trainable,
                                     const std::string& expected_fingerprint) {
  CheckpointInfo info = ReadCheckpointInfo(dir);
  MOME_CHECK(expected_fingerprint.empty() || expected_fingerprint == info.base_fingerprint, ErrorCode::kInvalidArgument,
             dir, ": checkpoint was trained on another base model (fingerprint ", info.base_fingerprint, ", this one ",
             expected_fingerprint, ")");
  const auto file = io::SafetensorsFile::Open(dir + "/trainable.safetensors");
  torch::NoGradGuard no_grad;
  auto load = [&](const std::string& name, at::Tensor& target, bool required) {
    if (!file->Has(name)) {
      MOME_CHECK(!required, ErrorCode::kNotFound, dir, ": checkpoint lacks '", name, "'");
      return;
    }
    const at::Tensor stored = file->Get(name);
    MOME_CHECK(stored.sizes() == target.sizes(), ErrorCode::kShapeMismatch, dir, ": '", name, "' is ", stored.sizes(),
               " in the checkpoint but ", target.sizes(), " in the model");
    target.copy_(stored);
  };
  for (auto& p : trainable.named_parameters()) load(p.key(), p.value(), true);
  for (auto& b : trainable.named_buffers()) load(b.key(), b.value(), false);
  return info;
}

CheckpointInfo LoadCheckpoint(const std::string& dir, torch::nn::Module& trainable, torch::optim::Optimizer& optimizer,
                              const std::string& expected_fingerprint) {
  CheckpointInfo info = LoadCheckpointWeights(dir, trainable, expected_fingerprint);
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(dir + "/optimizer.pt");
    optimizer.load(archive);
  } catch (const c10::Error& e) {
    MOME_FAIL(ErrorCode::kCorruptFile, dir, "/optimizer.pt: cannot be read (", e.what_without_backtrace(), ")");
  }
  return info;
}

std::string CheckpointName(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step-%08lld", static_cast<long long>(step));
  return buf;
}

std::vector<std::string> CheckpointsOf(const std::string& run_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run_dir + "/checkpoints", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("step-", 0) == 0 && name.find('.') == std::string::npos && fs::exists(e.path() / "checkpoint.json"))
      out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void RemoveCheckpointLeftovers(const std::string& run_dir) {
  std::error_code ec;
  std::vector<std::string> leftovers;
  auto is_leftover = [](const std::string& name) {
    const std::string removing = ".removing";
    return name.find(".tmp.") != std::string::npos || name.find(".old.") != std::string::npos ||
           (name.size() > removing.size() &&
            name.compare(name.size() - removing.size(), removing.size(), removing) == 0);
  };
  auto collect = [&](const std::string& dir, const std::string& prefix) {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind(prefix, 0) == 0 && is_leftover(name)) leftovers.push_back(e.path().string());
    }
  };
  collect(run_dir + "/checkpoints", "step-");
  collect(run_dir, "best");
  for (const auto& path : leftovers) RemoveTree(path);
}

std::string LatestCheckpoint(const std::string& run_dir) {
  const auto all = CheckpointsOf(run_dir);
  return all.empty() ? std::string() : all.back();
}

std::string ResolveModelDir(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir + "/checkpoint.json", ec)) return dir;
  if (fs::exists(dir + "/best/checkpoint.json", ec)) return dir + "/best";
  const std::string latest = LatestCheckpoint(dir);
  MOME_CHECK(!latest.empty(), ErrorCode::kNotFound, dir,
             ": no model here (expected checkpoint.json, best/ or checkpoints/step-*)");
  return latest;
}

}  // namespace mome::io
