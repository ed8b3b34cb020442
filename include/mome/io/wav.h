// A RIFF/WAVE reader for when FFmpeg is not built in: PCM 16/24/32-bit integer and 32-bit float
// (WAVE_FORMAT_PCM, WAVE_FORMAT_IEEE_FLOAT, or WAVE_FORMAT_EXTENSIBLE carrying either), any channel count,
// mixed down to mono float in [-1, 1]. No resampling: the sample rate is reported as read.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace mome::io {

struct WavAudio {
  at::Tensor samples;  // [N] float32, CPU, mono (mean of the channels)
  int64_t sample_rate = 0;
  int64_t channels = 0;
};

// Throws mome::Error (one line naming the file) on a missing, empty, truncated or non-WAV file.
WavAudio ReadWav(const std::string& path);

// ReadWav, then requires `sample_rate` (kUnsupported otherwise: libmome resamples only through FFmpeg).
at::Tensor ReadWavMono(const std::string& path, int64_t sample_rate = 16000);

}  // namespace mome::io
