#include "mome/train/training_state.h"

#include <string>

#include "mome/core/config.h"
#include "mome/core/error.h"

namespace mome::train {
namespace {

int64_t RequireInt(const std::string& text, const char* field, const std::string& dir) {
  int64_t value = 0;
  MOME_CHECK(ParseInt64(text, &value) && value >= 0, ErrorCode::kCorruptFile, dir, ": checkpoint field ", field,
             " is not a count: '", text, "'");
  return value;
}

// The first format: "EPOCH:BATCH" in one field.
data::BatchSampler::Position LegacyPosition(const std::string& text, const std::string& dir) {
  const size_t colon = text.find(':');
  MOME_CHECK(colon != std::string::npos, ErrorCode::kCorruptFile, dir, ": checkpoint sampler position '", text,
             "' is malformed");
  return {RequireInt(text.substr(0, colon), "sampler", dir), RequireInt(text.substr(colon + 1), "sampler", dir)};
}

}  // namespace

void StoreTrainingState(const TrainingState& state, io::CheckpointInfo* info) {
  info->step = state.step;
  info->extra["sampler_epoch"] = std::to_string(state.sampler.epoch);
  info->extra["sampler_batch"] = std::to_string(state.sampler.batch);
  if (state.best_wer >= 0) info->extra["best_wer"] = std::to_string(state.best_wer);
}

TrainingState ReadTrainingState(const io::CheckpointInfo& info, const std::string& dir) {
  TrainingState state;
  state.step = info.step;
  const auto& extra = info.extra;
  const auto epoch = extra.find("sampler_epoch"), batch = extra.find("sampler_batch");
  if (epoch != extra.end() && batch != extra.end()) {
    state.sampler = {RequireInt(epoch->second, "sampler_epoch", dir), RequireInt(batch->second, "sampler_batch", dir)};
  } else {
    const auto legacy = extra.find("sampler");
    MOME_CHECK(legacy != extra.end(), ErrorCode::kCorruptFile, dir, ": checkpoint lacks the sampler position");
    state.sampler = LegacyPosition(legacy->second, dir);
  }
  if (const auto best = extra.find("best_wer"); best != extra.end())
    MOME_CHECK(ParseDouble(best->second, &state.best_wer), ErrorCode::kCorruptFile, dir, ": checkpoint best_wer '",
               best->second, "' is not a number");
  return state;
}

}  // namespace mome::train
