// Dynamic batching across requests: recordings that ask for the same rate pair, beam and word timestamps and
// arrive within `max_wait_ms` of each other are decoded together, up to `max_batch` at a time. Decoding is
// batch-invariant (left-padded prompts with masks), so a request gets the same answer alone or in company.
// No thread of its own: the first request of a group waits for company, decodes the group, and hands the other
// requests their results (then goes on while requests of its group are still queued).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "mome/decode/transcribe.h"

namespace mome::serve {

struct BatchKey {
  int64_t audio_rate = 0, video_rate = 0, beam = 1;
  bool words = false;
  bool operator<(const BatchKey& o) const {
    return std::tie(audio_rate, video_rate, beam, words) < std::tie(o.audio_rate, o.video_rate, o.beam, o.words);
  }
};

class BatchingQueue {
 public:
  BatchingQueue(const model::AVSRPipeline& pipeline, int64_t max_batch, int64_t max_wait_ms, int64_t max_new_tokens,
                const decode::AlignmentConfig* alignment);
  // Blocks until the clip is decoded (in whatever batch it joined); rethrows a failure of its batch.
  decode::Transcription Submit(const data::PreparedClip& clip, const BatchKey& key);
  // Called with the size of every batch decoded (metrics).
  void OnBatch(std::function<void(size_t)> callback) { on_batch_ = std::move(callback); }

 private:
  struct Pending {
    data::PreparedClip clip;
    std::promise<decode::Transcription> result;
  };
  void Decode(const BatchKey& key, const std::vector<std::shared_ptr<Pending>>& batch) const;

  const model::AVSRPipeline& pipeline_;
  int64_t max_batch_;
  std::chrono::milliseconds max_wait_;
  int64_t max_new_tokens_;
  const decode::AlignmentConfig* alignment_;
  std::function<void(size_t)> on_batch_;
  std::mutex mutex_;
  std::condition_variable full_;
  std::map<BatchKey, std::vector<std::shared_ptr<Pending>>> queues_;
};

}  // namespace mome::serve
