#include "mome/frontend/log_mel.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "mome/core/error.h"

namespace mome::frontend {
namespace {

// Slaney mel scale (HF hertz_to_mel / mel_to_hertz with mel_scale="slaney").
constexpr double kMinLogHertz = 1000.0;
constexpr double kMinLogMel = 15.0;
double LogStep() { return 27.0 / std::log(6.4); }

double HertzToMel(double hz) {
  if (hz < kMinLogHertz) return 3.0 * hz / 200.0;
  return kMinLogMel + std::log(hz / kMinLogHertz) * LogStep();
}

double MelToHertz(double mel) {
  if (mel < kMinLogMel) return 200.0 * mel / 3.0;
  return kMinLogHertz * std::exp((mel - kMinLogMel) / LogStep());
}

}  // namespace

at::Tensor WhisperMelFilters(int64_t n_mels) {
  MOME_CHECK(n_mels > 0, ErrorCode::kInvalidArgument, "log-mel: n_mels must be positive, got ", n_mels);
  const int64_t bins = kWhisperNFft / 2 + 1;
  const double mel_min = HertzToMel(0.0), mel_max = HertzToMel(8000.0);
  std::vector<double> filter_freqs(n_mels + 2);
  for (int64_t i = 0; i < n_mels + 2; ++i)
    filter_freqs[i] = MelToHertz(mel_min + (mel_max - mel_min) * static_cast<double>(i) / static_cast<double>(n_mels + 1));
  auto out = torch::zeros({bins, n_mels}, torch::kDouble);
  auto acc = out.accessor<double, 2>();
  for (int64_t f = 0; f < bins; ++f) {
    const double freq = static_cast<double>(kWhisperSampleRate / 2) * static_cast<double>(f) / static_cast<double>(bins - 1);
    for (int64_t m = 0; m < n_mels; ++m) {
      const double down = -(filter_freqs[m] - freq) / (filter_freqs[m + 1] - filter_freqs[m]);
      const double up = (filter_freqs[m + 2] - freq) / (filter_freqs[m + 2] - filter_freqs[m + 1]);
      const double enorm = 2.0 / (filter_freqs[m + 2] - filter_freqs[m]);
      acc[f][m] = std::max(0.0, std::min(down, up)) * enorm;
    }
  }
  return out;
}

LogMel::LogMel(const LogMelOptions& options) : options_(options) {
  MOME_CHECK(options.n_mels == 80 || options.n_mels == 128, ErrorCode::kInvalidArgument,
             "log-mel: n_mels must be 80 or 128, got ", options.n_mels);
  filters_ = WhisperMelFilters(options.n_mels).t().contiguous();
}

at::Tensor LogMel::operator()(const at::Tensor& waveform) const { return (*this)(std::vector<at::Tensor>{waveform})[0]; }

at::Tensor LogMel::operator()(const std::vector<at::Tensor>& waveforms) const {
  MOME_CHECK(!waveforms.empty(), ErrorCode::kInvalidArgument, "log-mel: empty batch");
  const auto device = waveforms[0].device();
  int64_t longest = 0;
  for (const auto& w : waveforms) {
    MOME_CHECK(w.dim() == 1, ErrorCode::kShapeMismatch, "log-mel: a waveform must be 1-D [samples], got ", w.sizes());
    longest = std::max(longest, w.size(0));
  }
  const int64_t length = options_.pad_to_30s ? kWhisperChunkSamples : longest;
  MOME_CHECK(length > kWhisperNFft / 2, ErrorCode::kInvalidArgument, "log-mel: clip too short (", length,
             " samples; need more than ", kWhisperNFft / 2, ")");
  // fp32 everywhere: float64 on CPU was tried and does not move the difference from HF (max 3.9e-5).
  const auto compute = torch::kFloat;
  const auto f32 = torch::TensorOptions().dtype(compute).device(device);
  auto batch = torch::zeros({static_cast<int64_t>(waveforms.size()), length}, f32);
  for (size_t b = 0; b < waveforms.size(); ++b) {
    auto w = waveforms[b].to(f32);
    const int64_t n = std::min(w.size(0), length);
    w = w.slice(0, 0, n);
    if (options_.normalize && n > 0) {
      // HF zero_mean_unit_var_norm: population variance, eps 1e-7, padding stays 0.
      auto wd = w.to(torch::kDouble);
      auto mean = wd.mean();
      auto var = (wd - mean).pow(2).mean();
      w = ((wd - mean) / (var + 1e-7).sqrt()).to(compute);
    }
    batch[static_cast<int64_t>(b)].slice(0, 0, n).copy_(w);
  }
  const auto window = torch::hann_window(kWhisperNFft, /*periodic=*/true, f32);
  auto spec = torch::stft(batch, kWhisperNFft, kWhisperHop, kWhisperNFft, window, /*center=*/true, "reflect",
                          /*normalized=*/false, /*onesided=*/true, /*return_complex=*/true);
  auto power = spec.abs().pow(2);                           // [B, 201, frames + 1]
  power = power.slice(2, 0, power.size(2) - 1);             // drop the last frame
  auto mel = torch::matmul(filters_.to(device, compute), power);     // [B, n_mels, frames]
  auto log_spec = torch::clamp_min(mel, 1e-10).log10();
  auto max = std::get<0>(log_spec.flatten(1).max(1)).view({-1, 1, 1});
  log_spec = torch::maximum(log_spec, max - 8.0);
  return ((log_spec + 4.0) / 4.0).to(torch::kFloat);
}

}  // namespace mome::frontend
