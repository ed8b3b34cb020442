// whisper_bench: Whisper log-mel real-time factor on one CPU thread, and the Whisper encoder's forward time at
// batch 1 and 8 on 30 s padded inputs, plus the true-length mode on a shorter clip.
//   whisper_bench --config whisper-medium/config.json --random-init --device cuda --dtype bf16
//   whisper_bench --whisper whisper-medium/ --device cuda
// Medians after a warm-up; inputs are random noise (timings do not depend on content).
#include <ATen/ATen.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "kernel_profile.h"
#include "median_timing.h"
#include "mome/core/cli.h"
#include "mome/core/device.h"
#include "mome/core/error.h"
#include "mome/encoders/whisper.h"
#include "mome/frontend/log_mel.h"
#include "tool_main.h"

namespace mome {
namespace {

using bench::MedianMs;

int Main(int argc, char** argv) {
  CliParser cli("whisper_bench", "Times Whisper log-mel (CPU, one thread) and the Whisper encoder.");
  cli.AddOption("--config", "FILE", "Whisper config.json (with --random-init)", "")
      .AddFlag("--random-init", "random weights of --config's shapes instead of a checkpoint")
      .AddOption("--whisper", "DIR", "HF Whisper checkpoint folder", "")
      .AddDeviceOption()
      .AddOption("--dtype", "f32|bf16|auto", "encoder compute dtype", "auto")
      .AddOption("--seconds", "S", "clip length for the true-length timing", "10")
      .AddOption("--repeat", "N", "timed runs (median reported)", "10")
      .AddOption("--profile", "PREFIX", "also write Chrome traces of the batch-1 encoder runs to PREFIX*.json", "");
  if (!cli.Parse(argc, argv)) return 0;
  const c10::Device device = ParseDevice(cli.GetString("--device"));
  const c10::ScalarType dtype = ParseDtype(cli.GetString("--dtype"), device);
  const int64_t repeat = cli.GetInt("--repeat");
  const double seconds = cli.GetDouble("--seconds");

  encoders::WhisperEncoder encoder{nullptr};
  if (cli.GetFlag("--random-init")) {
    MOME_CHECK(!cli.GetString("--config").empty(), ErrorCode::kInvalidArgument, "--random-init needs --config");
    encoder = encoders::RandomWhisperEncoder(encoders::WhisperEncoderConfig::FromJson(cli.GetString("--config")),
                                             device, dtype);
  } else {
    MOME_CHECK(!cli.GetString("--whisper").empty(), ErrorCode::kInvalidArgument,
               "give --whisper DIR, or --config FILE --random-init");
    encoder = encoders::LoadWhisperEncoder(cli.GetString("--whisper"), device, dtype);
  }
  const auto& c = encoder->config();
  std::printf("device %s, dtype %s, d_model %lld, layers %lld, n_mels %lld\n", device.str().c_str(),
              DtypeName(dtype).c_str(), static_cast<long long>(c.d_model), static_cast<long long>(c.encoder_layers),
              static_cast<long long>(c.num_mel_bins));

  // Log-mel on one CPU thread: a 30 s clip, padded mode (3000 frames) and true length.
  {
    const int threads = at::get_num_threads();
    at::set_num_threads(1);
    const auto clip = at::randn({frontend::kWhisperChunkSamples}) * 0.1;
    for (bool pad : {true, false}) {
      frontend::LogMelOptions o;
      o.n_mels = c.num_mel_bins;
      o.pad_to_30s = pad;
      frontend::LogMel mel(o);
      const double ms = MedianMs(repeat, c10::Device(c10::kCPU), [&] { mel(clip); });
      std::printf("log-mel 30 s clip, 1 CPU thread, %-10s %8.2f ms  %8.0fx real time\n", pad ? "padded" : "unpadded",
                  ms, 30000.0 / ms);
    }
    at::set_num_threads(threads);
  }

  const std::string profile = cli.Has("--profile") ? cli.GetString("--profile") : "";
  torch::NoGradGuard no_grad;
  const auto opts = at::TensorOptions().device(device).dtype(dtype);
  for (int64_t batch : {1, 8}) {
    const auto features = at::randn({batch, c.num_mel_bins, frontend::kWhisperChunkFrames}, opts);
    const auto t = bench::TimeRuns(repeat, device, [&] { encoder->forward(features); });
    if (batch == 1 && !profile.empty())
      bench::ProfileToTrace(profile + "padded_b1.json", device.is_cuda(), [&] { encoder->forward(features); });
    std::printf("encoder 30 s padded, batch %lld: %s\n", static_cast<long long>(batch), bench::FormatTiming(t).c_str());
  }
  const int64_t frames = static_cast<int64_t>(seconds * 100);
  for (int64_t batch : {1, 8}) {
    const auto features = at::randn({batch, c.num_mel_bins, frames}, opts);
    const auto t = bench::TimeRuns(repeat, device, [&] { encoder->forward(features); });
    if (batch == 1 && !profile.empty())
      bench::ProfileToTrace(profile + "true_length_b1.json", device.is_cuda(), [&] { encoder->forward(features); });
    std::printf("encoder %.1f s true length, batch %lld: %s\n", seconds, static_cast<long long>(batch),
                bench::FormatTiming(t).c_str());
  }
  // End to end from waveforms (log-mel on the encoder's device + encoder), reference mode, batch 1.
  const std::vector<at::Tensor> wave = {at::randn({static_cast<int64_t>(seconds * 16000)}) * 0.1};
  encoders::WhisperAudioOptions ref;
  const auto e2e = bench::TimeRuns(repeat, device, [&] { encoders::EncodeWaveforms(encoder, wave, ref); });
  std::printf("waveform -> log-mel -> encoder (padded, cut), %.1f s clip, batch 1: %s\n", seconds,
              bench::FormatTiming(e2e).c_str());
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("whisper_bench", [&] { return mome::Main(argc, argv); });
}
