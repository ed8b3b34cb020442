// Clips -> text with an AVSR pipeline at one rate pair: features, the left-padded prompt, then generation with
// the adapters bound to that pair's scale. Shared by mome_decode and the validation during training.
// A Transcriber is per-thread state (its KV cache, captured graphs); the pipeline it reads is shared: any number
// of Transcribers, at any rate pairs, may run on one pipeline at the same time.
#pragma once

#include <string>
#include <vector>

#include "mome/adapters/adapter_set.h"
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
  // eos_token_ids are filled in from the pipeline when left empty; options.hooks must be null (the Transcriber
  // binds the pipeline's adapters to `pair` itself).
  Transcriber(const model::AVSRPipeline& pipeline, const model::RatePair& pair, GenerateOptions options);
  Transcriber(const Transcriber&) = delete;  // the generator points at hooks_
  Transcriber& operator=(const Transcriber&) = delete;
  std::vector<Transcription> Run(const std::vector<data::PreparedClip>& clips);
  const model::RatePair& pair() const { return pair_; }

 private:
  const model::AVSRPipeline& pipeline_;
  model::RatePair pair_;
  adapters::BoundAdapters hooks_;  // the pair's scale, no router statistics (decoding never reads them)
  Generator generator_;
};

// The generation defaults of a pipeline's LLM (EOS ids, pad id) with beam/max_new_tokens as given.
GenerateOptions PipelineGenerateOptions(const model::AVSRPipeline& pipeline, int64_t beam_size, int64_t max_new_tokens);

}  // namespace mome::decode
