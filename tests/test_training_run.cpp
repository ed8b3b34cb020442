// mome_train / mome_decode end to end on a tiny from-scratch AVSR model over a small prepared corpus written by
// the test (random mouth crops, tone-like audio): metrics, checkpoints, exact resume after SIGKILL, data
// parallel over 2 Gloo processes, batch-size-invariant decoding, and clear errors on bad input.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#if MOME_WITH_SERVE
#include <httplib.h>
#endif

#include "mome/data/prepared.h"
#include "mome/io/checkpoint.h"
#include "mome/io/safetensors.h"
#include "mome/train/distributed.h"
#include "mome/train/trainer.h"
#include "test_helpers.h"

namespace mome {
namespace {
namespace fs = std::filesystem;

const std::string kTool = MOME_TOOL_DIR;

class TrainingRun : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/mome_trainrun_" + std::to_string(::getpid());
    testing::RemoveTree(root_);
    fs::create_directories(root_);
    const auto made = testing::RunCommand(kTool + "/mome_make_tiny --config " + MOME_SOURCE_DIR +
                                          "/configs/tiny_llama.yaml --out " + root_ +
                                          "/llm --set model.dtype=float32 "
                                          "--set tokenizer=" +
                                          MOME_SOURCE_DIR + "/tests/data/tokenizer/tokenizer.json");
    ASSERT_EQ(made.exit_code, 0) << made.err;
    WriteCorpus(root_ + "/train", 12, 1);
    WriteCorpus(root_ + "/val", 4, 2);
    WriteConfig();
  }
  void TearDown() override {
    if (!std::getenv("MOME_KEEP_TEST_FILES")) testing::RemoveTree(root_);
  }

  // Clips whose audio tone and mouth brightness depend on the words, so there is something to learn.
  static void WriteCorpus(const std::string& dir, int clips, int seed) {
    static const std::vector<std::string> words = {"BIN", "LAY", "PLACE", "SET", "BLUE", "GREEN", "RED", "WHITE"};
    torch::manual_seed(seed);
    std::vector<data::PreparedClip> out;
    for (int i = 0; i < clips; ++i) {
      data::PreparedClip c;
      c.key = "spk" + std::to_string(i % 3) + "/clip" + std::to_string(i);
      const int a = (i * 7 + seed) % 4, b = 4 + (i * 3 + seed) % 4;
      c.text = words[a] + " " + words[b];
      const double seconds = static_cast<double>(10 + (i % 4) * 2) / 25.0;  // the word table mome_align needs
      c.words = {{words[a], 0.0, seconds / 2}, {words[b], seconds / 2, seconds}};
      const int64_t frames = 10 + (i % 4) * 2;
      c.video = (torch::rand({frames, 96, 96}) * 40 + 30 * a + 10 * b).to(torch::kByte);
      const auto t = torch::arange(frames * 640, torch::kFloat) / 16000.0;
      c.audio = 0.3 * torch::sin(2 * M_PI * (200 + 100 * a) * t) + 0.2 * torch::sin(2 * M_PI * (900 + 150 * b) * t);
      out.push_back(c);
    }
    fs::create_directories(dir + "/shards");
    std::ofstream manifest(dir + "/manifest.jsonl");
    for (const auto& e : data::WritePreparedShard(dir, "shards/000000.safetensors", out))
      manifest << data::PreparedEntryToJson(e) << "\n";
  }

  void WriteConfig() {
    std::ofstream y(root_ + "/train.yaml");
    y << "llm: {path: " << root_ << "/llm, trainable: true}\n"
      << "audio_encoder: {preset: whisper-tiny, dim: 32, layers: 1, heads: 2, ffn: 64, pad_to_30s: false, "
         "trainable: true}\n"
      << "video_encoder: {preset: avhubert-tiny, trainable: true}\n"
      << "model: {modality: avsr, audio_rates: [2, 4], video_rates: [1, 2], projector_hidden: 32}\n"
      << "adapters: {kind: mome, placement: layer, num_experts: 4, top_k: [2], num_shared: 1, bottleneck: 4}\n"
      << "train: {data: " << root_ << "/train, val_data: " << root_ << "/val, max_steps: 8, checkpoint_every: 2, "
      << "log_every: 1, max_frames: 40, lr: 0.003, warmup_steps: 2, seed: 3, eval_every: 4, eval_max_clips: 4, "
      << "eval_max_new_tokens: 6, keep_last: 2, threads: 1, noise_prob: 0.5, snr_min: 0, snr_max: 10, "
      << "audio_time_masks: 1, video_time_masks: 1, join_prob: 0.3, pause_max_seconds: 0.2, pad_max_seconds: 0.1}\n";
  }

  testing::CommandResult Train(const std::string& out, const std::string& extra = "") {
    return testing::RunCommand(kTool + "/mome_train --config " + root_ + "/train.yaml --out " + out + " " + extra);
  }

  static std::vector<nlohmann::json> Metrics(const std::string& run) {
    std::vector<nlohmann::json> lines;
    std::ifstream in(run + "/metrics.jsonl");
    std::string line;
    while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
    return lines;
  }

