// Clips -> text with an AVSR pipeline at one rate pair: features, the left-padded prompt, then generation with
// the adapters switched to that pair's scale. Shared by mome_decode and the trainer's validation.
#pragma once

#include <string>
#include <vector>

#include "mome/data/prepared.h"
#include "mome/decode/generate.h"
#include "mome/model/avsr_pipeline.h"

namespace mome::decode {

struct Transcription {
  std::string key, text, ref;
  std::vector<int64_t> ids;     // generated ids without the final EOS
  std::vector<float> logprobs;  // one per id
  double audio_seconds = 0;
};

class Transcriber {
 public:
  // options.hooks and eos_token_ids are filled in from the pipeline when left empty.
  Transcriber(model::AVSRPipeline& pipeline, const model::RatePair& pair, GenerateOptions options);
  std::vector<Transcription> Run(const std::vector<data::PreparedClip>& clips);
  const model::RatePair& pair() const { return pair_; }

 private:
  model::AVSRPipeline& pipeline_;
  model::RatePair pair_;
  int64_t scale_;
  Generator generator_;
};

// The generation defaults of a pipeline's LLM (EOS ids, pad id) with beam/max_new_tokens as given.
GenerateOptions PipelineGenerateOptions(const model::AVSRPipeline& pipeline, int64_t beam_size,
                                        int64_t max_new_tokens);

}  // namespace mome::decode
