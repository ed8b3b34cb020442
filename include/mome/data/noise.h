// Additive noise at a chosen SNR (training augmentation and mome_decode's robustness sweep): babble built from
// other utterances, or a noise recording, mixed so that 10 log10(P_speech / P_noise) equals the request.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <random>
#include <vector>

namespace mome::data {

// Scales `noise` (looped or cut to the speech's length) to `snr_db` against `speech` and returns the mixture.
// Silent speech or noise returns the speech unchanged.
at::Tensor MixAtSnr(const at::Tensor& speech, const at::Tensor& noise, double snr_db);

// Babble: the sum of `talkers` utterances from `pool` (each at unit power, random offsets), `samples` long.
at::Tensor MakeBabble(const std::vector<at::Tensor>& pool, int64_t samples, int64_t talkers, std::mt19937_64& rng);

// Measured SNR in dB of `mixture - speech` against `speech` (for tests and reports).
double MeasureSnr(const at::Tensor& speech, const at::Tensor& mixture);

}  // namespace mome::data
