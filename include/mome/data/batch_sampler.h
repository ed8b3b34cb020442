// Length-bucketed batches capped by total frames (the reference: 1000-1500 video frames per GPU), with a seeded
// order that is the same for a given (seed, epoch), split across data-parallel ranks, and a position that can be
// saved and restored for exact resume.
#pragma once

#include <cstdint>
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

  // This rank's batches of `epoch` (clip indices). Over all ranks every clip appears exactly once; ranks' batch
  // counts differ by at most one (the trainer must let a rank without a last batch contribute nothing).
  std::vector<std::vector<int64_t>> EpochBatches(int64_t epoch) const;

  struct Position {
    int64_t epoch = 0, batch = 0;  // the next batch to hand out
  };
  // Iteration with a resumable position: Next fills `batch` and returns true, moving to the next epoch when one
  // ends (never returns false; training stops by steps).
  bool Next(std::vector<int64_t>* batch);
  Position position() const { return position_; }
  void Restore(const Position& position);

 private:
  std::vector<int64_t> frames_;
  BatchSamplerOptions options_;
  Position position_;
  std::vector<std::vector<int64_t>> current_;  // batches of position_.epoch
  int64_t current_epoch_ = -1;
};

}  // namespace mome::data
