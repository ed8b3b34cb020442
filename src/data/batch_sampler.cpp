#include "mome/data/batch_sampler.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "mome/core/error.h"

namespace mome::data {

BatchSampler::BatchSampler(std::vector<int64_t> frames, BatchSamplerOptions options)
    : frames_(std::move(frames)), options_(options) {
  MOME_CHECK(!frames_.empty(), ErrorCode::kInvalidArgument, "batch sampler over an empty corpus");
  MOME_CHECK(options_.max_frames > 0, ErrorCode::kInvalidArgument, "max_frames must be positive");
  MOME_CHECK(options_.world_size >= 1 && options_.rank >= 0 && options_.rank < options_.world_size,
             ErrorCode::kInvalidArgument, "rank ", options_.rank, " outside world size ", options_.world_size);
  for (int64_t f : frames_) MOME_CHECK(f >= 0, ErrorCode::kInvalidArgument, "negative clip length ", f);
}

std::vector<std::vector<int64_t>> BatchSampler::EpochBatches(int64_t epoch) const {
  // Every rank computes the same global batch list from (seed, epoch), then takes its share.
  std::mt19937_64 rng(options_.seed * 1000003ull + static_cast<uint64_t>(epoch));
  std::vector<int64_t> order(frames_.size());
  std::iota(order.begin(), order.end(), 0);
  if (options_.shuffle) std::shuffle(order.begin(), order.end(), rng);
  // Length buckets: sort by length (the shuffle breaks ties), so batch mates have similar lengths.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return frames_[a] < frames_[b]; });
  std::vector<std::vector<int64_t>> batches;
  std::vector<int64_t> batch;
  int64_t total = 0;
  for (int64_t i : order) {
    if (!batch.empty() && total + frames_[i] > options_.max_frames) {
      batches.push_back(batch);
      batch.clear();
      total = 0;
    }
    batch.push_back(i);
    total += frames_[i];
  }
  if (!batch.empty()) batches.push_back(batch);
  if (options_.shuffle) std::shuffle(batches.begin(), batches.end(), rng);
  std::vector<std::vector<int64_t>> mine;
  for (size_t b = static_cast<size_t>(options_.rank); b < batches.size(); b += options_.world_size)
    mine.push_back(batches[b]);
  return mine;
}

bool BatchSampler::Next(std::vector<int64_t>* batch) {
  int64_t empty_epochs = 0;
  for (;;) {
    if (current_epoch_ != position_.epoch) {
      current_ = EpochBatches(position_.epoch);
      current_epoch_ = position_.epoch;
    }
    if (position_.batch < static_cast<int64_t>(current_.size())) {
      *batch = current_[position_.batch++];
      return true;
    }
    MOME_CHECK(!current_.empty() || ++empty_epochs < 3, ErrorCode::kInvalidArgument, "rank ", options_.rank,
               " gets no batch: the corpus makes fewer batches than there are ranks (", options_.world_size, ")");
    ++position_.epoch;
    position_.batch = 0;
  }
}

void BatchSampler::Restore(const Position& position) {
  MOME_CHECK(position.epoch >= 0 && position.batch >= 0, ErrorCode::kInvalidArgument, "bad sampler position");
  position_ = position;
}

}  // namespace mome::data
