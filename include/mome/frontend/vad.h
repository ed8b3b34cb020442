// Where speech is in a long recording, and where to cut it: an energy voice-activity detector with hysteresis.
// 20 ms frames; the noise floor is the file's 10th-percentile frame energy; a frame starts speech above
// floor + 15 dB (and above -50 dBFS), speech ends after 300 ms below floor + 8 dB. Every such pause cuts (the
// recogniser is trained on utterances, not on windows holding several). A piece keeps 0.15 s before the detected
// onset and 50 ms after the end: between sentences back to back the floor is the speech's own quiet, and a soft
// start (the /p/ of PLACE) lies below floor + 15 dB (tools/longform_check.sh, 4 s pieces, a model whose AVSR stage
// joins sentences: back to back 5.69 % with no lead, 4.58 / 4.31 / 4.17 / 4.31 % with 50 / 100 / 150 / 200 ms;
// models trained on single clips that start at their first word were hurt by a lead, 2026-12-05). A stretch of
// speech longer than `max_seconds` is cut in the middle of one of its quietest 200 ms runs: the quietest, or the
// one a CutChooser picks among the `cut_candidates` quietest (the Transcriber decodes the pieces on both sides of
// each and keeps the cut whose neighbouring words the model is surest of). Back-to-back sentences, demo ASR model,
// 4 s pieces: the quietest run 10.0 % WER (the quietest 20 ms frame: 16.5-17.1 %), the model's choice among 4 runs
// 7.5 % (among 6: 6.9 %), the run nearest a true sentence boundary 4.7 %. With the sentence-joining AVSR model
// (runs/r6, 83 files of 5-7 clips): 3 candidates 2.66 %, 4: 3.38, 6: 2.97 (2 tokens a side; with 3 tokens a side
// 3.79 / 4.88 / 4.37). Also measured and not kept: cutting where the model's word timestamps
// put the end of its last complete word, as Whisper seeks, 30.6 %; at the word after which the model most expects
// its end of sequence 15.7 %; by the whole piece's mean or least token log-probability, 16.3 / 19.3 % (the model is
// surest of pieces that end inside a sentence, whose last words it completes from the grammar). A recording without
// speech gives no piece (silence, steady noise and steady tones have no frame 15 dB above their own floor).
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

namespace mome::frontend {

struct SampleSpan {
  int64_t begin = 0, end = 0;  // samples [begin, end) at 16 kHz
};

struct VadOptions {
  double frame_seconds = 0.02;
  double rise_db = 15.0, fall_db = 8.0;  // above the noise floor: speech starts / may end
  double min_level_db = -50.0;           // dBFS a frame must reach to start speech
  double hangover_seconds = 0.3;         // below fall_db this long ends speech
  double margin_seconds = 0.05;          // kept after each piece (the decay of the last sound)
  double lead_seconds = 0.15;            // kept before each piece: a soft onset (the /p/ of PLACE) starts below rise_db
  double cut_seconds = 0.2;              // a stretch without pauses is cut in one of its quietest runs this long
  int cut_candidates = 3;                // quietest runs offered to a CutChooser (at least 0.3 s apart)
};

// Where a stretch of speech too long for one piece is cut: given the stretch still to cut [begin, end) and the
// candidate cuts (samples, quietest first), returns one of the candidates.
using CutChooser = std::function<int64_t(const SampleSpan& stretch, const std::vector<int64_t>& candidates)>;

// Speech regions of `audio` [N] (float, 16 kHz), in order, non-overlapping.
std::vector<SampleSpan> SpeechRegions(const at::Tensor& audio, const VadOptions& options = {});

// One piece per utterance (speech between pauses), none longer than max_seconds; empty when there is no speech.
// Without `choose` a stretch without pauses is cut in its quietest run.
std::vector<SampleSpan> SplitAtPauses(const at::Tensor& audio, double max_seconds, const VadOptions& options = {},
                                      const CutChooser& choose = nullptr);

// Without audio (VSR): consecutive windows of at most `window` frames covering [0, frames).
std::vector<SampleSpan> FixedWindows(int64_t frames, int64_t window);

}  // namespace mome::frontend
