#include "mome/data/clip_sequence.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <utility>

namespace mome::data {
namespace {

constexpr int64_t kSamplesPerFrame = 640;  // 16 kHz audio, 25 fps video
constexpr double kFrameSeconds = 0.04;

// The clip's length in video frames (from its video, else from its audio).
int64_t Frames(const PreparedClip& c) {
  if (c.video.defined()) return c.video.size(0);
  return c.audio.defined() ? (c.audio.numel() + kSamplesPerFrame - 1) / kSamplesPerFrame : 0;
}

// Audio cut or zero-padded to exactly `frames` video frames, so that what follows starts in step with the video.
at::Tensor AudioOfFrames(const at::Tensor& audio, int64_t frames) {
  const int64_t n = frames * kSamplesPerFrame;
  if (audio.numel() >= n) return audio.narrow(0, 0, n);
  return at::constant_pad_nd(audio, {0, n - audio.numel()});
}

at::Tensor HeldFrames(const at::Tensor& video, int64_t index, int64_t count) {
  return video.narrow(0, index, 1).expand({count, video.size(1), video.size(2)});
}

double Draw(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) / static_cast<double>(1ULL << 53);
}

int64_t FramesUpTo(std::mt19937_64& rng, double max_seconds) {
  return static_cast<int64_t>(Draw(rng) * (max_seconds / kFrameSeconds + 1));
}

}  // namespace

PreparedClip JoinClips(const PreparedClip& a, const PreparedClip& b, int64_t pause_frames) {
  const int64_t fa = Frames(a);
  PreparedClip out;
  out.key = a.key + "+" + b.key;
  out.text = a.text.empty() ? b.text : (b.text.empty() ? a.text : a.text + " " + b.text);
  out.words = a.words;
  const double shift = static_cast<double>(fa + pause_frames) * kFrameSeconds;
  for (auto w : b.words) {
    w.start += shift;
    w.end += shift;
    out.words.push_back(w);
  }
  if (a.audio.defined() && b.audio.defined())
    out.audio =
        at::cat({AudioOfFrames(a.audio, fa), at::zeros({pause_frames * kSamplesPerFrame}, a.audio.options()), b.audio});
  if (a.video.defined() && b.video.defined())
    out.video = at::cat({a.video, HeldFrames(a.video, fa - 1, pause_frames), b.video});
  return out;
}

PreparedClip PadClip(const PreparedClip& clip, int64_t lead_frames, int64_t tail_frames) {
  PreparedClip out = clip;
  const int64_t frames = Frames(clip);
  for (auto& w : out.words) {
    w.start += static_cast<double>(lead_frames) * kFrameSeconds;
    w.end += static_cast<double>(lead_frames) * kFrameSeconds;
  }
  if (clip.audio.defined()) {
    const auto opts = clip.audio.options();
    out.audio = at::cat({at::zeros({lead_frames * kSamplesPerFrame}, opts), AudioOfFrames(clip.audio, frames),
                         at::zeros({tail_frames * kSamplesPerFrame}, opts)});
  }
  if (clip.video.defined() && frames > 0)
    out.video =
        at::cat({HeldFrames(clip.video, 0, lead_frames), clip.video, HeldFrames(clip.video, frames - 1, tail_frames)});
  return out;
}

// Appends further clips, each after its own pause, while the chain stays within a length drawn from
// [0, join_max_seconds]; every draw comes from `pick`, the clip's own stream.
PreparedClip ExtendChain(PreparedClip chain, const SequenceOptions& o,
                         const std::function<PreparedClip(std::mt19937_64&)>& other, std::mt19937_64& pick) {
  const auto limit = static_cast<int64_t>(Draw(pick) * o.join_max_seconds / kFrameSeconds);
  while (Frames(chain) < limit) {
    const int64_t pause = FramesUpTo(pick, o.pause_max_seconds);
    PreparedClip next = other(pick);
    if (Frames(chain) + pause + Frames(next) > limit) break;
    chain = JoinClips(chain, next, pause);
  }
  return chain;
}

namespace {

// join_in_batch: the batch's clips two by two (an odd one out stays single), each row padded as in
// AugmentSequences; three draws per row whether or not they are used.
void JoinWithinBatch(std::vector<PreparedClip>* clips, const SequenceOptions& o, std::mt19937_64& rng) {
  const bool join = Draw(rng) < o.join_prob;
  std::vector<PreparedClip> rows;
  for (size_t i = 0; i < clips->size(); ++i) {
    const int64_t pause = FramesUpTo(rng, o.pause_max_seconds);
    const int64_t lead = FramesUpTo(rng, o.pad_max_seconds), tail = FramesUpTo(rng, o.pad_max_seconds);
    PreparedClip row = std::move((*clips)[i]);
    if (join && i + 1 < clips->size() && Frames(row) > 0) row = JoinClips(row, (*clips)[++i], pause);
    if (lead > 0 || tail > 0) row = PadClip(row, lead, tail);
    rows.push_back(std::move(row));
  }
  *clips = std::move(rows);
}

}  // namespace

void AugmentSequences(std::vector<PreparedClip>* clips, const SequenceOptions& o,
                      const std::function<PreparedClip(std::mt19937_64&)>& other, std::mt19937_64& rng) {
  if (o.join_in_batch) return JoinWithinBatch(clips, o, rng);
  for (auto& clip : *clips) {
    // Every draw happens whether or not it is used, so one clip's choices never shift another's.
    const bool join = Draw(rng) < o.join_prob;
    const int64_t pause = FramesUpTo(rng, o.pause_max_seconds);
    const int64_t lead = FramesUpTo(rng, o.pad_max_seconds), tail = FramesUpTo(rng, o.pad_max_seconds);
    std::mt19937_64 pick(rng());
    if (join && Frames(clip) > 0) {
      clip = JoinClips(clip, other(pick), pause);
      if (o.join_max_seconds > 0) clip = ExtendChain(std::move(clip), o, other, pick);
    }
    if (lead > 0 || tail > 0) clip = PadClip(clip, lead, tail);
  }
}

}  // namespace mome::data
