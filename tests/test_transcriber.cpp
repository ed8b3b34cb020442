// One loaded pipeline shared by several threads: per-request state (the Matryoshka scale, KV caches, router
// statistics) travels with each Transcriber, so concurrent decoding at different rate pairs equals sequential.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "mome/core/config.h"
#include "mome/core/error.h"
#include "mome/data/featurizer.h"
#include "mome/decode/transcribe.h"
#include "mome/frontend/vad.h"
#include "mome/model/avsr_pipeline.h"
#include "mome/model/model_config.h"
#include "test_helpers.h"

namespace mome {
namespace {

const std::string kTool = MOME_TOOL_DIR;

class Transcriber : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = ::testing::TempDir() + "/mome_transcriber_" + std::to_string(::getpid());
    testing::RemoveTree(root_);
    std::filesystem::create_directories(root_);
    const auto made = testing::RunCommand(
        kTool + "/mome_make_tiny --config " + MOME_SOURCE_DIR + "/configs/tiny_llama.yaml --out " + root_ +
        "/llm --set model.dtype=float32 --set tokenizer=" + MOME_SOURCE_DIR + "/tests/data/tokenizer/tokenizer.json");
    ASSERT_EQ(made.exit_code, 0) << made.err;
    const std::string yaml =
        "llm: {path: " + root_ +
        "/llm}\n"
        "audio_encoder: {preset: whisper-tiny, dim: 32, layers: 1, heads: 2, ffn: 64, pad_to_30s: false}\n"
        "video_encoder: {preset: avhubert-tiny}\n"
        "model: {modality: avsr, audio_rates: [2, 4], video_rates: [1, 2], projector_hidden: 32}\n"
        "adapters: {kind: mome, placement: layer, num_experts: 4, top_k: [2], num_shared: 1, bottleneck: 4}\n";
    model::PipelineOptions po;
    po.seed = 3;
    pipeline_ = new model::AVSRPipeline(LoadConfigString<model::ModelConfig>(yaml, "test"), po);
    torch::NoGradGuard no_grad;
    torch::manual_seed(9);  // adapters that differ per scale (they start at zero: no effect)
    for (auto& p : pipeline_->trainable().parameters()) p.normal_(0, 0.2);
    pipeline_->SetTraining(false);
  }
  static void TearDownTestSuite() {
    delete pipeline_;
    pipeline_ = nullptr;
    if (!std::getenv("MOME_KEEP_TEST_FILES")) testing::RemoveTree(root_);
  }

  // Clips of different lengths, audio tones and mouth brightness.
  static std::vector<data::PreparedClip> Clips(int n) {
    torch::manual_seed(17);
    std::vector<data::PreparedClip> out;
    for (int i = 0; i < n; ++i) {
      data::PreparedClip c;
      c.key = "clip" + std::to_string(i);
      const int64_t frames = 8 + 3 * (i % 4);
      c.video = (torch::rand({frames, 96, 96}) * 60 + 20 * i).to(torch::kByte);
      const auto t = torch::arange(frames * 640, torch::kFloat) / 16000.0;
      c.audio = 0.3 * torch::sin(2 * M_PI * (180 + 90 * i) * t) + 0.05 * torch::randn({frames * 640});
      out.push_back(c);
    }
    return out;
  }

  static inline std::string root_;
  static inline model::AVSRPipeline* pipeline_ = nullptr;
};

struct Job {
  model::RatePair pair;
  int64_t beam = 1;
};

// Every clip through one Transcriber, in batches of 3: ids and logprobs per clip.
std::vector<decode::Transcription> DecodeAll(const model::AVSRPipeline& p, const Job& job,
                                             const std::vector<data::PreparedClip>& clips) {
  decode::Transcriber transcriber(p, job.pair, decode::PipelineGenerateOptions(p, job.beam, 6));
  std::vector<decode::Transcription> out;
  for (size_t begin = 0; begin < clips.size(); begin += 3) {
    const std::vector<data::PreparedClip> batch(clips.begin() + begin,
                                                clips.begin() + std::min(clips.size(), begin + 3));
    for (auto& t : transcriber.Run(batch)) out.push_back(std::move(t));
  }
  return out;
}

bool SameResults(const std::vector<decode::Transcription>& a, const std::vector<decode::Transcription>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].ids != b[i].ids || a[i].logprobs != b[i].logprobs || a[i].text != b[i].text) return false;
  return true;
}

}  // namespace

