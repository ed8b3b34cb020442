#include "mome/frontend/vad.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "mome/core/error.h"

namespace mome::frontend {
namespace {

constexpr double kSampleRate = 16000.0;

// Frame energies in dBFS.
std::vector<double> FrameLevels(const at::Tensor& audio, int64_t frame) {
  const at::Tensor x = audio.to(at::kCPU, at::kDouble).reshape({-1});
  const int64_t frames = x.numel() / frame;
  if (frames == 0) return {};
  const at::Tensor power = x.narrow(0, 0, frames * frame).view({frames, frame}).pow(2).mean(1);
  const at::Tensor db = 10.0 * at::log10(power + 1e-12);
  return std::vector<double>(db.data_ptr<double>(), db.data_ptr<double>() + frames);
}

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

// The first frame of the quietest run of `run` frames that starts in [lo, hi) (frame indices): the least mean power
// over the run, a pause-like stretch rather than one quiet frame (a stop consonant's closure is one quiet frame too).
int64_t QuietestRun(const std::vector<double>& levels_db, int64_t lo, int64_t hi, int64_t run) {
  const auto n = static_cast<int64_t>(levels_db.size());
  hi = std::min(hi, n - run + 1);
  int64_t best = lo;
  double best_power = std::numeric_limits<double>::infinity();
  for (int64_t f = lo; f < hi; ++f) {
    double power = 0;
    for (int64_t k = f; k < f + run; ++k) power += std::pow(10.0, levels_db[k] / 10.0);
    if (power < best_power) best = f, best_power = power;
  }
  return best;
}

}  // namespace

std::vector<SampleSpan> SpeechRegions(const at::Tensor& audio, const VadOptions& o) {
  const auto frame = static_cast<int64_t>(o.frame_seconds * kSampleRate);
  const std::vector<double> levels = FrameLevels(audio, frame);
  if (levels.empty()) return {};
  const double floor = Percentile(levels, 0.1);
  const double rise = std::max(floor + o.rise_db, o.min_level_db), fall = floor + o.fall_db;
  const auto hangover = static_cast<int64_t>(std::ceil(o.hangover_seconds / o.frame_seconds));
  std::vector<SampleSpan> regions;
  int64_t start = -1, quiet = 0;
  const auto n = static_cast<int64_t>(levels.size());
  for (int64_t f = 0; f < n; ++f) {
    if (start < 0) {
      if (levels[f] > rise) start = f, quiet = 0;
      continue;
    }
    quiet = levels[f] < fall ? quiet + 1 : 0;
    if (quiet >= hangover) {
      regions.push_back({start * frame, (f - quiet + 1) * frame});
      start = -1;
    }
  }
  if (start >= 0) regions.push_back({start * frame, n * frame});
  return regions;
}

std::vector<SampleSpan> SplitAtPauses(const at::Tensor& audio, double max_seconds, const VadOptions& o) {
  MOME_CHECK(max_seconds >= 1.0, ErrorCode::kInvalidArgument, "segments must be at least 1 s long, got ", max_seconds);
  const int64_t total = audio.numel();
  const auto frame = static_cast<int64_t>(o.frame_seconds * kSampleRate);
  const auto margin = static_cast<int64_t>(o.margin_seconds * kSampleRate);
  const auto lead = static_cast<int64_t>(o.lead_seconds * kSampleRate);
  const auto max_len = static_cast<int64_t>(max_seconds * kSampleRate);
  std::vector<SampleSpan> regions = SpeechRegions(audio, o);
  // A region longer than a piece is cut in the middle of the quietest `cut_seconds` run of frames that lies between
  // 30 % and 100 % of the window: in speech without pauses (sentences back to back) that is mostly where one
  // sentence ends and the next begins (tools/longform_check.sh, below).
  std::vector<double> levels;  // only needed, and computed once, when a region must be cut
  std::vector<SampleSpan> parts;
  const int64_t run = std::max<int64_t>(1, std::llround(o.cut_seconds / o.frame_seconds));
  for (SampleSpan r : regions) {
    const int64_t piece = max_len - 2 * margin;
    while (r.end - r.begin > piece) {
      if (levels.empty()) levels = FrameLevels(audio, frame);
      const int64_t lo = (r.begin + piece * 3 / 10) / frame, hi = (r.begin + piece) / frame - run;
      const int64_t cut = (QuietestRun(levels, lo, std::max(lo + 1, hi), run) * 2 + run) * frame / 2;
      parts.push_back({r.begin, cut});
      r.begin = cut;
    }
    parts.push_back(r);
  }
  // Every pause cuts: the recogniser is trained on utterances, not on windows of several of them. Each piece keeps
  // up to `lead` of the pause before it and `margin` after it, never overlapping its neighbours.
  std::vector<SampleSpan> pieces;
  for (size_t i = 0; i < parts.size(); ++i) {
    const int64_t before = i == 0 ? 0 : (parts[i - 1].end + parts[i].begin) / 2;
    const int64_t after = i + 1 == parts.size() ? total : (parts[i].end + parts[i + 1].begin) / 2;
    pieces.push_back({std::max(before, parts[i].begin - lead), std::min(after, parts[i].end + margin)});
  }
  return pieces;
}

std::vector<SampleSpan> FixedWindows(int64_t frames, int64_t window) {
  MOME_CHECK(window > 0, ErrorCode::kInvalidArgument, "window must be positive");
  std::vector<SampleSpan> out;
  for (int64_t b = 0; b < frames; b += window) out.push_back({b, std::min(frames, b + window)});
  return out;
}

}  // namespace mome::frontend
