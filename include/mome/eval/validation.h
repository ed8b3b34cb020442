// Validation WER during training: decodes a prepared corpus at one rate pair and counts word errors, as
// mome_decode would. Plugged into the trainer through train::Validator.
#pragma once

#include <memory>
#include <string>

#include "mome/data/prepared.h"
#include "mome/train/trainer.h"

namespace mome::eval {

struct ValidationOptions {
  int64_t max_clips = 200;  // the first N clips of the corpus
  int64_t batch_size = 16;
  int64_t beam_size = 1;
  int64_t max_new_tokens = 32;
};

class CorpusValidator : public train::Validator {
 public:
  CorpusValidator(const std::string& corpus_dir, const ValidationOptions& options);
  train::ValidationCounts Score(const model::AVSRPipeline& pipeline, const model::RatePair& pair, int64_t rank,
                                int64_t world) override;

 private:
  data::PreparedCorpus corpus_;
  ValidationOptions options_;
};

// The validator train.val_data and train.eval_* ask for, or null when val_data is empty.
std::shared_ptr<train::Validator> ValidatorFor(const train::TrainSection& train);

}  // namespace mome::eval