  // A 2-step model with alignment heads (what the server's word timestamps need).
  void TrainAlignedModel(const std::string& run) {
    ASSERT_EQ(Train(run, "--set train.max_steps=2 --set train.val_data=").exit_code, 0);
    ASSERT_EQ(testing::RunCommand(kTool + "/mome_align --model " + run + " --prepared " + root_ +
                                  "/val --select-heads --heads 2")
                  .exit_code,
              0);
  }

  // An mp4 of a grey 96x96 mouth and a modulated tone from 0.2 s to `seconds` - 0.3 s: speech-like enough to decode.
  static void MakeSpeechLikeClip(const std::string& path, double seconds) {
    const std::string d = std::to_string(seconds), end = std::to_string(seconds - 0.3);
    ASSERT_EQ(
        testing::RunCommand("ffmpeg -nostdin -v error -y -f lavfi -i color=c=gray:s=96x96:r=25:d=" + d +
                            " -f lavfi -i \"aevalsrc=0.3*sin(2*PI*300*t)*(0.55+0.45*sin(2*PI*3*t))*between(t\\,0.2\\," +
                            end + "):s=16000:d=" + d + "\" -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest " + path)
            .exit_code,
        0);
  }

  std::string root_;
};

TEST_F(TrainingRun, WritesMetricsCheckpointsPlotsAndDecodes) {
  const std::string run = root_ + "/run";
  const auto r = Train(run);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto m = Metrics(run);
  ASSERT_EQ(m.size(), 8u);
  for (const char* key :
       {"step", "epoch", "loss", "ce", "load_balancing", "decorrelation", "lr", "grad_norm", "tokens_per_s"})
    EXPECT_TRUE(m[0].contains(key)) << key;
  EXPECT_LT(m.back()["ce"].get<double>(), m.front()["ce"].get<double>());
  EXPECT_TRUE(m[3].contains("wer")) << m[3].dump();
  EXPECT_EQ(m[3]["wer"].size(), 4u);  // every rate pair
  // keep_last 2 (+ best/), written atomically: no temp folders left.
  EXPECT_TRUE(fs::exists(run + "/checkpoints/step-00000008/checkpoint.json"));
  EXPECT_TRUE(fs::exists(run + "/checkpoints/step-00000006"));
  EXPECT_FALSE(fs::exists(run + "/checkpoints/step-00000004"));
  EXPECT_TRUE(fs::exists(run + "/best/trainable.safetensors"));
  // best.json is a link into best/: the weights and the WER that made them best are swapped in together.
  EXPECT_TRUE(fs::is_symlink(run + "/best.json"));
  EXPECT_EQ(fs::read_symlink(run + "/best.json"), "best/summary.json");
  const auto best = nlohmann::json::parse(testing::ReadFile(run + "/best.json"));
  EXPECT_EQ(best, nlohmann::json::parse(testing::ReadFile(run + "/best/summary.json")));
  EXPECT_TRUE(best.contains("wer_mean")) << best.dump();
  EXPECT_TRUE(fs::exists(run + "/config.yaml"));
  if (std::system("command -v gnuplot > /dev/null 2>&1") == 0) {  // the GPU machine has none: a warning instead
    EXPECT_TRUE(fs::exists(run + "/loss.png"));
    EXPECT_TRUE(fs::exists(run + "/wer.png"));
  }

  // Decoding: one JSON line per clip, identical whatever the batch size; trn files beside --output.
  const std::string decode = kTool + "/mome_decode --model " + run + " --prepared " + root_ +
                             "/val --modality avsr --audio-rate 4 --video-rate 2 --beam-size 3 --max-new-tokens 6";
  const auto b1 = testing::RunCommand(decode + " --batch-size 1 --output " + root_ + "/hyp1.jsonl");
  ASSERT_EQ(b1.exit_code, 0) << b1.err;
  EXPECT_NE(b1.err.find("WER"), std::string::npos) << b1.err;
  const auto b3 = testing::RunCommand(decode + " --batch-size 3");
  ASSERT_EQ(b3.exit_code, 0) << b3.err;

  // The sink analysis of a trained checkpoint builds the real multimodal prompt.
  const auto analyze = testing::RunCommand(kTool + "/mome_analyze --model " + run + " --prepared " + root_ +
                                           "/val --index 1 --audio-rate 4 --video-rate 2 --out " + root_ + "/analysis");
  ASSERT_EQ(analyze.exit_code, 0) << analyze.err;
  const auto report = testing::ReadJson(root_ + "/analysis/report.json");
  const auto roles = report["roles"].get<std::vector<std::string>>();
  for (const char* role : {"bos", "delimiter", "audio", "video", "prompt", "text", "eos"})
    EXPECT_NE(std::find(roles.begin(), roles.end(), role), roles.end()) << role;
  EXPECT_EQ(report["layers"].size(), 2u);
  EXPECT_EQ(report["layers"][0]["cos_to_bos"].size(), roles.size());
  std::ifstream f1(root_ + "/hyp1.jsonl");
  std::istringstream f3(b3.out);
  std::string l1, l3;
  int lines = 0;
  while (std::getline(f1, l1) && std::getline(f3, l3)) {
    const auto j1 = nlohmann::json::parse(l1), j3 = nlohmann::json::parse(l3);
    EXPECT_EQ(j1["key"], j3["key"]);
    EXPECT_EQ(j1["ids"], j3["ids"]) << j1["key"];
    EXPECT_EQ(j1["text"], j3["text"]);
    for (const char* key : {"ref", "logprobs", "modality", "audio_rate", "video_rate", "audio_seconds", "decode_ms"})
      EXPECT_TRUE(j1.contains(key)) << key;
    ++lines;
  }
  EXPECT_EQ(lines, 4);
  EXPECT_TRUE(fs::exists(root_ + "/hyp1.hyp.trn"));
  EXPECT_TRUE(fs::exists(root_ + "/hyp1.ref.trn"));

  // Elastic: an untrained pair is refused with the trained ones listed; so is another modality.
  const auto bad_pair = testing::RunCommand(kTool + "/mome_decode --model " + run + " --prepared " + root_ +
                                            "/val --modality avsr --audio-rate 3");
  EXPECT_EQ(bad_pair.exit_code, 1);
  EXPECT_NE(bad_pair.err.find("trained pairs"), std::string::npos) << bad_pair.err;
  const auto bad_modality =
      testing::RunCommand(kTool + "/mome_decode --model " + run + " --prepared " + root_ + "/val --modality vsr");
  EXPECT_EQ(bad_modality.exit_code, 1);
  EXPECT_NE(bad_modality.err.find("trained for avsr"), std::string::npos) << bad_modality.err;
  const auto missing = testing::RunCommand(kTool + "/mome_decode --model " + root_ + "/nothing --prepared " + root_ +
                                           "/val --modality avsr");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(testing::CountLines(missing.err), 1) << missing.err;
}

