// Training-time augmentation (issue 5; seeded and reproducible: the same rng state gives the same result):
//   audio: babble (other training utterances) or a noise recording mixed at an SNR drawn from [snr_min, snr_max]
//          with probability noise_prob; time masks (spans set to zero); modality dropout (the whole audio
//          silenced with probability audio_drop_prob: the audio-visual model must then read the lips alone, which
//          trains the visual path it needs when noise drowns the audio — AV-HuBERT trains so);
//   video: time masks (frames replaced by the normalised mean, i.e. zero after normalisation).
// Random 88x88 crops and horizontal flips happen where the mouth ROI is cut (model/avsr_pipeline.cpp).
#pragma once

#include <ATen/core/Tensor.h>

#include <random>
#include <vector>

namespace mome::data {

struct AugmentOptions {
  double noise_prob = 0.0;               // probability that a clip gets noise
  double snr_min = 0.0, snr_max = 20.0;  // dB, drawn uniformly
  int64_t babble_talkers = 4;            // utterances summed into babble
  int64_t audio_masks = 0;               // time masks per clip
  double audio_mask_max_seconds = 0.2;   // longest audio mask
  int64_t video_masks = 0;               // time masks per clip
  int64_t video_mask_max_frames = 5;     // longest video mask
  double audio_drop_prob = 0.0;          // probability that a clip's audio is silenced (modality dropout)
  bool any() const { return noise_prob > 0 || audio_masks > 0 || video_masks > 0 || audio_drop_prob > 0; }
};

// `audio` [N] float at 16 kHz; `noise_pool`: utterances for babble (or noise recordings when `pool_is_noise`).
// Returns a new tensor; the input is not modified.
at::Tensor AugmentAudio(const at::Tensor& audio, const AugmentOptions& options,
                        const std::vector<at::Tensor>& noise_pool, bool pool_is_noise, std::mt19937_64& rng);

// `video` [T, H, W] float, already normalised: masked frames become 0 (the normalised mean).
at::Tensor AugmentVideo(const at::Tensor& video, const AugmentOptions& options, std::mt19937_64& rng);

}  // namespace mome::data
