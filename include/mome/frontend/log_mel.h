// Whisper's log-mel front end, numerically equal to HF WhisperFeatureExtractor (within 1e-4):
// n_fft 400, hop 160, periodic Hann window, centred STFT with reflect padding, power spectrogram, Slaney mel
// filters (0-8000 Hz, Slaney norm), last frame dropped, log10(max(x, 1e-10)), clamp to (max - 8), (x + 4) / 4.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace mome::frontend {

constexpr int64_t kWhisperSampleRate = 16000;
constexpr int64_t kWhisperNFft = 400;
constexpr int64_t kWhisperHop = 160;
constexpr int64_t kWhisperChunkSamples = 480000;  // 30 s
constexpr int64_t kWhisperChunkFrames = 3000;

struct LogMelOptions {
  int64_t n_mels = 80;     // 80 or 128
  bool pad_to_30s = true;  // true: every clip padded (or truncated) to 480000 samples -> 3000 frames (reference);
                           // false: the batch is zero-padded to its longest clip -> longest / 160 frames
  bool normalize = false;  // HF do_normalize: zero mean / unit variance over each clip's true samples
};

// HF mel_filter_bank(201, n_mels, 0, 8000, 16000, norm="slaney", mel_scale="slaney"): [201, n_mels] float64 (CPU).
at::Tensor WhisperMelFilters(int64_t n_mels);

class LogMel {
 public:
  explicit LogMel(const LogMelOptions& options = {});
  const LogMelOptions& options() const { return options_; }
  // Waveforms: 16 kHz mono float, any device (the computation runs there). Returns [B, n_mels, frames] fp32
  // on that device (computed in fp32); each clip's max-8 clamp is its own (as HF).
  at::Tensor operator()(const std::vector<at::Tensor>& waveforms) const;
  at::Tensor operator()(const at::Tensor& waveform) const;  // one clip [N] -> [n_mels, frames]

 private:
  LogMelOptions options_;
  at::Tensor filters_;  // [n_mels, 201] float64 CPU
};

}  // namespace mome::frontend