TEST_F(TrainingRun, ResumesExactlyAfterSigkill) {
  const std::string full = root_ + "/full", killed = root_ + "/killed";
  ASSERT_EQ(Train(full).exit_code, 0);
  // Start the same run, SIGKILL it once its step-4 checkpoint exists, resume.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string bin = kTool + "/mome_train", cfg = root_ + "/train.yaml";
    ::freopen("/dev/null", "w", stderr);
    ::execl(bin.c_str(), bin.c_str(), "--config", cfg.c_str(), "--out", killed.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  while (!fs::exists(killed + "/checkpoints/step-00000004/checkpoint.json") &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const auto resumed = Train(killed, "--resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resumed from"), std::string::npos) << resumed.err;
  const auto a = Metrics(full), b = Metrics(killed);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["step"], b[i]["step"]);
    EXPECT_EQ(a[i]["loss"].get<double>(), b[i]["loss"].get<double>()) << "step " << a[i]["step"];
    EXPECT_EQ(a[i]["grad_norm"].get<double>(), b[i]["grad_norm"].get<double>()) << "step " << a[i]["step"];
  }
}

// Every checkpoint a reader can see opens and reads to its last byte.
void ExpectEveryVisibleCheckpointWhole(const std::string& run, int kill) {
  for (const auto& dir : io::CheckpointsOf(run)) {
    try {
      const auto file = io::SafetensorsFile::Open(dir + "/trainable.safetensors");
      for (const auto& name : file->Names()) (void)file->Get(name).sum();
      (void)io::ReadCheckpointInfo(dir);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "after kill " << kill << ": " << dir << " is visible but broken: " << e.what();
    }
  }
}

// The trainable weights of the latest checkpoints of two runs, tensor for tensor.
void ExpectSameFinalWeights(const std::string& a_run, const std::string& b_run) {
  const auto a = io::SafetensorsFile::Open(io::LatestCheckpoint(a_run) + "/trainable.safetensors");
  const auto b = io::SafetensorsFile::Open(io::LatestCheckpoint(b_run) + "/trainable.safetensors");
  ASSERT_EQ(a->Names(), b->Names());
  for (const auto& name : a->Names()) EXPECT_TRUE(torch::equal(a->Get(name), b->Get(name))) << name;
}

TEST_F(TrainingRun, TwentySigkillsAtRandomMomentsLoseNothing) {
  // Checkpoints at every step and validation every 4: kills land in steps, checkpoint writes and validation.
  const std::vector<std::string> sets = {"train.checkpoint_every=1", "train.max_steps=10"};
  const std::string config = root_ + "/train.yaml", full = root_ + "/full", killed = root_ + "/killed";
  const auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(Train(full, "--set train.checkpoint_every=1 --set train.max_steps=10").exit_code, 0);
  const double run_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  std::mt19937 rng(20261205);
  std::uniform_real_distribution<double> moment(0.05, 0.9);  // of an uninterrupted run, start-up included
  for (int kill = 1; kill <= 20; ++kill) {
    std::vector<std::string> argv = {kTool + "/mome_train", "--config", config, "--out", killed, "--resume"};
    for (const auto& s : sets) argv.insert(argv.end(), {"--set", s});
    const pid_t pid = testing::SpawnQuiet(argv);
    ASSERT_GT(pid, 0);
    testing::KillAfter(pid, static_cast<int64_t>(moment(rng) * run_ms));
    ExpectEveryVisibleCheckpointWhole(killed, kill);
  }
  const auto resumed = Train(killed, "--resume --set train.checkpoint_every=1 --set train.max_steps=10");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const auto a = Metrics(full), b = Metrics(killed);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i]["loss"], b[i]["loss"]) << "metrics line " << i;
  ExpectSameFinalWeights(full, killed);
}

