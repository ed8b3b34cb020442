#include "mome/data/prepared.h"

#include <ATen/ATen.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "mome/core/error.h"
#include "mome/io/json.h"
#include "mome/io/safetensors.h"

namespace mome::data {

std::string PreparedEntryToJson(const PreparedEntry& e) {
  nlohmann::json j = {{"key", e.key},     {"text", e.text},   {"n_frames", e.n_frames}, {"n_samples", e.n_samples},
                      {"shard", e.shard}, {"video", e.video}, {"audio", e.audio}};
  if (!e.words.empty()) {
    nlohmann::json words = nlohmann::json::array();
    for (const auto& w : e.words) words.push_back({w.word, w.start, w.end});
    j["words"] = words;
  }
  return j.dump();
}

PreparedEntry PreparedEntryFromJson(const std::string& line, const std::string& origin) {
  const nlohmann::json j = io::ParseJsonObject(line, origin);
  PreparedEntry e;
  try {
    e.key = j.at("key").get<std::string>();
    e.text = j.at("text").get<std::string>();
    e.n_frames = io::OptionalInt(j, "n_frames", 0, origin);
    e.n_samples = io::OptionalInt(j, "n_samples", 0, origin);
    e.shard = j.at("shard").get<std::string>();
    e.video = j.value("video", std::string());
    e.audio = j.value("audio", std::string());
    if (j.contains("words"))
      for (const auto& w : j.at("words")) {
        MOME_CHECK(w.is_array() && w.size() == 3 && w[1].is_number() && w[2].is_number(), ErrorCode::kCorruptFile,
                   origin, ": a word of \"words\" must be [WORD, START, END]");
        e.words.push_back({w[0].get<std::string>(), w[1].get<double>(), w[2].get<double>()});
      }
  } catch (const std::exception& ex) {
    MOME_FAIL(ErrorCode::kCorruptFile, origin, ": ", ex.what());
  }
  MOME_CHECK(!e.video.empty() || !e.audio.empty(), ErrorCode::kCorruptFile, origin, ": clip '", e.key,
             "' has neither video nor audio");
  return e;
}

PreparedCorpus PreparedCorpus::Open(const std::string& dir) {
  const std::string path = dir + "/manifest.jsonl";
  std::ifstream in(path);
  MOME_CHECK(in.good(), ErrorCode::kNotFound, path, ": no prepared corpus here (run mome_prepare first)");
  PreparedCorpus corpus;
  corpus.dir_ = dir;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    corpus.entries_.push_back(PreparedEntryFromJson(line, path + ":" + std::to_string(n)));
  }
  return corpus;
}

PreparedClip PreparedCorpus::Load(size_t i) const {
  const PreparedEntry& e = entry(i);
  std::shared_ptr<const io::SafetensorsFile> file;
  {
    std::lock_guard<std::mutex> lock(shards_->mutex);
    auto& slot = shards_->open[e.shard];
    if (!slot) slot = io::SafetensorsFile::Open(dir_ + "/" + e.shard);
    file = slot;
  }
  PreparedClip clip;
  clip.key = e.key;
  clip.text = e.text;
  clip.words = e.words;
  auto get = [&](const std::string& name) {
    MOME_CHECK(file->Has(name), ErrorCode::kCorruptFile, file->path(), ": tensor '", name, "' of clip '", e.key,
               "' is missing");
    return file->Get(name);
  };
  if (!e.video.empty()) {
    clip.video = get(e.video);
    MOME_CHECK(clip.video.dim() == 3 && clip.video.scalar_type() == at::kByte, ErrorCode::kShapeMismatch, file->path(),
               ": video of '", e.key, "' must be uint8 [T, H, W], got ", clip.video.sizes());
  }
  if (!e.audio.empty()) {
    const at::Tensor pcm = get(e.audio);
    MOME_CHECK(pcm.dim() == 1, ErrorCode::kShapeMismatch, file->path(), ": audio of '", e.key, "' must be [N], got ",
               pcm.sizes());
    clip.audio = pcm.scalar_type() == at::kShort ? AudioFromInt16(pcm) : pcm.to(at::kFloat);
  }
  return clip;
}

at::Tensor AudioToInt16(const at::Tensor& audio) {
  return (audio.to(at::kFloat) * 32767.0).round().clamp(-32768, 32767).to(at::kShort);
}

at::Tensor AudioFromInt16(const at::Tensor& pcm) {
  return pcm.to(at::kFloat) / 32767.0;
}

std::vector<PreparedEntry> WritePreparedShard(const std::string& corpus_dir, const std::string& relative_path,
                                              const std::vector<PreparedClip>& clips) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  std::vector<PreparedEntry> entries;
  for (size_t i = 0; i < clips.size(); ++i) {
    const PreparedClip& c = clips[i];
    PreparedEntry e;
    e.key = c.key;
    e.text = c.text;
    e.words = c.words;
    e.shard = relative_path;
    const std::string prefix = std::to_string(i) + ".";
    if (c.video.defined()) {
      MOME_CHECK(c.video.dim() == 3 && c.video.scalar_type() == at::kByte, ErrorCode::kShapeMismatch, "clip '", c.key,
                 "': video must be uint8 [T, H, W], got ", c.video.sizes());
      e.video = prefix + "video";
      e.n_frames = c.video.size(0);
      tensors.emplace_back(e.video, c.video.contiguous());
    }
    if (c.audio.defined()) {
      e.audio = prefix + "audio";
      e.n_samples = c.audio.numel();
      tensors.emplace_back(e.audio, AudioToInt16(c.audio.reshape({-1})));
    }
    entries.push_back(std::move(e));
  }
  io::SaveSafetensors(corpus_dir + "/" + relative_path, tensors, {{"format", "mome-prepared-1"}});
  return entries;
}

}  // namespace mome::data
