#include "mome/train/train_config.h"

#include <cmath>
#include <utility>

namespace mome::train {

void TrainSection::Visit(ConfigVisitor& v) {
  v.Field("data", data, "prepared training corpus (mome_prepare --out)");
  v.Field("val_data", val_data, "prepared validation corpus for WER; empty = no validation");
  v.Field("max_steps", max_steps, "optimiser steps");
  v.Field("checkpoint_every", checkpoint_every, "steps between checkpoints");
  v.Field("eval_every", eval_every, "steps between validations; 0 = at every checkpoint");
  v.Field("log_every", log_every, "steps between metrics lines");
  v.Field("keep_last", keep_last, "checkpoints kept (besides the best)");
  v.Field("lr", lr, "peak learning rate");
  v.Field("min_lr", min_lr, "final learning rate of the cosine decay");
  v.Field("warmup_steps", warmup_steps, "linear warmup steps");
  v.Field("weight_decay", weight_decay, "AdamW weight decay");
  v.Field("betas", betas, "AdamW betas");
  v.Field("grad_clip", grad_clip, "global gradient-norm clip; 0 = off");
  v.Field("accumulation", accumulation, "batches per optimiser step");
  v.Field("max_frames", max_frames, "video frames (25 fps) per batch and process");
  v.Field("pairs_per_step", pairs_per_step, "rate pairs sampled per step (0 = all: the Matryoshka mean)");
  v.Field("seed", seed, "seed of initialisation, data order and augmentation");
  v.Field("device", device, "cpu | cuda | cuda:N");
  v.Field("precision", precision, "auto | fp32 | bf16");
  v.Field("eval_max_clips", eval_max_clips, "validation clips decoded per evaluation");
  v.Field("eval_batch_size", eval_batch_size, "validation decoding batch");
  v.Field("eval_beam_size", eval_beam_size, "validation beam (1 = greedy)");
  v.Field("eval_max_new_tokens", eval_max_new_tokens, "validation generation limit");
  v.Field("threads", threads, "intra-op CPU threads; 0 = default");
  v.Field("noise_prob", noise_prob, "augmentation: probability that a training clip gets noise");
  v.Field("audio_drop_prob", audio_drop_prob,
          "augmentation: probability that a clip's audio is silenced (modality dropout; avsr only)");
  v.Field("snr_min", snr_min, "augmentation: lowest SNR (dB) of that noise");
  v.Field("snr_max", snr_max, "augmentation: highest SNR (dB)");
  v.Field("noise", noise, "augmentation: noise file or folder; empty = babble from other training utterances");
  v.Field("init_from", init_from,
          "run or checkpoint folders whose trainable tensors (same name and shape) initialise this model: each "
          "tensor from the first that has it, e.g. [runs/lips, runs/asr] takes the audio encoder a lip-reading run "
          "froze from the ASR run (one folder may be written without brackets)");
  v.Field("audio_time_masks", audio_time_masks, "augmentation: zeroed audio spans per clip");
  v.Field("audio_mask_seconds", audio_mask_seconds, "augmentation: longest audio span");
  v.Field("video_time_masks", video_time_masks, "augmentation: masked video spans per clip");
  v.Field("video_mask_frames", video_mask_frames, "augmentation: longest video span (frames)");
  v.Field("join_prob", join_prob, "augmentation: probability that a clip is followed by another (long-form)");
  v.Field("pause_max_seconds", pause_max_seconds, "augmentation: longest pause between joined clips");
  v.Field("pad_max_seconds", pad_max_seconds, "augmentation: longest silence before and after a clip");
  v.Field("join_in_batch", join_in_batch,
          "augmentation: join a whole batch's clips two by two with probability join_prob, instead of appending "
          "random corpus clips (the batch keeps its frames: joins cost almost nothing)");
  v.Field("join_max_seconds", join_max_seconds,
          "augmentation: joined clips grow into chains up to a length drawn from [0, this] (0 = pairs only)");
}

void TrainSection::Validate() const {
  ConfigRequire(max_steps > 0, "max_steps", "must be positive");
  ConfigRequire(checkpoint_every > 0, "checkpoint_every", "must be positive");
  ConfigRequire(log_every > 0, "log_every", "must be positive");
  ConfigRequire(keep_last >= 1, "keep_last", "must be at least 1");
  ConfigRequire(std::isfinite(lr) && lr > 0, "lr", "must be a positive finite number, got ", lr);
  ConfigRequire(std::isfinite(min_lr) && min_lr >= 0 && min_lr <= lr, "min_lr", "must be in [0, lr], got ", min_lr);
  ConfigRequire(warmup_steps >= 0, "warmup_steps", "must be >= 0, got ", warmup_steps);
  ConfigRequire(std::isfinite(weight_decay) && weight_decay >= 0, "weight_decay", "must be >= 0, got ", weight_decay);
  ConfigRequire(std::isfinite(grad_clip) && grad_clip >= 0, "grad_clip", "must be >= 0 (0 = off), got ", grad_clip);
  ConfigRequire(betas.size() == 2, "betas", "needs two values");
  for (double b : betas) ConfigRequire(b >= 0 && b < 1, "betas", "values must be in [0, 1), got ", b);
  ConfigRequire(threads >= 0 && threads <= 1024, "threads", "must be in [0, 1024] (0 = default), got ", threads);
  ConfigRequire(eval_every >= 0, "eval_every", "must be >= 0 (0 = at every checkpoint)");
  ConfigRequire(eval_max_clips >= 1 && eval_batch_size >= 1 && eval_beam_size >= 1 && eval_beam_size <= 64 &&
                    eval_max_new_tokens >= 1 && eval_max_new_tokens <= 4096,
                "eval_max_clips", "validation settings must be positive (beam at most 64, tokens at most 4096)");
  ConfigRequire(std::isfinite(noise_prob) && noise_prob >= 0 && noise_prob <= 1, "noise_prob", "must be in [0, 1]");
  ConfigRequire(std::isfinite(audio_drop_prob) && audio_drop_prob >= 0 && audio_drop_prob <= 1, "audio_drop_prob",
                "must be in [0, 1]");
  ConfigRequire(std::isfinite(snr_min) && std::isfinite(snr_max) && snr_min <= snr_max, "snr_min",
                "snr_min and snr_max must be finite with snr_min <= snr_max");
  ConfigRequire(std::isfinite(join_prob) && join_prob >= 0 && join_prob <= 1, "join_prob", "must be in [0, 1]");
  for (const auto& [key, value] : {std::pair<const char*, double>{"pause_max_seconds", pause_max_seconds},
                                   std::pair<const char*, double>{"pad_max_seconds", pad_max_seconds}})
    ConfigRequire(std::isfinite(value) && value >= 0 && value <= 30, key, "must be in [0, 30] seconds");
  ConfigRequire(
      std::isfinite(join_max_seconds) && join_max_seconds >= 0 && join_max_seconds + 2 * pad_max_seconds <= 30,
      "join_max_seconds", "must be >= 0, and with twice pad_max_seconds at most 30 s (Whisper's window)");
  ConfigRequire(!join_in_batch || join_max_seconds == 0, "join_in_batch",
                "pairs a batch's clips: it does not grow chains (join_max_seconds must be 0)");
  ConfigRequire(audio_time_masks >= 0 && video_time_masks >= 0 && audio_mask_seconds >= 0 && video_mask_frames >= 0,
                "audio_time_masks", "masks and their lengths must be >= 0");
  ConfigRequire(accumulation >= 1, "accumulation", "must be at least 1");
  ConfigRequire(max_frames > 0, "max_frames", "must be positive");
  ConfigRequire(pairs_per_step >= 0, "pairs_per_step", "must be >= 0");
  ConfigRequireOneOf(precision, {"auto", "fp32", "bf16"}, "precision");
}

}  // namespace mome::train
