// The training config: the model's sections (model_config.h) plus `train:` (SPEC.md §3 defaults).
#pragma once

#include <string>
#include <vector>

#include "mome/core/config.h"
#include "mome/model/model_config.h"

namespace mome::train {

struct TrainSection {
  std::string data;      // prepared corpus folder (mome_prepare)
  std::string val_data;  // prepared corpus for validation WER; empty = none
  int64_t max_steps = 1000;
  int64_t checkpoint_every = 200;
  int64_t eval_every = 0;  // 0 = at every checkpoint
  int64_t log_every = 10;
  int64_t keep_last = 3;
  double lr = 1e-3;
  double min_lr = 0.0;
  int64_t warmup_steps = 0;
  double weight_decay = 0.1;
  std::vector<double> betas = {0.9, 0.98};
  double grad_clip = 1.0;  // 0 = off
  int64_t accumulation = 1;
  int64_t max_frames = 1500;   // video frames (25 fps) per batch and process
  int64_t pairs_per_step = 0;  // Matryoshka: rate pairs sampled per step; 0 = all of them
  int64_t seed = 42;
  std::string device = "cpu";
  std::string precision = "auto";  // auto (bf16 on CUDA, fp32 on CPU) | fp32 | bf16
  int64_t eval_max_clips = 200;
  int64_t eval_batch_size = 16;
  int64_t eval_beam_size = 1;
  int64_t eval_max_new_tokens = 32;
  int64_t threads = 0;  // intra-op threads; 0 = LibTorch's default
  // Augmentation (data/augment.h).
  double noise_prob = 0.0, snr_min = 0.0, snr_max = 20.0;
  double audio_drop_prob = 0.0;  // modality dropout: the audio of a clip silenced (audio-visual training only)
  std::string noise;             // a noise recording or a folder of them; empty = babble from training utterances
  // Run or checkpoint folders whose trainable tensors initialise this model's where names and shapes match, each
  // tensor from the first folder that has it (curriculum: e.g. ASR first, then AVSR from it); empty = fresh.
  std::vector<std::string> init_from;
  int64_t audio_time_masks = 0, video_time_masks = 0;
  double audio_mask_seconds = 0.2;
  int64_t video_mask_frames = 5;
  // Sequences (data/clip_sequence.h): a clip followed by another after a pause, silence around clips.
  double join_prob = 0.0, pause_max_seconds = 1.0, pad_max_seconds = 0.0, join_max_seconds = 0.0;
  bool join_in_batch = false;  // joins pair a batch's own clips (data/clip_sequence.h)
  void Visit(ConfigVisitor& v);
  void Validate() const;
};

struct TrainConfig {
  model::ModelConfig model;
  TrainSection train;
  void Visit(ConfigVisitor& v) {
    model.Visit(v);
    v.Section("train", train, "optimisation, data, checkpoints");
  }
  void Validate() const {
    model.Validate();
    ConfigRequire(train.audio_drop_prob == 0 || model.model.modality == "avsr", "train.audio_drop_prob",
                  "silences a clip's audio: only audio-visual training (model.modality avsr) has the lips left");
  }
  std::string ToString() const { return ConfigToString(*this); }
};

}  // namespace mome::train