// The contract of issue 16: 4 threads, different clips and rate pairs (greedy and beam), at the same time,
// repeated; every result equals the sequential decode bit for bit.
TEST_F(Transcriber, ConcurrentMixedRatesEqualSequential) {
  const std::vector<Job> jobs = {{{2, 1}, 1}, {{4, 2}, 1}, {{2, 2}, 3}, {{4, 1}, 3}};
  const auto clips = Clips(8);
  std::vector<std::vector<data::PreparedClip>> own(jobs.size());  // each thread its own clips, rotated
  for (size_t j = 0; j < jobs.size(); ++j)
    for (size_t i = 0; i < clips.size(); ++i) own[j].push_back(clips[(i + 2 * j) % clips.size()]);
  std::vector<std::vector<decode::Transcription>> sequential;
  for (size_t j = 0; j < jobs.size(); ++j) sequential.push_back(DecodeAll(*pipeline_, jobs[j], own[j]));
  // The rate pairs must matter, or the test could not tell a leaked scale from a correct one.
  EXPECT_FALSE(SameResults(DecodeAll(*pipeline_, jobs[1], own[0]), sequential[0]));

  std::atomic<int> mismatches{0};
  for (int round = 0; round < 2; ++round) {
    std::vector<std::thread> threads;
    for (size_t j = 0; j < jobs.size(); ++j)
      threads.emplace_back([&, j] {
        if (!SameResults(DecodeAll(*pipeline_, jobs[j], own[j]), sequential[j])) ++mismatches;
      });
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(mismatches.load(), 0);
}

// video_encoder.roi_pool (the CPU demo's cheaper front end): the centre 88x88 crop, normalised, averaged over
// 2x2 blocks, is what the video encoder sees, at training and at decoding alike.
TEST_F(Transcriber, RoiPoolFeedsTheVideoEncoderBlockAveragedMouths) {
  const std::string yaml = "llm: {path: " + root_ +
                           "/llm}\n"
                           "video_encoder: {preset: avhubert-tiny, roi_pool: 2}\n"
                           "model: {modality: vsr, audio_rates: [], video_rates: [1, 2], projector_hidden: 32}\n";
  model::PipelineOptions po;
  po.seed = 3;
  const model::AVSRPipeline pooled(LoadConfigString<model::ModelConfig>(yaml, "test"), po);
  const auto clips = Clips(2);
  torch::NoGradGuard no_grad;
  const model::ModelInputs in = data::Featurize(pooled, clips);
  const int64_t longest = clips[1].video.size(0);
  at::Tensor expected_input = at::zeros({2, longest, 44, 44});
  for (int i = 0; i < 2; ++i) {
    const at::Tensor crop = clips[i].video.slice(1, 4, 92).slice(2, 4, 92).to(at::kFloat);
    const at::Tensor normalised = (crop / 255.0 - 0.421) / 0.165;
    expected_input[i].narrow(0, 0, crop.size(0)).copy_(at::avg_pool2d(normalised.unsqueeze(1), {2, 2}).squeeze(1));
  }
  const at::Tensor lengths = at::tensor({clips[0].video.size(0), longest}, at::kLong);
  EXPECT_TRUE(at::allclose(in.video, pooled.avhubert()->forward(expected_input, lengths), 1e-5, 1e-6));
  EXPECT_TRUE(at::equal(in.video_lengths, lengths));
  EXPECT_THROW(
      LoadConfigString<model::ModelConfig>(
          "llm: {path: x}\nvideo_encoder: {preset: avhubert-tiny, roi_pool: 3}\nmodel: {modality: vsr}\n", "t"),
      Error);
}

TEST_F(Transcriber, ConcurrentFeaturizeEqualsSequential) {
  const auto clips = Clips(4);
  torch::NoGradGuard no_grad;
  const model::ModelInputs alone = data::Featurize(*pipeline_, clips);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&] {
      torch::NoGradGuard guard;
      const model::ModelInputs again = data::Featurize(*pipeline_, clips);
      if (!torch::equal(again.audio, alone.audio) || !torch::equal(again.video, alone.video)) ++mismatches;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// 16 kHz audio and 25 fps mouth frames of `pattern` pieces (seconds, tone amplitude; 0 = silence).
data::PreparedClip Recording(const std::vector<std::pair<double, double>>& pattern) {
  std::vector<at::Tensor> audio;
  torch::manual_seed(5);
  for (const auto& [seconds, amplitude] : pattern) {
    const auto n = static_cast<int64_t>(seconds * 16000);
    const at::Tensor t = at::arange(n, at::kFloat) / 16000.0;
    audio.push_back(amplitude * (0.6 + 0.4 * at::sin(2 * M_PI * 3 * t)) * at::sin(2 * M_PI * 220 * t) +
                    1e-4 * at::randn({n}));
  }
  data::PreparedClip clip;
  clip.key = "long";
  clip.audio = at::cat(audio);
  clip.video = (at::rand({clip.audio.numel() / 640, 96, 96}) * 200).to(at::kByte);
  return clip;
}

TEST_F(Transcriber, TimestampsDoNotChangeTheTextAndStayInsideTheClip) {
  const decode::AlignmentConfig alignment{{{0, 0}, {1, 2}}, 5, -1, 0};
  const auto clips = Clips(3);
  decode::Transcriber plain(*pipeline_, {2, 1}, decode::PipelineGenerateOptions(*pipeline_, 2, 6));
  decode::Transcriber timed(*pipeline_, {2, 1}, decode::PipelineGenerateOptions(*pipeline_, 2, 6), &alignment);
  const auto a = plain.Run(clips), b = timed.Run(clips);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].ids, b[i].ids);
    EXPECT_EQ(a[i].text, b[i].text);
    EXPECT_TRUE(a[i].words.empty());
    std::string joined;
    for (const auto& w : b[i].words) {
      joined += (joined.empty() ? "" : " ") + w.word;
      EXPECT_GE(w.start, 0.0);
      EXPECT_LE(w.end, b[i].audio_seconds + 1e-9);
      EXPECT_LE(w.start, w.end);
      EXPECT_GE(w.confidence, 0.0);
      EXPECT_LE(w.confidence, 1.0);
    }
    EXPECT_EQ(joined, b[i].text);
  }
  const decode::AlignmentConfig wrong{{{9, 0}}, 5, -1, 0};
  EXPECT_THROW(decode::Transcriber(*pipeline_, {2, 1}, decode::PipelineGenerateOptions(*pipeline_, 1, 6), &wrong),
               Error);
}

