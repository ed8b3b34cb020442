#include "mome/data/featurizer.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <random>

#include "mome/core/error.h"
#include "mome/frontend/log_mel.h"

namespace mome::data {
namespace {

constexpr int64_t kRoiSize = 88;
constexpr double kRoiMean = 0.421, kRoiStd = 0.165;

at::Tensor EncodeAudio(const model::AVSRPipeline& p, const std::vector<PreparedClip>& clips, const FeaturizeOptions& o,
                       at::Tensor* lengths) {
  const bool per_clip = !o.training;
  const bool augment = o.training && o.augment && o.augment->any();
  std::mt19937_64 rng(o.augment_seed ^ 0xa0d10ULL);
  const auto& c = p.whisper()->config();
  frontend::LogMelOptions mel_options;
  mel_options.n_mels = c.num_mel_bins;
  mel_options.pad_to_30s = p.config().audio_encoder.pad_to_30s;
  std::vector<at::Tensor> waves;
  std::vector<int64_t> lens;
  for (const auto& clip : clips) {
    MOME_CHECK(clip.audio.defined() && clip.audio.numel() > 0, ErrorCode::kInvalidArgument, "clip '", clip.key,
               "' has no audio, which modality ", p.config().model.modality, " needs");
    MOME_CHECK(at::isfinite(clip.audio).all().item<bool>(), ErrorCode::kInvalidArgument, "clip '", clip.key,
               "': audio holds NaN or infinite samples");
    const int64_t n = clip.audio.numel();
    MOME_CHECK(n <= frontend::kWhisperChunkSamples, ErrorCode::kInvalidArgument, "clip '", clip.key, "' is ",
               n / 16000.0, " s long; Whisper takes at most 30 s (cut it first, e.g. mome_prepare segments)");
    at::Tensor wave = clip.audio;
    if (augment)
      wave = AugmentAudio(wave.to(at::kFloat), *o.augment, o.noise_pool ? *o.noise_pool : std::vector<at::Tensor>{},
                          o.pool_is_noise, rng);
    waves.push_back(wave.to(p.device()));
    lens.push_back(mel_options.pad_to_30s ? encoders::WhisperCutLength(n, c.max_source_positions)
                                          : ((n / frontend::kWhisperHop) + 1) / 2);
  }
  const int64_t longest = *std::max_element(lens.begin(), lens.end());
  *lengths = at::tensor(lens, at::kLong);
  torch::AutoGradMode grad(p.config().audio_encoder.trainable && torch::GradMode::is_enabled());
  auto encode = [&](const std::vector<at::Tensor>& w) {
    at::Tensor mel;
    {
      torch::NoGradGuard no_grad;
      mel = frontend::LogMel(mel_options)(w);
    }
    return p.whisper()->forward(mel);
  };
  // Padded to 30 s every clip sees the same input length, so a batch is exact. On the true length the batch
  // would be padded to its longest clip (no attention mask in Whisper), so for batch-invariant results each
  // clip is encoded alone unless speed matters more (training).
  if (mel_options.pad_to_30s || !per_clip) return encode(waves).slice(1, 0, longest);
  at::Tensor out = at::zeros({static_cast<int64_t>(waves.size()), longest, c.d_model},
                             at::TensorOptions().device(p.device()).dtype(p.dtype()));
  for (size_t i = 0; i < waves.size(); ++i)
    out[static_cast<int64_t>(i)].narrow(0, 0, lens[i]).copy_(encode({waves[i]})[0].narrow(0, 0, lens[i]));
  return out;
}

at::Tensor EncodeVideo(const model::AVSRPipeline& p, const std::vector<PreparedClip>& clips, const FeaturizeOptions& o,
                       at::Tensor* lengths) {
  std::mt19937_64 rng(o.augment_seed);
  std::vector<at::Tensor> rois;
  std::vector<int64_t> lens;
  int64_t longest = 0;
  for (const auto& clip : clips) {
    MOME_CHECK(clip.video.defined() && clip.video.size(0) > 0, ErrorCode::kInvalidArgument, "clip '", clip.key,
               "' has no video, which modality ", p.config().model.modality, " needs");
    const at::Tensor& v = clip.video;  // [T, H, W] uint8 mouth crops
    MOME_CHECK(v.size(1) >= kRoiSize && v.size(2) >= kRoiSize, ErrorCode::kShapeMismatch, "clip '", clip.key,
               "': mouth crops must be at least 88x88, got ", v.size(1), "x", v.size(2));
    int64_t top = (v.size(1) - kRoiSize) / 2, left = (v.size(2) - kRoiSize) / 2;
    bool flip = false;
    if (o.training) {  // RandomCrop 88 + horizontal flip (SPEC.md §1, training only)
      top = static_cast<int64_t>(rng() % (v.size(1) - kRoiSize + 1));
      left = static_cast<int64_t>(rng() % (v.size(2) - kRoiSize + 1));
      flip = rng() % 2 == 1;
    }
    at::Tensor roi = v.slice(1, top, top + kRoiSize).slice(2, left, left + kRoiSize);
    if (flip) roi = roi.flip({2});
    rois.push_back(roi);
    lens.push_back(v.size(0));
    longest = std::max(longest, v.size(0));
  }
  // Normalised first, then zero-padded: padding then looks like the zero padding of the Conv3d front end, so a
  // clip's features do not depend on the batch it is in. roi_pool > 1 averages pixel blocks: the front end's
  // stem convolution, batch norm and max-pool, most of a CPU training step, then cost 1/roi_pool^2.
  const int64_t pool = p.config().video_encoder.roi_pool, side = kRoiSize / pool;
  at::Tensor video = at::zeros({static_cast<int64_t>(clips.size()), longest, side, side},
                               at::TensorOptions().device(p.device()).dtype(p.dtype()));
  for (size_t i = 0; i < rois.size(); ++i) {
    at::Tensor frames = (rois[i].to(p.device(), at::kFloat) / 255.0 - kRoiMean) / kRoiStd;
    if (pool > 1) frames = at::avg_pool2d(frames.unsqueeze(1), {pool, pool}).squeeze(1);
    if (o.training && o.augment && o.augment->video_masks > 0) frames = AugmentVideo(frames, *o.augment, rng);
    video[static_cast<int64_t>(i)].narrow(0, 0, lens[i]).copy_(frames);
  }
  *lengths = at::tensor(lens, at::kLong);
  const at::Tensor device_lengths = lengths->to(p.device());
  torch::AutoGradMode grad(p.config().video_encoder.trainable && torch::GradMode::is_enabled());
  return p.avhubert()->forward(video, device_lengths);
}

}  // namespace

model::ModelInputs Featurize(const model::AVSRPipeline& p, const std::vector<PreparedClip>& clips,
                             const FeaturizeOptions& o) {
  MOME_CHECK(!clips.empty(), ErrorCode::kInvalidArgument, "an empty batch");
  model::ModelInputs in;
  if (p.uses_audio()) in.audio = EncodeAudio(p, clips, o, &in.audio_lengths);
  if (p.uses_video()) in.video = EncodeVideo(p, clips, o, &in.video_lengths);
  for (const auto& clip : clips) {
    in.instruction_ids.push_back(p.instruction_ids());
    if (o.with_transcripts) {
      const std::string text = model::AVSRPipeline::NormalizeTranscript(clip.text);
      MOME_CHECK(!text.empty(), ErrorCode::kInvalidArgument, "clip '", clip.key, "' has an empty transcript");
      in.transcript_ids.push_back(p.tokenizer().Encode(text, false));
    }
  }
  return in;
}

}  // namespace mome::data
