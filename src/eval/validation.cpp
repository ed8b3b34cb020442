#include "mome/eval/validation.h"

#include <algorithm>
#include <map>

#include "mome/decode/transcribe.h"
#include "mome/eval/wer.h"

namespace mome::eval {

CorpusValidator::CorpusValidator(const std::string& corpus_dir, const ValidationOptions& options)
    : corpus_(data::PreparedCorpus::Open(corpus_dir)), options_(options) {}

train::ValidationCounts CorpusValidator::Score(const model::AVSRPipeline& pipeline, const model::RatePair& pair,
                                               int64_t rank, int64_t world) {
  const size_t n = std::min(corpus_.size(), static_cast<size_t>(options_.max_clips));
  const size_t batch = static_cast<size_t>(options_.batch_size);
  decode::Transcriber transcriber(
      pipeline, pair, decode::PipelineGenerateOptions(pipeline, options_.beam_size, options_.max_new_tokens));
  std::map<std::string, std::string> refs, hyps;
  for (size_t begin = static_cast<size_t>(rank) * batch; begin < n; begin += batch * static_cast<size_t>(world)) {
    std::vector<data::PreparedClip> clips;
    for (size_t i = begin; i < std::min(n, begin + batch); ++i) clips.push_back(corpus_.Load(i));
    for (auto& r : transcriber.Run(clips)) {
      refs[r.key] = r.ref;
      hyps[r.key] = r.text;
    }
  }
  const auto score = ScoreCorpus(refs, hyps);
  return {score.total.errors(), score.total.words};
}

std::shared_ptr<train::Validator> ValidatorFor(const train::TrainSection& t) {
  if (t.val_data.empty()) return nullptr;
  ValidationOptions o;
  o.max_clips = t.eval_max_clips;
  o.batch_size = t.eval_batch_size;
  o.beam_size = t.eval_beam_size;
  o.max_new_tokens = t.eval_max_new_tokens;
  return std::make_shared<CorpusValidator>(t.val_data, o);
}

}  // namespace mome::eval