TEST_F(Transcriber, LongRecordingsArePiecedAtPausesWithAbsoluteTimes) {
  const decode::AlignmentConfig alignment{{{0, 1}, {1, 3}}, 5, -1, 0};
  decode::Transcriber t(*pipeline_, {4, 2}, decode::PipelineGenerateOptions(*pipeline_, 1, 5), &alignment);
  const auto clip = Recording({{1.0, 0}, {3.0, 0.3}, {1.5, 0}, {3.0, 0.3}, {1.5, 0}, {3.0, 0.3}, {1.0, 0}});
  const auto r = t.RunLong(clip, 5.0, 2);
  ASSERT_EQ(r.segments.size(), 3u);
  const double bursts[3] = {1.0, 5.5, 10.0};
  std::string stitched;
  double last_start = 0;
  for (size_t i = 0; i < 3; ++i) {
    const auto& s = r.segments[i];
    EXPECT_LE(s.start, bursts[i] + 0.05) << i;
    EXPECT_GE(s.end, bursts[i] + 2.95) << i;
    if (!s.text.empty()) stitched += (stitched.empty() ? "" : " ") + s.text;
    for (const auto& w : s.words) {
      EXPECT_GE(w.start, s.start - 1e-9) << "absolute times";
      EXPECT_LE(w.end, s.end + 1e-9);
      EXPECT_GE(w.start, last_start) << "monotonic";
      last_start = w.start;
    }
  }
  EXPECT_EQ(r.text, stitched);
  EXPECT_NEAR(r.audio_seconds, 14.0, 1e-6);
  // No speech: nothing decoded, an empty transcript.
  const auto silent = t.RunLong(Recording({{6.0, 0}}), 5.0, 2);
  EXPECT_TRUE(silent.segments.empty());
  EXPECT_TRUE(silent.text.empty());
}

// Speech longer than a piece without a pause: the model decodes the pieces on both sides of each quiet run the
// voice-activity detector offers and the cut is one of them; the pieces meet there and cover the speech.
TEST_F(Transcriber, SpeechWithoutPausesIsCutAtAQuietRunTheModelChose) {
  decode::Transcriber t(*pipeline_, {4, 2}, decode::PipelineGenerateOptions(*pipeline_, 1, 5));
  const auto clip = Recording(
      {{0.5, 0}, {1.3, 0.3}, {0.2, 0.06}, {0.4, 0.3}, {0.2, 0.01}, {0.7, 0.3}, {0.2, 0.03}, {2.5, 0.3}, {0.5, 0}});
  const auto r = t.RunLong(clip, 4.0, 2);
  ASSERT_EQ(r.segments.size(), 2u);
  const double cut = r.segments[0].end;
  EXPECT_DOUBLE_EQ(r.segments[1].start, cut) << "pieces cut inside speech meet at the cut";
  std::vector<int64_t> offered;  // what the voice-activity detector offers as cuts
  frontend::SplitAtPauses(clip.audio, 4.0, {}, [&](const frontend::SampleSpan&, const std::vector<int64_t>& cuts) {
    offered = cuts;
    return cuts[0];
  });
  ASSERT_GE(offered.size(), 3u);
  const bool offered_cut = std::any_of(offered.begin(), offered.end(), [&](int64_t c) { return c / 16000.0 == cut; });
  EXPECT_TRUE(offered_cut) << "cut at " << cut;
  EXPECT_LE(r.segments[0].start, 0.55);
  EXPECT_GE(r.segments[1].end, 5.95);
}

}  // namespace mome
