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

// The first frames of the `count` quietest runs of `run` frames that start in [lo, hi) (frame indices), quietest
// first and at least `apart` frames from each other: the least mean power over the run, a pause-like stretch rather
// than one quiet frame (a stop consonant's closure is one quiet frame too).
std::vector<int64_t> QuietestRuns(const std::vector<double>& levels_db, int64_t lo, int64_t hi, int64_t run, int count,
                                  int64_t apart) {
  const auto n = static_cast<int64_t>(levels_db.size());
  hi = std::max(lo + 1, std::min(hi, n - run + 1));
  std::vector<std::pair<double, int64_t>> runs;  // (power, first frame)
  for (int64_t f = lo; f < hi; ++f) {
    double power = 0;
    for (int64_t k = f; k < std::min(n, f + run); ++k) power += std::pow(10.0, levels_db[k] / 10.0);
    runs.emplace_back(power, f);
  }
  std::stable_sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<int64_t> chosen;
  for (const auto& [power, f] : runs) {
    if (static_cast<int>(chosen.size()) >= count) break;
    if (std::all_of(chosen.begin(), chosen.end(), [&](int64_t c) { return std::abs(c - f) >= apart; }))
      chosen.push_back(f);
  }
  return chosen;
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

std::vector<SampleSpan> SplitAtPauses(const at::Tensor& audio, double max_seconds, const VadOptions& o,
                                      const CutChooser& choose) {
  MOME_CHECK(max_seconds >= 1.0, ErrorCode::kInvalidArgument, "segments must be at least 1 s long, got ", max_seconds);
  const int64_t total = audio.numel();
  const auto frame = static_cast<int64_t>(o.frame_seconds * kSampleRate);
  const auto margin = static_cast<int64_t>(o.margin_seconds * kSampleRate);
  const auto lead = static_cast<int64_t>(o.lead_seconds * kSampleRate);
  const auto max_len = static_cast<int64_t>(max_seconds * kSampleRate);
  std::vector<SampleSpan> regions = SpeechRegions(audio, o);
  // A region longer than a piece is cut in the middle of one of the quietest `cut_seconds` runs of frames that lie
  // between 30 % and 100 % of the window (the quietest, unless `choose` picks another): in speech without pauses
  // (sentences back to back) that is mostly where one sentence ends and the next begins (tools/longform_check.sh).
  std::vector<double> levels;  // only needed, and computed once, when a region must be cut
  std::vector<SampleSpan> parts;
  const int64_t run = std::max<int64_t>(1, std::llround(o.cut_seconds / o.frame_seconds));
  const int64_t apart = std::max<int64_t>(run, std::llround(0.3 / o.frame_seconds));
  for (SampleSpan r : regions) {
    const int64_t piece = max_len - 2 * margin;
    while (r.end - r.begin > piece) {
      if (levels.empty()) levels = FrameLevels(audio, frame);
      const int64_t lo = (r.begin + piece * 3 / 10) / frame, hi = (r.begin + piece) / frame - run;
      std::vector<int64_t> cuts;
      for (int64_t f : QuietestRuns(levels, lo, hi, run, choose ? std::max(1, o.cut_candidates) : 1, apart))
        cuts.push_back((f * 2 + run) * frame / 2);  // the middle of the run
      const int64_t cut = choose && cuts.size() > 1 ? choose(r, cuts) : cuts[0];
      MOME_CHECK(std::find(cuts.begin(), cuts.end(), cut) != cuts.end(), ErrorCode::kInvalidArgument,
                 "a cut chooser returned ", cut, ", not one of the candidate cuts");
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
