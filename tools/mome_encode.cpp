// mome_encode: the front ends and encoders on one file, dumped for inspection and parity checks.
//   mome_encode (--wav FILE | --clip FILE) [--n-mels 80|128] [--no-pad] [--whisper DIR] [--avhubert FILE]
//               [--roi precropped|detect|landmarks] --dump OUT.safetensors
// With --roi detect/landmarks the clip is a face video and the mouth crops come from frontend/mouth_roi.h
// (landmarks: CLIP's path with ".landmarks.json" or ".landmarks.txt" for its extension).
// Writes `mel` [n_mels, frames] (float32); `encoder_out` [T, d] with --whisper (padded to 30 s then cut to
// max(int(seconds * 50), 25) tokens, or the true length with --no-pad); for a clip's video, `roi` [T, 88, 88] (the
// centre crop, normalised as AV-HuBERT expects) and `visual_out` [T, d] with --avhubert.
#include <filesystem>
#include <iostream>

#include <torch/torch.h>

#include "mome/core/cli.h"
#include "mome/core/error.h"
#include "mome/data/clip_source.h"
#include "mome/encoders/avhubert.h"
#include "mome/encoders/whisper.h"
#include "mome/frontend/landmarks.h"
#include "mome/frontend/log_mel.h"
#include "mome/frontend/mouth_roi.h"
#include "mome/io/media.h"
#include "mome/io/safetensors.h"
#include "tool_main.h"

namespace mome {
namespace {

constexpr int64_t kRoi = 88;
constexpr double kRoiMean = 0.421, kRoiStd = 0.165;

int Main(int argc, char** argv) {
  CliParser cli("mome_encode", "Runs the log-mel front end and the encoders on one file and dumps the tensors.");
  cli.AddOption("--wav", "FILE", "an audio file (any format FFmpeg reads; WAV without FFmpeg)")
      .AddOption("--clip", "FILE", "a video clip (96x96 mouth crops with --roi precropped), audio optional")
      .AddOption("--n-mels", "N", "log-mel bins: 80 or 128", "80")
      .AddFlag("--no-pad", "true-length log-mel and encoder (default: padded to 30 s, as the reference)")
      .AddOption("--whisper", "DIR", "HF Whisper checkpoint folder: adds encoder_out")
      .AddOption("--avhubert", "FILE", "AV-HuBERT file (tools/convert_avhubert.py): adds visual_out")
      .AddOption("--roi", "MODE", "precropped | detect | landmarks", "precropped")
      .AddRequired("--dump", "OUT", "output .safetensors");
  if (!cli.Parse(argc, argv)) return 0;
  MOME_CHECK(cli.Has("--wav") != cli.Has("--clip"), ErrorCode::kInvalidArgument, "give exactly one of --wav or --clip");
  const int64_t n_mels = cli.GetInt("--n-mels");
  MOME_CHECK(n_mels == 80 || n_mels == 128, ErrorCode::kInvalidArgument, "--n-mels must be 80 or 128, got ", n_mels);
  const bool pad = !cli.GetFlag("--no-pad");
  const std::string path = cli.Has("--wav") ? cli.GetString("--wav") : cli.GetString("--clip");
  frontend::MouthRoiOptions roi_options;
  roi_options.mode = cli.GetString("--roi");
  frontend::ValidateMouthRoi(roi_options);

  io::MediaDecodeOptions mo;
  mo.video = cli.Has("--clip");
  mo.require_video = mo.video;
  mo.require_audio = !mo.video;
  io::DecodedMedia media = io::DecodeMedia(path, mo);
  torch::NoGradGuard no_grad;
  std::vector<std::pair<std::string, at::Tensor>> out;
  if (media.audio.defined() && media.audio.numel() > 0) {
    frontend::LogMelOptions mel_options;
    mel_options.n_mels = n_mels;
    mel_options.pad_to_30s = pad;
    out.emplace_back("mel", frontend::LogMel(mel_options)(media.audio));
    if (cli.Has("--whisper")) {
      const auto encoder = encoders::LoadWhisperEncoder(cli.GetString("--whisper"), at::kCPU, at::kFloat);
      MOME_CHECK(encoder->config().num_mel_bins == n_mels, ErrorCode::kInvalidArgument, cli.GetString("--whisper"),
                 " takes ", encoder->config().num_mel_bins, " mel bins; pass --n-mels ",
                 encoder->config().num_mel_bins);
      encoders::WhisperAudioOptions wo;
      wo.pad_to_30s = pad;
      std::vector<int64_t> lengths;
      const auto enc = encoders::EncodeWaveforms(encoder, {media.audio}, wo, &lengths);
      out.emplace_back("encoder_out", enc[0].narrow(0, 0, lengths[0]).contiguous());
    }
  } else {
    MOME_CHECK(!cli.Has("--whisper"), ErrorCode::kInvalidArgument, path, ": no audio stream for --whisper");
  }
  if (media.video.defined() && roi_options.mode != "precropped") {
    at::Tensor landmarks;
    if (roi_options.mode == "landmarks") {
      const std::string file = data::LandmarkFileFor(data::ItemForFile(path));
      MOME_CHECK(!file.empty(), ErrorCode::kNotFound, path, ": --roi landmarks needs ",
                 std::filesystem::path(path).replace_extension(".landmarks.json").string());
      landmarks =
          frontend::AlignLandmarks(frontend::ReadLandmarks(file), media.video.size(0), mo.fps, media.source_fps, file);
    }
    media.video = frontend::CropMouths(media.video, roi_options, path, landmarks);
  }
  if (media.video.defined()) {
    const at::Tensor& v = media.video;
    MOME_CHECK(v.dim() == 3 && v.size(1) >= kRoi && v.size(2) >= kRoi, ErrorCode::kShapeMismatch, path,
               ": --roi precropped expects gray mouth crops of at least 88x88, got ", v.sizes());
    const int64_t top = (v.size(1) - kRoi) / 2, left = (v.size(2) - kRoi) / 2;
    const at::Tensor roi =
        ((v.slice(1, top, top + kRoi).slice(2, left, left + kRoi).to(at::kFloat) / 255.0 - kRoiMean) / kRoiStd)
            .contiguous();
    out.emplace_back("roi", roi);
    if (cli.Has("--avhubert")) {
      const auto encoder = encoders::LoadAVHubertEncoder(cli.GetString("--avhubert"), at::kCPU, at::kFloat);
      out.emplace_back("visual_out", encoder->forward(roi.unsqueeze(0))[0].contiguous());
    }
  }
  io::SaveSafetensors(cli.GetString("--dump"), out, {{"source", path}});
  for (const auto& [name, t] : out) std::cout << name << " " << t.sizes() << "\n";
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("mome_encode", [&] { return mome::Main(argc, argv); });
}
