// data_bench: prepared-data loading throughput on the CPU (what the training loop's data side can feed).
//   data_bench --prepared DIR [--repeat 3] [--threads 1]
// Prints one JSON line: clips/s, video frames/s and audio seconds/s, loading every clip of the corpus (mmap'ed
// shards -> uint8 video + float audio tensors), median of the repeats.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <ATen/Parallel.h>

#include "mome/core/cli.h"
#include "mome/data/prepared.h"
#include "tool_main.h"

namespace mome {
namespace {

int Main(int argc, char** argv) {
  CliParser cli("data_bench", "Times loading a prepared corpus (clips/s).");
  cli.AddRequired("--prepared", "DIR", "prepared corpus (mome_prepare --out)")
      .AddOption("--repeat", "N", "passes over the corpus (median reported)", "3")
      .AddOption("--threads", "N", "intra-op threads", "1");
  if (!cli.Parse(argc, argv)) return 0;
  at::set_num_threads(static_cast<int>(cli.GetInt("--threads")));
  const auto corpus = data::PreparedCorpus::Open(cli.GetString("--prepared"));
  std::vector<double> seconds;
  int64_t frames = 0, samples = 0;
  for (int64_t r = 0; r < cli.GetInt("--repeat"); ++r) {
    frames = samples = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < corpus.size(); ++i) {
      const auto clip = corpus.Load(i);
      frames += clip.video.defined() ? clip.video.size(0) : 0;
      samples += clip.audio.defined() ? clip.audio.numel() : 0;
    }
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(seconds.begin(), seconds.end());
  const double s = seconds[seconds.size() / 2];
  std::printf("{\"clips\": %zu, \"clips_per_s\": %.1f, \"video_frames_per_s\": %.0f, \"audio_seconds_per_s\": %.1f}\n",
              corpus.size(), corpus.size() / s, frames / s, samples / 16000.0 / s);
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("data_bench", [&] { return mome::Main(argc, argv); });
}