int64_t FolderBytes(const std::string& dir) {
  int64_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) bytes += static_cast<int64_t>(e.file_size());
  return bytes;
}

TEST_F(TrainingRun, DiskFullDuringACheckpointOrAnOutputLosesNothing) {
  const std::string sets = "--set train.max_steps=4 --set train.checkpoint_every=2 --set train.val_data=";
  const std::string sized = root_ + "/sized";
  ASSERT_EQ(Train(sized, sets).exit_code, 0);
  const int64_t checkpoint = FolderBytes(io::CheckpointsOf(sized).front());
  // Room for the first checkpoint and the run's small files, not for a second checkpoint.
  testing::SmallDisk disk(root_ + "/disk", checkpoint * 3 / 2 + 64 * 1024);
  if (!disk.mounted()) GTEST_SKIP() << disk.why();
  const std::string run = root_ + "/disk/run";
  const auto full = Train(run, sets);
  EXPECT_EQ(full.exit_code, 1) << full.err;
  EXPECT_EQ(testing::CountErrorLines(full.err), 1) << full.err;
  EXPECT_EQ(full.err.find("terminate called"), std::string::npos) << full.err;
  const auto kept = io::CheckpointsOf(run);
  ASSERT_EQ(kept.size(), 1u) << full.err;
  EXPECT_NE(kept[0].find("step-00000002"), std::string::npos);
  const auto file = io::SafetensorsFile::Open(kept[0] + "/trainable.safetensors");
  for (const auto& name : file->Names()) (void)file->Get(name).sum();
  for (const auto& e : fs::directory_iterator(run + "/checkpoints"))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << "left behind: " << e.path();

  // A decode whose --output cannot be written: the previous output stays as it was.
  const std::string output = root_ + "/disk/hyp.jsonl";
  std::ofstream(output) << "{\"key\": \"earlier\", \"hyp\": \"GOOD RESULTS\"}\n";
  testing::FillDisk(root_ + "/disk");
  const auto decode = testing::RunCommand(kTool + "/mome_decode --model " + sized + " --prepared " + root_ +
                                          "/val --max-new-tokens 4 --output " + output);
  EXPECT_EQ(decode.exit_code, 1) << decode.err;
  EXPECT_EQ(testing::CountErrorLines(decode.err), 1) << decode.err;
  EXPECT_EQ(testing::ReadFile(output), "{\"key\": \"earlier\", \"hyp\": \"GOOD RESULTS\"}\n");
}

TEST_F(TrainingRun, TwoGlooProcessesMatchOneProcessWithTheSameGlobalBatch) {
  // 2 processes x accumulation 1 == 1 process x accumulation 2 (the sampler deals global batches round-robin).
  if (!train::CpuDataParallelAvailable()) GTEST_SKIP() << "this LibTorch has no Gloo (the PyTorch wheel)";
  const std::string one = root_ + "/one", two = root_ + "/two";
  const std::string common = "--set train.max_steps=3 --set train.checkpoint_every=3 --set train.val_data=";
  const auto r1 = Train(one, common + " --set train.accumulation=2");
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  const auto r2 = Train(two, common + " --nproc 2");
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_NE(r2.err.find("processes in sync"), std::string::npos) << r2.err;
  const auto summary = r2.err.find("mome_train: finished");  // one summary line, not one per process
  EXPECT_EQ(r2.err.find("mome_train: finished", summary + 1), std::string::npos) << r2.err;
  const auto a = io::SafetensorsFile::Open(one + "/checkpoints/step-00000003/trainable.safetensors");
  const auto b = io::SafetensorsFile::Open(two + "/checkpoints/step-00000003/trainable.safetensors");
  ASSERT_EQ(a->Names(), b->Names());
  for (const auto& name : a->Names()) {
    // BatchNorm running statistics are averaged over processes, which is not what one process accumulating
    // micro-batches computes; they do not enter training-mode forward passes.
    if (name.find("running_") != std::string::npos) continue;
    EXPECT_TRUE(torch::allclose(a->Get(name).to(torch::kFloat), b->Get(name).to(torch::kFloat), 1e-4, 1e-5)) << name;
  }
}

