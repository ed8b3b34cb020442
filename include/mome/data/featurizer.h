// Clips -> the tensors the model takes: raw audio through log-mel and Whisper, mouth crops through the centre
// (or, training, a random) 88x88 crop, normalisation and AV-HuBERT, the instruction and transcript tokenised.
// Training-time augmentation (noise, time masks, random crops and flips) is data preparation and lives here, not
// in the model; every random choice comes from `augment_seed`, so a batch's augmentation is reproducible.
#pragma once

#include <vector>

#include "mome/data/augment.h"
#include "mome/data/prepared.h"
#include "mome/model/avsr_pipeline.h"

namespace mome::data {

struct FeaturizeOptions {
  bool training = false;          // random 88x88 crop + horizontal flip instead of the centre crop
  uint64_t augment_seed = 0;      // with `training`: the crops/flips of this batch
  bool with_transcripts = false;  // tokenise clip.text as the training target
  // With `training`: noise and time masks (data/augment.h), drawn from augment_seed.
  const AugmentOptions* augment = nullptr;
  const std::vector<at::Tensor>* noise_pool = nullptr;  // babble utterances, or recordings when pool_is_noise
  bool pool_is_noise = false;
};

// Encoder features for a batch of clips (computed once, reused for every rate pair). Reads the pipeline only,
// so several threads may featurize with one pipeline at once.
model::ModelInputs Featurize(const model::AVSRPipeline& pipeline, const std::vector<PreparedClip>& clips,
                             const FeaturizeOptions& options = {});

}  // namespace mome::data
