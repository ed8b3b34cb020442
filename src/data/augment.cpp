#include "mome/data/augment.h"

#include <ATen/ATen.h>

#include "mome/data/noise.h"

namespace mome::data {
namespace {

double Uniform(std::mt19937_64& rng, double lo, double hi) {
  return lo + (hi - lo) * (static_cast<double>(rng() >> 11) / static_cast<double>(1ULL << 53));
}

int64_t UniformInt(std::mt19937_64& rng, int64_t lo, int64_t hi) {  // inclusive
  return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
}

}  // namespace

at::Tensor AugmentAudio(const at::Tensor& audio, const AugmentOptions& o, const std::vector<at::Tensor>& pool,
                        bool pool_is_noise, std::mt19937_64& rng) {
  at::Tensor out = audio.clone();
  const int64_t n = out.numel();
  // Every draw happens whether or not it is used, so one clip's choices never shift another's.
  const double coin = Uniform(rng, 0, 1), snr = Uniform(rng, o.snr_min, o.snr_max);
  const uint64_t noise_seed = rng();
  if (o.noise_prob > 0 && coin < o.noise_prob && !pool.empty() && n > 0) {
    std::mt19937_64 noise_rng(noise_seed);
    const at::Tensor noise =
        pool_is_noise ? pool[noise_rng() % pool.size()] : MakeBabble(pool, n, o.babble_talkers, noise_rng);
    out = MixAtSnr(out, noise, snr);
  }
  const auto max_len = static_cast<int64_t>(o.audio_mask_max_seconds * 16000.0);
  for (int64_t m = 0; m < o.audio_masks; ++m) {
    const int64_t len = UniformInt(rng, 0, std::max<int64_t>(0, std::min(max_len, n / 4)));
    const int64_t start = UniformInt(rng, 0, std::max<int64_t>(0, n - len));
    if (len > 0) out.narrow(0, start, len).zero_();
  }
  // Drawn last and only when asked for: runs without dropout draw exactly what they drew before.
  if (o.audio_drop_prob > 0 && Uniform(rng, 0, 1) < o.audio_drop_prob) out.zero_();
  return out;
}

at::Tensor AugmentVideo(const at::Tensor& video, const AugmentOptions& o, std::mt19937_64& rng) {
  if (o.video_masks <= 0) return video;
  at::Tensor out = video.clone();
  const int64_t t = out.size(0);
  for (int64_t m = 0; m < o.video_masks; ++m) {
    const int64_t len = UniformInt(rng, 0, std::max<int64_t>(0, std::min(o.video_mask_max_frames, t / 4)));
    const int64_t start = UniformInt(rng, 0, std::max<int64_t>(0, t - len));
    if (len > 0) out.narrow(0, start, len).zero_();
  }
  return out;
}

}  // namespace mome::data