// train.init_from (the demo's curriculum): a run starts from another run's trainable tensors where names and shapes
// match. With a negligible learning rate (1e-30: it must be positive) the parameters it took come out unchanged.
TEST_F(TrainingRun, InitFromCopiesTheTensorsTwoRunsShare) {
  ASSERT_EQ(Train(root_ + "/first", "--set train.max_steps=2 --set train.val_data=").exit_code, 0);
  {  // a fresh run into a folder that holds one is refused, and nothing of the old run changes
    const std::string metrics_before = testing::ReadFile(root_ + "/first/metrics.jsonl");
    const std::string config_before = testing::ReadFile(root_ + "/first/config.yaml");
    const auto again = Train(root_ + "/first", "--set train.max_steps=3 --set train.val_data=");
    EXPECT_EQ(again.exit_code, 1);
    EXPECT_EQ(testing::CountLines(again.err), 1) << again.err;
    EXPECT_NE(again.err.find("--resume"), std::string::npos) << again.err;
    EXPECT_EQ(testing::ReadFile(root_ + "/first/metrics.jsonl"), metrics_before);
    EXPECT_EQ(testing::ReadFile(root_ + "/first/config.yaml"), config_before);
  }
  const auto second = Train(root_ + "/second",
                            "--set train.max_steps=1 --set train.val_data= --set train.lr=1e-30 "
                            "--set train.min_lr=0 --set train.init_from=" +
                                root_ + "/first");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.err.find("initialised"), std::string::npos) << second.err;
  const auto a = io::SafetensorsFile::Open(io::LatestCheckpoint(root_ + "/first") + "/trainable.safetensors");
  const auto b = io::SafetensorsFile::Open(io::LatestCheckpoint(root_ + "/second") + "/trainable.safetensors");
  int64_t compared = 0;
  for (const auto& name : a->Names()) {
    if (name.find("running_") != std::string::npos || name.find("num_batches") != std::string::npos) continue;
    ASSERT_TRUE(b->Has(name)) << name;
    EXPECT_TRUE(at::allclose(a->Get(name), b->Get(name), 0.0, 1e-20)) << name;
    ++compared;
  }
  EXPECT_GT(compared, 50);
  const auto missing = Train(root_ + "/third", "--set train.max_steps=1 --set train.init_from=" + root_ + "/none");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find(root_ + "/none"), std::string::npos) << missing.err;
}

// train.init_from as a list (the demo's lip-reading stage freezes the audio encoder, so its checkpoint lacks it):
// each tensor comes from the first run that has it, so [lips, first] takes the audio encoder from `first` and the
// rest from `lips`; a run that adds nothing is refused in one line.
TEST_F(TrainingRun, InitFromAListTakesEachTensorFromTheFirstRunThatHasIt) {
  const std::string tiny_lr = " --set train.val_data= --set train.lr=1e-30 --set train.min_lr=0";
  ASSERT_EQ(Train(root_ + "/first", "--set train.max_steps=2 --set train.val_data=").exit_code, 0);
  ASSERT_EQ(Train(root_ + "/lips", "--set train.max_steps=2 --set train.val_data= --set train.init_from=" + root_ +
                                       "/first --set audio_encoder.trainable=false")
                .exit_code,
            0);
  const auto both = Train(root_ + "/both", "--set train.max_steps=1" + tiny_lr + " --set train.init_from=[" + root_ +
                                               "/lips," + root_ + "/first]");
  ASSERT_EQ(both.exit_code, 0) << both.err;
  const auto first = io::SafetensorsFile::Open(io::LatestCheckpoint(root_ + "/first") + "/trainable.safetensors");
  const auto lips = io::SafetensorsFile::Open(io::LatestCheckpoint(root_ + "/lips") + "/trainable.safetensors");
  const auto out = io::SafetensorsFile::Open(io::LatestCheckpoint(root_ + "/both") + "/trainable.safetensors");
  int64_t from_first = 0, from_lips = 0;
  for (const auto& name : out->Names()) {
    if (name.find("running_") != std::string::npos || name.find("num_batches") != std::string::npos) continue;
    const bool audio = name.rfind("audio_encoder.", 0) == 0;
    ASSERT_EQ(lips->Has(name), !audio) << name;
    const auto& source = audio ? first : lips;
    EXPECT_TRUE(at::allclose(source->Get(name), out->Get(name), 0.0, 1e-20)) << name;
    ++(audio ? from_first : from_lips);
  }
  EXPECT_GT(from_first, 10);
  EXPECT_GT(from_lips, 50);
  const auto redundant = Train(
      root_ + "/redundant", "--set train.max_steps=1 --set train.init_from=[" + root_ + "/first," + root_ + "/lips]");
  EXPECT_EQ(redundant.exit_code, 1);
  EXPECT_NE(redundant.err.find(root_ + "/lips adds no tensor"), std::string::npos) << redundant.err;
}

// tools/export_llm.py (tools/ablation.sh's frozen LLM): the exported folder holds exactly the run's fine-tuned
// Llama tensors, loads as llm.path with the LLM frozen, and an existing folder is never overwritten.
TEST_F(TrainingRun, ExportedLlmIsTheRunsLlamaAndTrainsFrozen) {
  ASSERT_EQ(Train(root_ + "/first", "--set train.max_steps=2 --set train.val_data=").exit_code, 0);
  const std::string exporter = "/usr/bin/python3 " + std::string(MOME_SOURCE_DIR) + "/tools/export_llm.py ";
  const std::string exported = root_ + "/exported";
  const auto made = testing::RunCommand(exporter + root_ + "/first " + root_ + "/llm " + exported);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const auto run = io::SafetensorsFile::Open(io::LatestCheckpoint(root_ + "/first") + "/trainable.safetensors");
  const auto llm = io::SafetensorsFile::Open(exported + "/model.safetensors");
  const auto original = io::SafetensorsFile::Open(root_ + "/llm/model.safetensors");
  int64_t compared = 0, changed = 0;
  for (const auto& name : llm->Names()) {
    ASSERT_TRUE(run->Has("llm." + name)) << name;
    EXPECT_TRUE(at::equal(llm->Get(name), run->Get("llm." + name))) << name;
    changed += at::equal(llm->Get(name), original->Get(name)) ? 0 : 1;
    ++compared;
  }
  EXPECT_EQ(compared, static_cast<int64_t>(original->Names().size()));
  EXPECT_GT(changed, 0);  // the run trained its Llama: the export is not the starting checkpoint
  const auto frozen = Train(root_ + "/second",
                            "--set train.max_steps=1 --set train.val_data= --set llm.trainable=false "
                            "--set llm.path=" +
                                exported);
  EXPECT_EQ(frozen.exit_code, 0) << frozen.err;
  const auto again = testing::RunCommand(exporter + root_ + "/first " + root_ + "/llm " + exported);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("exists"), std::string::npos) << again.err;
}

