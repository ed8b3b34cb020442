// Training building blocks on the tiny AVSR model with synthetic encoder features: the schedule, a few AdamW
// steps lowering the Matryoshka loss, and checkpoints that resume exactly and refuse another base model.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "mome/core/error.h"
#include "mome/io/checkpoint.h"
#include "mome/llm/llama_loader.h"
#include "mome/model/avsr_model.h"
#include "mome/train/fused_adamw.h"
#include "mome/train/losses.h"
#include "mome/train/matryoshka_loss.h"
#include "mome/train/schedule.h"
#include "mome/train/training_state.h"
#include "test_helpers.h"

namespace mome {
namespace {

TEST(CosineSchedule, WarmsUpThenDecays) {
  train::CosineSchedule s{1e-3, 1e-5, 10, 110};
  EXPECT_NEAR(s.LearningRate(0), 1e-4, 1e-12);
  EXPECT_NEAR(s.LearningRate(9), 1e-3, 1e-12);
  EXPECT_NEAR(s.LearningRate(60), 1e-5 + 0.5 * (1e-3 - 1e-5), 1e-9);  // half way through the decay
  EXPECT_NEAR(s.LearningRate(110), 1e-5, 1e-12);
  EXPECT_NEAR(s.LearningRate(500), 1e-5, 1e-12);
}

// FusedAdamW keeps torch::optim::AdamW's state and update: bit-identical where it falls back (CPU), and on CUDA
// (the fused kernel, float32 inside) within float rounding of AdamW over several steps, including a parameter that
// has no gradient in one step (its own step count) and the state a checkpoint would save.
TEST(FusedAdamW, UpdatesAsAdamW) {
  std::vector<c10::Device> devices = {torch::kCPU};
  if (torch::cuda::is_available()) devices.push_back(torch::kCUDA);
  for (const c10::Device device : devices) {
    torch::manual_seed(11);
    std::vector<at::Tensor> a = {torch::randn({5, 7}), torch::randn({3})}, b;
    for (auto& t : a) {
      t = t.to(device).requires_grad_(true);
      b.push_back(t.detach().clone().requires_grad_(true));
    }
    const auto options = torch::optim::AdamWOptions(1e-2).betas({0.9, 0.98}).weight_decay(0.1);
    torch::optim::AdamW plain(a, options);
    train::FusedAdamW fused(b, options);
    for (int step = 0; step < 4; ++step) {
      for (size_t i = 0; i < a.size(); ++i) {
        const bool skip = step == 2 && i == 1;  // no gradient this step
        const at::Tensor g = torch::randn(a[i].sizes()).to(device);
        a[i].mutable_grad() = skip ? at::Tensor() : g;
        b[i].mutable_grad() = skip ? at::Tensor() : g.clone();
      }
      plain.step();
      fused.step();
      EXPECT_EQ(fused.last_step_fused(), device.is_cuda() && TORCH_VERSION_MAJOR >= 2) << device;
      for (size_t i = 0; i < a.size(); ++i) {
        if (device.is_cpu()) {
          EXPECT_TRUE(torch::equal(a[i], b[i])) << "step " << step << " tensor " << i;
        } else {
          EXPECT_TRUE(torch::allclose(a[i], b[i], 1e-5, 1e-6)) << "step " << step << " tensor " << i;
        }
      }
    }
  }
}

class TinyTraining : public ::testing::Test {
 protected:
  model::AVSRModel MakeModel() {
    torch::manual_seed(5);
    auto llm = llm::LoadLlama(testing::DataPath("llama/gqa_llama3_rope"), torch::kCPU, torch::kFloat);
    model::AVSRModelOptions o;
    o.audio_rates = {2, 4};
    o.video_rates = {1};
    o.audio_dim = 12;
    o.video_dim = 10;
    o.projector_hidden = 32;
    o.adapters.kind = adapters::AdapterKind::kMoME;
    o.adapters.mome.num_experts = 4;
    o.adapters.mome.top_k = {2};
    o.adapters.mome.bottleneck = 4;
    return model::AVSRModel(o, llm, torch::TensorOptions());
  }
  void SetUp() override {
    torch::manual_seed(6);
    inputs_.audio = torch::randn({2, 12, 12});
    inputs_.audio_lengths = torch::tensor({12, 8}, torch::kLong);
    inputs_.video = torch::randn({2, 6, 10});
    inputs_.video_lengths = torch::tensor({6, 4}, torch::kLong);
    inputs_.instruction_ids = {{7, 8}, {7, 8}};
    inputs_.transcript_ids = {{20, 21, 22, 23}, {30, 31}};
  }
  // One optimiser step on the Matryoshka loss; returns the loss before the step.
  double Step(model::AVSRModel& m, torch::optim::AdamW& opt, const train::CosineSchedule& schedule, int64_t step) {
    for (auto& group : opt.param_groups())
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(schedule.LearningRate(step));
    model::LossSection weights;
    weights.load_balancing = 0.01;
    const at::Tensor loss = train::MatryoshkaLoss(*m, inputs_, m->rate_pairs(), weights).loss;
    opt.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(m->parameters(), 10.0);
    opt.step();
    return loss.item<double>();
  }
  static torch::optim::AdamWOptions Recipe() {
    return torch::optim::AdamWOptions(1e-3).betas({0.9, 0.98}).weight_decay(0.1);
  }
  model::ModelInputs inputs_;
};

TEST_F(TinyTraining, StepsLowerTheLoss) {
  auto m = MakeModel();
  torch::optim::AdamW opt(m->parameters(), Recipe());
  const train::CosineSchedule schedule{3e-3, 0.0, 2, 30};
  const double first = Step(m, opt, schedule, 0);
  double last = first;
  for (int64_t s = 1; s < 30; ++s) last = Step(m, opt, schedule, s);
  EXPECT_LT(last, 0.5 * first) << "first " << first << " last " << last;
}

TEST_F(TinyTraining, CheckpointResumesExactlyAndRefusesAnotherBase) {
  const train::CosineSchedule schedule{3e-3, 0.0, 2, 20};
  const std::string dir = ::testing::TempDir() + "/mome_ckpt";
  testing::RemoveTree(dir);
  auto a = MakeModel();
  torch::optim::AdamW opt_a(a->parameters(), Recipe());
  const std::string fingerprint = io::BaseFingerprint(*a->llm());
  std::vector<double> uninterrupted;
  for (int64_t s = 0; s < 10; ++s) {
    if (s == 5) io::SaveCheckpoint(dir, *a, opt_a, {"config: x", fingerprint, s, {{"sampler", "0:5"}}});
    uninterrupted.push_back(Step(a, opt_a, schedule, s));
  }
  auto b = MakeModel();
  {
    torch::NoGradGuard no_grad;
    for (auto& p : b->parameters()) p.normal_();  // nothing of b's own initialisation may survive the load
  }
  torch::optim::AdamW opt_b(b->parameters(), Recipe());
  const auto info = io::LoadCheckpoint(dir, *b, opt_b, io::BaseFingerprint(*b->llm()));
  EXPECT_EQ(info.step, 5);
  EXPECT_EQ(info.extra.at("sampler"), "0:5");
  for (int64_t s = 5; s < 10; ++s) EXPECT_EQ(Step(b, opt_b, schedule, s), uninterrupted[s]) << "step " << s;
  EXPECT_FALSE(std::filesystem::exists(dir + ".tmp." + std::to_string(getpid())));

  auto other = llm::LoadLlama(testing::DataPath("llama/linear_rope_headdim_bias_f16"), torch::kCPU, torch::kFloat);
  EXPECT_NE(io::BaseFingerprint(*other), fingerprint);
  EXPECT_THROW(io::LoadCheckpoint(dir, *b, opt_b, io::BaseFingerprint(*other)), Error);
  EXPECT_THROW(io::LoadCheckpoint(dir + "_missing", *b, opt_b, ""), Error);
}

TEST(TrainingState, RoundTripsThroughCheckpointFieldsAndRefusesMalformedOnes) {
  io::CheckpointInfo info;
  train::StoreTrainingState({12, {3, 40}, 7.25}, &info);
  const train::TrainingState back = train::ReadTrainingState(info, "ckpt");
  EXPECT_EQ(back.step, 12);
  EXPECT_EQ(back.sampler.epoch, 3);
  EXPECT_EQ(back.sampler.batch, 40);
  EXPECT_DOUBLE_EQ(back.best_wer, 7.25);
  io::CheckpointInfo legacy;  // the first format: "EPOCH:BATCH" in one field
  legacy.extra["sampler"] = "2:9";
  EXPECT_EQ(train::ReadTrainingState(legacy, "ckpt").sampler.batch, 9);
  for (const char* bad : {"2:", "x:1", "1:2:3", "-1:4", "5"}) {
    legacy.extra["sampler"] = bad;
    EXPECT_THROW(train::ReadTrainingState(legacy, "ckpt"), Error) << bad;
  }
  info.extra["sampler_batch"] = "40junk";
  EXPECT_THROW(train::ReadTrainingState(info, "ckpt"), Error);
  EXPECT_THROW(train::ReadTrainingState(io::CheckpointInfo{}, "ckpt"), Error);
}

}  // namespace
}  // namespace mome
