#include "mome/serve/batching_queue.h"

#include <torch/csrc/autograd/grad_mode.h>

#include "mome/core/error.h"

namespace mome::serve {

BatchingQueue::BatchingQueue(const model::AVSRPipeline& pipeline, int64_t max_batch, int64_t max_wait_ms,
                             int64_t max_new_tokens, const decode::AlignmentConfig* alignment)
    : pipeline_(pipeline),
      max_batch_(max_batch),
      max_wait_(max_wait_ms),
      max_new_tokens_(max_new_tokens),
      alignment_(alignment) {
  MOME_CHECK(max_batch >= 1 && max_wait_ms >= 0, ErrorCode::kInvalidArgument,
             "--max-batch must be positive and --max-wait-ms >= 0");
}

decode::Transcription BatchingQueue::Submit(const data::PreparedClip& clip, const BatchKey& key) {
  auto mine = std::make_shared<Pending>();
  mine->clip = clip;
  std::future<decode::Transcription> result = mine->result.get_future();
  std::unique_lock<std::mutex> lock(mutex_);
  auto& queue = queues_[key];
  queue.push_back(mine);
  if (queue.size() > 1) {  // another request leads this group
    if (static_cast<int64_t>(queue.size()) >= max_batch_) full_.notify_all();
    lock.unlock();
    return result.get();
  }
  // The leader: wait for company, then decode batch after batch while the group has requests queued.
  full_.wait_for(lock, max_wait_, [&] { return static_cast<int64_t>(queues_[key].size()) >= max_batch_; });
  while (!queues_[key].empty()) {
    auto& q = queues_[key];
    const size_t n = std::min(q.size(), static_cast<size_t>(max_batch_));
    std::vector<std::shared_ptr<Pending>> batch(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(n));
    q.erase(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(n));
    lock.unlock();
    Decode(key, batch);
    lock.lock();
  }
  queues_.erase(key);
  lock.unlock();
  return result.get();
}

void BatchingQueue::Decode(const BatchKey& key, const std::vector<std::shared_ptr<Pending>>& batch) const {
  try {
    torch::NoGradGuard no_grad;
    decode::Transcriber transcriber(pipeline_, {key.audio_rate, key.video_rate},
                                    decode::PipelineGenerateOptions(pipeline_, key.beam, max_new_tokens_),
                                    key.words ? alignment_ : nullptr);
    std::vector<data::PreparedClip> clips;
    for (const auto& p : batch) clips.push_back(p->clip);
    auto results = transcriber.Run(clips);
    if (on_batch_) on_batch_(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) batch[i]->result.set_value(std::move(results[i]));
  } catch (...) {
    for (const auto& p : batch) p->result.set_exception(std::current_exception());
  }
}

}  // namespace mome::serve