TEST_F(TrainingRun, TimestampsNeedAlignmentHeadsThenGiveWordsSubtitlesAndScores) {
  const std::string run = root_ + "/ts";
  ASSERT_EQ(Train(run, "--set train.max_steps=4 --set train.val_data=").exit_code, 0);
  const std::string decode = kTool + "/mome_decode --model " + run + " --prepared " + root_ + "/val ";
  const auto no_heads = testing::RunCommand(decode + "--timestamps");
  EXPECT_EQ(no_heads.exit_code, 1);
  EXPECT_NE(no_heads.err.find("mome_align --select-heads"), std::string::npos) << no_heads.err;
  EXPECT_EQ(testing::CountLines(no_heads.err), 1) << no_heads.err;

  const std::string manifest = root_ + "/val/manifest.jsonl", before = testing::ReadFile(manifest);
  const auto onto_input = testing::RunCommand(decode + "--output " + manifest);
  EXPECT_EQ(onto_input.exit_code, 1);
  EXPECT_NE(onto_input.err.find("one of the inputs"), std::string::npos) << onto_input.err;
  EXPECT_EQ(testing::ReadFile(manifest), before);

  const auto select = testing::RunCommand(kTool + "/mome_align --model " + run + " --prepared " + root_ +
                                          "/val --select-heads --heads 2");
  ASSERT_EQ(select.exit_code, 0) << select.err;
  EXPECT_EQ(nlohmann::json::parse(select.out)["heads"].size(), 2u) << select.out;

  const auto timed = testing::RunCommand(decode + "--timestamps --beam-size 2 --max-new-tokens 4");
  ASSERT_EQ(timed.exit_code, 0) << timed.err;
  std::istringstream lines(timed.out);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    const auto j = nlohmann::json::parse(line);
    ASSERT_TRUE(j.contains("words")) << line;
    double last = 0;
    for (const auto& w : j["words"]) {
      EXPECT_GE(w["start"].get<double>(), last) << line;
      last = w["start"].get<double>();
      EXPECT_LE(w["end"].get<double>(), j["audio_seconds"].get<double>() + 1e-9) << line;
    }
  }
  EXPECT_EQ(n, 4);
  const auto srt = testing::RunCommand(decode + "--timestamps --max-new-tokens 4 --beam-size 1 --format srt " +
                                       "--output-dir " + root_ + "/subs");
  ASSERT_EQ(srt.exit_code, 0) << srt.err;
  EXPECT_TRUE(srt.out.empty()) << srt.out;
  EXPECT_TRUE(fs::exists(root_ + "/subs/spk0/clip0.srt"));
  const auto bad_format = testing::RunCommand(decode + "--format vtt --output-dir " + root_ + "/subs");
  EXPECT_EQ(bad_format.exit_code, 1);
  EXPECT_NE(bad_format.err.find("--timestamps"), std::string::npos) << bad_format.err;

  const auto scored = testing::RunCommand(kTool + "/mome_align --model " + run + " --prepared " + root_ +
                                          "/val --beam-size 1 --max-new-tokens 4");
  ASSERT_EQ(scored.exit_code, 0) << scored.err;
  const auto j = nlohmann::json::parse(scored.out);
  for (const char* key : {"start_median_ms", "start_within_200ms", "confidence_auc", "wer", "words_scored"})
    EXPECT_TRUE(j.contains(key)) << key << " " << scored.out;
}

