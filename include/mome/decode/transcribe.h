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
#include "mome/decode/word_timing.h"
#include "mome/frontend/vad.h"
#include "mome/model/avsr_pipeline.h"

namespace mome::decode {

// A piece of a long recording, decoded on its own; times are absolute (seconds from the start of the recording).
struct TranscriptSegment {
  double start = 0, end = 0;
  std::string text;
  std::vector<WordTiming> words;
  double avg_logprob = 0;  // mean log-probability of its tokens (0 when it has none)
};

struct Transcription {
  std::string key, text, ref;
  std::vector<int64_t> ids;                 // generated ids without the final EOS
  std::vector<float> logprobs;              // one per id
  double audio_seconds = 0;                 // the clip's length (audio, else video)
  std::vector<WordTiming> words;            // with timestamps on: every word of `text` with its span and confidence
  std::vector<TranscriptSegment> segments;  // RunLong: the pieces, in order (Run: none)
};

class Transcriber {
 public:
  // eos_token_ids are filled in from the pipeline when left empty; options.hooks must be null (the Transcriber
  // binds the pipeline's adapters to `pair` itself).
  // With `alignment` (its heads must outlive the Transcriber) every result carries word timestamps.
  Transcriber(const model::AVSRPipeline& pipeline, const model::RatePair& pair, GenerateOptions options,
              const AlignmentConfig* alignment = nullptr);
  Transcriber(const Transcriber&) = delete;  // the generator points at hooks_
  Transcriber& operator=(const Transcriber&) = delete;
  std::vector<Transcription> Run(const std::vector<data::PreparedClip>& clips);
  // A recording of any length: cut at pauses (audio; frontend/vad.h) or into fixed windows (video only) of at most
  // max_segment_seconds, the pieces decoded `batch_size` at a time, their text stitched in order and their word
  // times made absolute. Memory is bounded by a batch of pieces. No speech: no segment and an empty text.
  Transcription RunLong(const data::PreparedClip& clip, double max_segment_seconds, int64_t batch_size);
  // A recording as a user hands it over (mome_decode's media files, mome_serve's uploads): without speech an empty
  // transcript, up to max_segment_seconds decoded whole, longer ones with RunLong.
  Transcription RunRecording(const data::PreparedClip& clip, double max_segment_seconds, int64_t batch_size);
  const model::RatePair& pair() const { return pair_; }

  // The attention of `ids` teacher-forced after row `row` of a (left-padded) prompt, per layer [heads, n, S]
  // float32, at the positions that predicted each id; `timeline` gets the row's audio/video token positions and
  // times (the clip lasts `duration` s). What timestamps and alignment-head selection are computed from.
  std::vector<at::Tensor> ForcedAttention(const model::PromptBatch& prompt, int64_t row,
                                          const std::vector<int64_t>& ids, double duration,
                                          PromptTimeline* timeline) const;
  const model::AVSRPipeline& pipeline() const { return pipeline_; }

 private:
  std::vector<Transcription> Decode(const std::vector<data::PreparedClip>& clips, bool with_timestamps);
  std::vector<WordTiming> Timestamps(const model::PromptBatch& prompt, int64_t row, const Transcription& t) const;
  // Which of `cuts` (samples, quietest first) to cut a stretch of speech without pauses at: each candidate's pieces
  // on either side are decoded, and the one whose words next to the cut the model is surest of wins.
  int64_t ChooseCut(const data::PreparedClip& clip, const frontend::SampleSpan& stretch,
                    const std::vector<int64_t>& cuts, int64_t piece_samples);

  const model::AVSRPipeline& pipeline_;
  model::RatePair pair_;
  adapters::BoundAdapters hooks_;  // the pair's scale, no router statistics (decoding never reads them)
  Generator generator_;
  const AlignmentConfig* alignment_;
};

// The length of a clip in seconds: its audio, else its video at 25 fps.
double ClipSeconds(const data::PreparedClip& clip);
// Whether RunRecording decodes `clip` in pieces: no speech in its audio (then nothing is decoded) or longer than
// max_segment_seconds.
bool NeedsPieces(const data::PreparedClip& clip, double max_segment_seconds);

// The generation defaults of a pipeline's LLM (EOS ids, pad id) with beam/max_new_tokens as given.
GenerateOptions PipelineGenerateOptions(const model::AVSRPipeline& pipeline, int64_t beam_size, int64_t max_new_tokens);

}  // namespace mome::decode
