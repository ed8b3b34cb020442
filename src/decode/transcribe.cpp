#include "mome/decode/transcribe.h"

#include <torch/csrc/autograd/grad_mode.h>

#include "mome/core/error.h"
#include "mome/data/featurizer.h"

namespace mome::decode {

GenerateOptions PipelineGenerateOptions(const model::AVSRPipeline& pipeline, int64_t beam_size,
                                        int64_t max_new_tokens) {
  GenerateOptions o;
  o.beam_size = beam_size;
  o.max_new_tokens = max_new_tokens;
  const auto& c = pipeline.llm()->config();
  o.eos_token_ids = c.eos_token_ids;
  if (const auto eos = pipeline.tokenizer().EosId())
    if (std::find(o.eos_token_ids.begin(), o.eos_token_ids.end(), *eos) == o.eos_token_ids.end())
      o.eos_token_ids.push_back(*eos);
  o.pad_token_id = o.eos_token_ids.empty() ? 0 : o.eos_token_ids[0];
  return o;
}

namespace {
GenerateOptions WithPipeline(const model::AVSRPipeline& p, GenerateOptions o, const llm::LayerHooks* hooks) {
  MOME_CHECK(o.hooks == nullptr, ErrorCode::kInvalidArgument,
             "Transcriber binds the pipeline's adapters itself: leave GenerateOptions::hooks empty");
  if (o.eos_token_ids.empty()) o.eos_token_ids = PipelineGenerateOptions(p, 1, 1).eos_token_ids;
  o.hooks = hooks;
  return o;
}
}  // namespace

Transcriber::Transcriber(const model::AVSRPipeline& pipeline, const model::RatePair& pair, GenerateOptions options)
    : pipeline_(pipeline),
      pair_(pair),
      hooks_(pipeline.model()->AdaptersFor(pair)),
      generator_(*pipeline.llm(), WithPipeline(pipeline, std::move(options), &hooks_)) {}

std::vector<Transcription> Transcriber::Run(const std::vector<data::PreparedClip>& clips) {
  torch::NoGradGuard no_grad;
  const model::ModelInputs inputs = data::Featurize(pipeline_, clips);
  const model::PromptBatch prompt =
      pipeline_.model()->BuildPrompt(inputs, pair_, model::PaddingSide::kLeft, /*with_transcript=*/false);
  const std::vector<Hypothesis> hyps = generator_.Generate(prompt.embeds, prompt.valid);
  const auto& eos = generator_.options().eos_token_ids;
  std::vector<Transcription> out;
  for (size_t i = 0; i < clips.size(); ++i) {
    Transcription t;
    t.key = clips[i].key;
    t.ref = clips[i].text;
    t.audio_seconds = clips[i].audio.defined() ? clips[i].audio.numel() / 16000.0
                                               : (clips[i].video.defined() ? clips[i].video.size(0) / 25.0 : 0.0);
    t.ids = hyps[i].ids;
    t.logprobs = hyps[i].logprobs;
    if (!t.ids.empty() && std::find(eos.begin(), eos.end(), t.ids.back()) != eos.end()) {
      t.ids.pop_back();
      t.logprobs.pop_back();
    }
    t.text = pipeline_.tokenizer().Decode(t.ids, /*skip_special_tokens=*/true);
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace mome::decode