#if MOME_WITH_SERVE
// A running mome_serve: started on a free port, stopped with SIGTERM (which must drain and exit 0).
class ServeProcess {
 public:
  ServeProcess(const std::string& model, const std::vector<std::string>& extra = {}) {
    port_ = 20000 + static_cast<int>(::getpid() % 20000) + static_cast<int>(extra.size());
    std::vector<std::string> args = {kTool + "/mome_serve", "--model", model, "--port", std::to_string(port_)};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      ::freopen("/dev/null", "w", stderr);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  bool WaitReady() {
    httplib::Client c("127.0.0.1", port_);
    for (int i = 0; i < 600; ++i) {
      if (auto r = c.Get("/health"); r && r->status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  int Stop() {  // SIGTERM; the exit code
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  ~ServeProcess() {
    if (pid_ > 0) Stop();
  }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// The `curl -s localhost:8080...` commands of the README (continuation lines joined).
std::vector<std::string> ReadmeCurlExamples() {
  std::ifstream in(std::string(MOME_SOURCE_DIR) + "/README.md");
  std::vector<std::string> commands;
  std::string line, open;
  while (std::getline(in, line)) {
    if (open.empty() && line.rfind("curl -s localhost:8080", 0) != 0) continue;
    const bool continues = !line.empty() && line.back() == '\\';
    open += continues ? line.substr(0, line.size() - 1) : line;
    if (!continues) commands.push_back(open), open.clear();
  }
  EXPECT_GE(commands.size(), 3u) << "the README lost its curl examples";
  return commands;
}

httplib::Result PostForm(httplib::Client& c, const std::string& file, const httplib::MultipartFormDataItems& fields,
                         const httplib::Headers& headers = {}) {
  httplib::MultipartFormDataItems items = fields;
  if (!file.empty()) items.push_back({"file", testing::ReadFile(file), "clip.mp4", "video/mp4"});
  return c.Post("/v1/audio/transcriptions", headers, items);
}

TEST_F(TrainingRun, ServeAnswersOpenAiRequestsConcurrentlyWithErrorsAsOpenAi) {
  const std::string run = root_ + "/serve", clip = root_ + "/clip.mp4";
  ASSERT_NO_FATAL_FAILURE(TrainAlignedModel(run));
  ASSERT_NO_FATAL_FAILURE(MakeSpeechLikeClip(clip, 1.0));
  ServeProcess server(run, {"--max-wait-ms", "300", "--max-batch", "4"});
  ASSERT_TRUE(server.WaitReady());
  httplib::Client c("127.0.0.1", server.port());
  const auto models = nlohmann::json::parse(c.Get("/v1/models")->body);
  ASSERT_EQ(models["data"].size(), 4u);  // audio rates 2, 4 x video rates 1, 2
  const std::string id = models["data"][1]["id"];
  const auto json = PostForm(c, clip, {{"model", id, "", ""}});
  ASSERT_TRUE(json);
  ASSERT_EQ(json->status, 200) << json->body;
  const std::string text = nlohmann::json::parse(json->body)["text"];
  EXPECT_FALSE(text.empty()) << "a clip with speech-like sound must be decoded";
  const auto plain = PostForm(c, clip, {{"model", id, "", ""}, {"response_format", "text", "", ""}});
  EXPECT_EQ(plain->body, text + "\n");
  const auto verbose = PostForm(c, clip,
                                {{"model", id, "", ""},
                                 {"response_format", "verbose_json", "", ""},
                                 {"timestamp_granularities[]", "word", "", ""},
                                 {"timestamp_granularities[]", "segment", "", ""}});
  ASSERT_EQ(verbose->status, 200) << verbose->body;
  const auto v = nlohmann::json::parse(verbose->body);
  EXPECT_EQ(v["text"], text);
  EXPECT_TRUE(v.contains("words") && v.contains("segments") && v.contains("duration")) << verbose->body;
  EXPECT_EQ(PostForm(c, clip, {{"response_format", "srt", "", ""}})->status, 200);
  // Concurrent clients equal the sequential answer.
  std::atomic<int> mismatches{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i)
    clients.emplace_back([&] {
      httplib::Client own("127.0.0.1", server.port());
      const auto r = PostForm(own, clip, {{"model", id, "", ""}});
      if (!r || r->status != 200 || nlohmann::json::parse(r->body)["text"] != text) ++mismatches;
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  const std::string metrics = c.Get("/metrics")->body;  // every request decoded in some batch, some shared
  EXPECT_NE(metrics.find("mome_batches_total{size="), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("mome_requests_total{status=\"200\"}"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("mome_transcription_seconds_bucket{le=\"+Inf\"}"), std::string::npos) << metrics;
  // Errors: a 4xx with OpenAI's error object, never a crash.
  for (const auto& [fields, file, status] : std::vector<std::tuple<httplib::MultipartFormDataItems, std::string, int>>{
           {{{"model", "nope", "", ""}}, clip, 400},
           {{{"response_format", "xml", "", ""}}, clip, 400},
           {{{"colour", "blue", "", ""}}, clip, 400},
           {{{"audio_rate", "3", "", ""}}, clip, 400},
           {{{"model", id, "", ""}}, "", 400},
           {{{"beam_size", "100000", "", ""}}, clip, 400}}) {
    const auto r = PostForm(c, file, fields);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << fields[0].name << ": " << r->body;
    EXPECT_TRUE(nlohmann::json::parse(r->body)["error"].contains("message")) << r->body;
  }
  std::ofstream(root_ + "/junk.mp4") << "definitely not media";
  EXPECT_EQ(PostForm(c, root_ + "/junk.mp4", {})->status, 400);
  EXPECT_EQ(c.Post("/v1/audio/transcriptions", R"({"file": "x"})", "application/json")->status, 415);
  // The README's curl examples, as written (port and working folder aside), answer with JSON.
  fs::copy_file(clip, root_ + "/talk.mp4", fs::copy_options::overwrite_existing);
  for (const auto& command : ReadmeCurlExamples()) {
    std::string cmd = command;
    cmd.replace(cmd.find("localhost:8080"), 14, "127.0.0.1:" + std::to_string(server.port()));
    const auto r = testing::RunCommand("cd " + root_ + " && " + cmd);
    ASSERT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
    EXPECT_NO_THROW(nlohmann::json::parse(r.out)) << cmd << ": " << r.out;
    EXPECT_EQ(r.out.find("\"error\""), std::string::npos) << cmd << ": " << r.out;
  }
  EXPECT_EQ(server.Stop(), 0);  // SIGTERM drains and exits 0

  ServeProcess keyed(run, {"--api-key", "sesame"});
  ASSERT_TRUE(keyed.WaitReady());
  httplib::Client k("127.0.0.1", keyed.port());
  EXPECT_EQ(k.Get("/health")->status, 200);
  EXPECT_EQ(k.Get("/v1/models")->status, 401);
  EXPECT_EQ(k.Get("/v1/models", {{"Authorization", "Bearer sesame"}})->status, 200);
  EXPECT_EQ(PostForm(k, clip, {}, {{"Authorization", "Bearer wrong"}})->status, 401);
  EXPECT_EQ(keyed.Stop(), 0);
  const auto open = testing::RunCommand(kTool + "/mome_serve --model " + run + " --host 0.0.0.0 --port 1");
  EXPECT_EQ(open.exit_code, 1);
  EXPECT_NE(open.err.find("--api-key"), std::string::npos) << open.err;
}

// tests/web/page_check.py against the server on `port`, with Debian's python3 (python3-selenium is installed for it;
// a python3 earlier on PATH may lack it).
testing::CommandResult PageCheck(int port, const std::string& args) {
  return testing::RunCommand("/usr/bin/python3 " + std::string(MOME_SOURCE_DIR) + "/tests/web/page_check.py --url " +
                             "http://127.0.0.1:" + std::to_string(port) + " " + args);
}

TEST_F(TrainingRun, WebPageTranscribesUploadsAndRecordingsInHeadlessChromium) {
  if (!fs::exists("/usr/bin/chromium") || !fs::exists("/usr/bin/chromedriver"))
    GTEST_SKIP() << "no chromium + chromium-driver (tools/install_deps.sh installs them)";
  const std::string run = root_ + "/web", clip = root_ + "/clip.mp4";
  ASSERT_NO_FATAL_FAILURE(TrainAlignedModel(run));
  ASSERT_NO_FATAL_FAILURE(MakeSpeechLikeClip(clip, 1.5));
  ServeProcess server(run, {"--roi", "precropped"});
  ASSERT_TRUE(server.WaitReady());
  httplib::Client c("127.0.0.1", server.port());
  const auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("MediaRecorder"), std::string::npos);
  // The screenshot for the README: MOME_WEB_SCREENSHOT=docs/web_page.png.
  const char* shot = std::getenv("MOME_WEB_SCREENSHOT");
  const auto upload = PageCheck(server.port(), "--clip " + clip + (shot ? std::string(" --screenshot ") + shot : ""));
  EXPECT_EQ(upload.exit_code, 0) << upload.out << upload.err;
  EXPECT_NE(upload.out.find("page_check: upload:"), std::string::npos) << upload.out;
  // A recording (WebM from MediaRecorder), on an audio-only model: the fake camera shows no mouth.
  const std::string asr = root_ + "/web_asr";
  ASSERT_EQ(Train(asr, "--set train.max_steps=2 --set train.val_data= --set model.modality=asr").exit_code, 0);
  ServeProcess audio_server(asr, {"--max-batch", "2", "--max-wait-ms", "5"});  // (another port: 4 args)
  ASSERT_TRUE(audio_server.WaitReady());
  const auto recorded = PageCheck(audio_server.port(), "--record");
  EXPECT_EQ(recorded.exit_code, 0) << recorded.out << recorded.err;
  EXPECT_NE(recorded.out.find("page_check: recording: done"), std::string::npos) << recorded.out;
}

#endif  // MOME_WITH_SERVE (the web page test needs the server and cpp-httplib too)

TEST_F(TrainingRun, BadInputsGiveOneLine) {
  const auto no_data = Train(root_ + "/x", "--set train.data=" + root_ + "/missing");
  EXPECT_EQ(no_data.exit_code, 1);
  EXPECT_NE(no_data.err.find("manifest.jsonl"), std::string::npos) << no_data.err;
  EXPECT_EQ(testing::CountLines(no_data.err), 1) << no_data.err;
  const auto bad_key = Train(root_ + "/x", "--set train.nonsense=1");
  EXPECT_EQ(bad_key.exit_code, 1);
  EXPECT_NE(bad_key.err.find("nonsense"), std::string::npos) << bad_key.err;
  // A checkpoint refuses another base model: train with the LLM frozen, then replace the LLM under it.
  ASSERT_EQ(Train(root_ + "/run2", "--set train.max_steps=2 --set train.val_data= --set llm.trainable=false").exit_code,
            0);
  const auto remade2 = testing::RunCommand(kTool + "/mome_make_tiny --config " + std::string(MOME_SOURCE_DIR) +
                                           "/configs/tiny_llama.yaml --out " + root_ +
                                           "/llm --set model.dtype=float32 "
                                           "--set seed=7 --set tokenizer=" +
                                           MOME_SOURCE_DIR + "/tests/data/tokenizer/tokenizer.json");
  ASSERT_EQ(remade2.exit_code, 0);
  const auto other_base = testing::RunCommand(kTool + "/mome_decode --model " + root_ + "/run2 --prepared " + root_ +
                                              "/val --modality avsr");
  EXPECT_EQ(other_base.exit_code, 1);
  EXPECT_NE(other_base.err.find("another base model"), std::string::npos) << other_base.err;
}

}  // namespace
}  // namespace mome
