// Prepared corpora (mome_prepare's output, SPEC.md §5): what training and decoding read, without FFmpeg.
//   DIR/manifest.jsonl       one JSON object per good clip: key, text, n_frames (25 fps), n_samples (16 kHz),
//                            shard (relative path), video / audio (tensor names in the shard; "" when absent)
//   DIR/shards/NNNNNN.safetensors   uint8 video [T, 96, 96] and int16 audio [N] (full scale 32767) per clip
// Shards are written whole and atomically, so a killed mome_prepare leaves complete shards or none.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mome/data/lrs_transcript.h"

namespace mome::io {
class SafetensorsFile;
}

namespace mome::data {

struct PreparedEntry {
  std::string key, text;
  int64_t n_frames = 0, n_samples = 0;
  std::string shard, video, audio;  // shard path relative to the corpus folder; tensor names
  std::vector<TimedWord> words;     // the reference word table ("words": [[WORD, START, END], ...]), when known
};

struct PreparedClip {
  std::string key, text;
  std::vector<TimedWord> words;  // reference word times (LRS .txt tables), when known
  at::Tensor video;              // [T, 96, 96] uint8, undefined for audio-only clips
  at::Tensor audio;              // [N] float32 in [-1, 1] at 16 kHz, undefined for video-only clips
};

class PreparedCorpus {
 public:
  // Reads DIR/manifest.jsonl; throws mome::Error naming the file (and line) when it is missing or malformed.
  static PreparedCorpus Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  size_t size() const { return entries_.size(); }
  const PreparedEntry& entry(size_t i) const { return entries_.at(i); }
  const std::vector<PreparedEntry>& entries() const { return entries_; }
  // Decodes clip i from its shard (memory-mapped, opened once). Thread-safe.
  PreparedClip Load(size_t i) const;

 private:
  std::string dir_;
  std::vector<PreparedEntry> entries_;
  struct ShardCache {
    std::mutex mutex;
    std::map<std::string, std::shared_ptr<const io::SafetensorsFile>> open;
  };
  std::shared_ptr<ShardCache> shards_ = std::make_shared<ShardCache>();
};

// Writes one shard atomically and returns its manifest entries (shard = `relative_path`).
std::vector<PreparedEntry> WritePreparedShard(const std::string& corpus_dir, const std::string& relative_path,
                                              const std::vector<PreparedClip>& clips);

// One manifest line (and back).
std::string PreparedEntryToJson(const PreparedEntry& entry);
PreparedEntry PreparedEntryFromJson(const std::string& line, const std::string& origin);

// int16 storage of audio: round(x * 32767), clamped.
at::Tensor AudioToInt16(const at::Tensor& audio);
at::Tensor AudioFromInt16(const at::Tensor& pcm);

}  // namespace mome::data
