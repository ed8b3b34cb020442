// Training clips that look like the recordings long-form decoding cuts (issue 17): a sentence followed by another
// after a pause, and silence before and after the speech. Models trained on tightly cut single sentences stop after
// the first sentence of a piece and are thrown by a leading pause; these two augmentations teach both.
// Audio and video stay in step: audio is cut or padded to whole video frames (640 samples at 16 kHz / 25 fps),
// pauses are silence in the audio and the edge frame held in the video; word times move with the audio.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "mome/data/prepared.h"

namespace mome::data {

struct SequenceOptions {
  double join_prob = 0.0;        // probability that a clip is followed by another training clip
  double pause_max_seconds = 0;  // pause between the two, drawn from [0, pause_max_seconds]
  double pad_max_seconds = 0.0;  // silence before and after a clip, each drawn from [0, pad_max_seconds]
  // > 0: a joined clip grows into a chain, clip after clip, up to a length drawn uniformly from
  // [0, join_max_seconds] (long-form segments hold many sentences); 0: at most one clip is appended.
  double join_max_seconds = 0.0;
  // true: with probability join_prob a whole batch is joined, its clips two by two (a+b, c+d, ...), instead of
  // clips followed by random corpus clips. The length-bucketed batch then keeps its frames in half the rows, where
  // one appended clip would pad every row of its batch to twice the length (the demo AVSR step cost 1.9x).
  bool join_in_batch = false;
  bool any() const { return join_prob > 0 || pad_max_seconds > 0; }
};

// `a` then `pause_frames` of silence then `b`; text joined with a space, b's word times shifted.
PreparedClip JoinClips(const PreparedClip& a, const PreparedClip& b, int64_t pause_frames);

// `lead_frames` of silence before the clip and `tail_frames` after it; word times shifted by the lead.
PreparedClip PadClip(const PreparedClip& clip, int64_t lead_frames, int64_t tail_frames);

// Applies both to every clip of a batch, drawing from `rng`; `other` loads the clip to append (a random index of
// the training corpus, drawn from `rng` too; unused with join_in_batch).
void AugmentSequences(std::vector<PreparedClip>* clips, const SequenceOptions& options,
                      const std::function<PreparedClip(std::mt19937_64&)>& other, std::mt19937_64& rng);

}  // namespace mome::data
