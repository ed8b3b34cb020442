// Length-bucketed batches capped by total frames (the reference: 1000-1500 video frames per GPU), with a seeded
// order that is the same for a given (seed, epoch), split across data-parallel ranks, and a position that can be
// saved and restored for exact resume.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

namespace mome::data {

struct BatchSamplerOptions {
  int64_t max_frames = 1500;  // sum of clip lengths in a batch; a longer clip is a batch of its own
  uint64_t seed = 0;
  bool shuffle = true;
  int64_t rank = 0, world_size = 1;
};

class BatchSampler {
 public:
  // frames[i]: the length of clip i (e.g. video frames).
  BatchSampler(std::vector<int64_t> frames, BatchSamplerOptions options);

  // This rank's share of `epoch`'s batches (clip indices): every world_size-th. Over all ranks every clip
  // appears exactly once.
  std::vector<std::vector<int64_t>> EpochBatches(int64_t epoch) const;

  struct Position {
    int64_t epoch = 0, batch = 0;  // where the next step starts in the global batch stream (same on every rank)
  };
  // Iteration with a resumable position over the endless global stream (epoch 0's batches, then epoch 1's, ...):
  // each call is one step of all ranks, and rank r takes the r-th of the next world_size batches. Next fills
  // `batch` and returns true (never false; training stops by steps).
  bool Next(std::vector<int64_t>* batch);
  Position position() const { return position_; }
  void Restore(const Position& position);

 private:
  std::vector<int64_t> frames_;
  BatchSamplerOptions options_;
  Position position_;
  const std::vector<std::vector<int64_t>>& GlobalBatches(int64_t epoch) const;
  Position Advance(Position p, int64_t batches) const;
  mutable std::map<int64_t, std::vector<std::vector<int64_t>>> cache_;  // global batches of recent epochs
};

}  // namespace mome::data
