#include "mome/data/batch_sampler.h"

#include <algorithm>
#include <map>
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

const std::vector<std::vector<int64_t>>& BatchSampler::GlobalBatches(int64_t epoch) const {
  auto it = cache_.find(epoch);
  if (it != cache_.end()) return it->second;
  if (cache_.size() > 4) cache_.clear();
  // Every rank computes the same global batch list from (seed, epoch).
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
  return cache_.emplace(epoch, std::move(batches)).first->second;
}

std::vector<std::vector<int64_t>> BatchSampler::EpochBatches(int64_t epoch) const {
  const auto& batches = GlobalBatches(epoch);
  std::vector<std::vector<int64_t>> mine;
  for (size_t b = static_cast<size_t>(options_.rank); b < batches.size(); b += options_.world_size)
    mine.push_back(batches[b]);
  return mine;
}

BatchSampler::Position BatchSampler::Advance(Position p, int64_t n) const {
  p.batch += n;
  for (int64_t count; p.batch >= (count = static_cast<int64_t>(GlobalBatches(p.epoch).size()));) {
    p.batch -= count;
    ++p.epoch;
  }
  return p;
}

bool BatchSampler::Next(std::vector<int64_t>* batch) {
  // One step of N ranks takes N consecutive batches of the global stream, rank r the r-th: the same batches, in
  // the same order, as one process accumulating N micro-batches — across epoch boundaries too.
  const Position mine = Advance(position_, options_.rank);
  *batch = GlobalBatches(mine.epoch)[static_cast<size_t>(mine.batch)];
  position_ = Advance(position_, options_.world_size);
  return true;
}

void BatchSampler::Restore(const Position& position) {
  MOME_CHECK(position.epoch >= 0 && position.batch >= 0, ErrorCode::kInvalidArgument, "bad sampler position");
  position_ = position;
}

}  // namespace mome::data
