// Where speech is in a long recording, and where to cut it: an energy voice-activity detector with hysteresis.
// 20 ms frames; the noise floor is the file's 10th-percentile frame energy; a frame starts speech above
// floor + 15 dB (and above -50 dBFS), speech ends after 200 ms below floor + 8 dB. Pieces of at most
// `max_seconds` are cut in the middle of pauses, with 200 ms of context kept on each side; a stretch of speech
// longer than that is cut at its quietest frame. A recording without speech gives no piece (silence, steady noise
// and steady tones have no frame 15 dB above their own floor).
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace mome::frontend {

struct SampleSpan {
  int64_t begin = 0, end = 0;  // samples [begin, end) at 16 kHz
};

struct VadOptions {
  double frame_seconds = 0.02;
  double rise_db = 15.0, fall_db = 8.0;  // above the noise floor: speech starts / may end
  double min_level_db = -50.0;           // dBFS a frame must reach to start speech
  double hangover_seconds = 0.2;         // below fall_db this long ends speech
  double margin_seconds = 0.2;           // kept around each piece
};

// Speech regions of `audio` [N] (float, 16 kHz), in order, non-overlapping.
std::vector<SampleSpan> SpeechRegions(const at::Tensor& audio, const VadOptions& options = {});

// Pieces of at most max_seconds covering every speech region, cut at pauses; empty when there is no speech.
std::vector<SampleSpan> SplitAtPauses(const at::Tensor& audio, double max_seconds, const VadOptions& options = {});

// Without audio (VSR): consecutive windows of at most `window` frames covering [0, frames).
std::vector<SampleSpan> FixedWindows(int64_t frames, int64_t window);

}  // namespace mome::frontend
