// The AVSR model on synthetic encoder features: prompt layout, labels, rate pairs, batch invariance, gradients.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "mome/core/error.h"
#include "mome/llm/llama_loader.h"
#include "mome/model/avsr_model.h"
#include "mome/train/losses.h"
#include "test_helpers.h"

namespace mome {
namespace {

class AvsrModel : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(3);
    auto llm = llm::LoadLlama(testing::DataPath("llama/gqa_llama3_rope"), torch::kCPU, torch::kFloat);
    model::AVSRModelOptions o;
    o.audio_rates = {2, 4};
    o.video_rates = {1, 3};
    o.audio_dim = 12;
    o.video_dim = 10;
    o.projector_hidden = 32;
    o.adapters.kind = adapters::AdapterKind::kMoME;
    o.adapters.mome.num_experts = 4;
    o.adapters.mome.top_k = {2};
    o.adapters.mome.bottleneck = 4;
    model_ = model::AVSRModel(o, llm, torch::TensorOptions());
    {
      torch::NoGradGuard no_grad;
      for (auto& p : model_->adapter_set()->parameters()) p.normal_(0, 0.05);  // make the adapters matter
    }
    inputs_.audio = torch::randn({2, 16, 12});
    inputs_.audio_lengths = torch::tensor({16, 9}, torch::kLong);
    inputs_.video = torch::randn({2, 8, 10});
    inputs_.video_lengths = torch::tensor({8, 5}, torch::kLong);
    inputs_.instruction_ids = {{7, 8}, {7, 8}};
    inputs_.transcript_ids = {{20, 21, 22}, {30}};
  }
  model::ModelInputs Row(int64_t i) const {
    model::ModelInputs one;
    const int64_t ta = inputs_.audio_lengths[i].item<int64_t>(), tv = inputs_.video_lengths[i].item<int64_t>();
    one.audio = inputs_.audio.narrow(0, i, 1).narrow(1, 0, ta);
    one.audio_lengths = inputs_.audio_lengths.narrow(0, i, 1);
    one.video = inputs_.video.narrow(0, i, 1).narrow(1, 0, tv);
    one.video_lengths = inputs_.video_lengths.narrow(0, i, 1);
    one.instruction_ids = {inputs_.instruction_ids[i]};
    one.transcript_ids = {inputs_.transcript_ids[i]};
    return one;
  }
  model::AVSRModel model_{nullptr};
  model::ModelInputs inputs_;
};

TEST_F(AvsrModel, PromptLayoutAndLabels) {
  const auto prompt = model_->BuildPrompt(Row(0), {4, 3}, model::PaddingSide::kRight, true);
  // BOS <audio> 4 tokens </audio> <video> 2 tokens </video> 2 instruction, 3 transcript, EOS = 17
  ASSERT_EQ(prompt.embeds.size(1), 17);
  const auto labels = prompt.labels[0];
  for (int64_t t = 0; t < 12; ++t) EXPECT_EQ(labels[t].item<int64_t>(), -100) << t;
  EXPECT_EQ(labels[12].item<int64_t>(), 20);  // the last instruction token predicts the first transcript token
  EXPECT_EQ(labels[14].item<int64_t>(), 22);
  EXPECT_EQ(labels[15].item<int64_t>(), model_->token_ids().eos);
  EXPECT_EQ(labels[16].item<int64_t>(), -100);
  // The decorrelation loss counts positions 1..12 (after BOS, before the transcript).
  EXPECT_EQ(prompt.counted[0].sum().item<int64_t>(), 12);
  EXPECT_FALSE(prompt.counted[0][0].item<bool>());
  // Special tokens come from the trainable table.
  EXPECT_TRUE(torch::equal(prompt.embeds[0][1], model_->special_embeddings[0]));
}

TEST_F(AvsrModel, UntrainedRatePairIsRefusedWithTheTrainedOnes) {
  try {
    model_->ScaleOf({16, 5});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(2,1) (2,3) (4,1) (4,3)"), std::string::npos) << e.what();
  }
}

TEST_F(AvsrModel, OutputsDoNotDependOnBatchMates) {
  torch::NoGradGuard no_grad;
  for (const model::RatePair pair : {model::RatePair{2, 1}, model::RatePair{4, 3}}) {
    const auto both = model_->Forward(inputs_, pair, false);
    for (int64_t i = 0; i < 2; ++i) {
      const auto alone = model_->Forward(Row(i), pair, false);
      const int64_t n = alone.logits.size(1);
      EXPECT_TRUE(torch::allclose(both.logits[i].narrow(0, 0, n), alone.logits[0], 1e-4, 1e-5))
          << "row " << i << " pair " << pair.audio << "," << pair.video;
    }
  }
}

TEST_F(AvsrModel, MatryoshkaLossTrainsProjectorsAdaptersAndSpecialTokensOnly) {
  std::vector<at::Tensor> losses;
  for (const auto& pair : model_->rate_pairs()) {
    const auto out = model_->Forward(inputs_, pair, true);
    losses.push_back(train::CrossEntropy(out.logits, out.prompt.labels) +
                     train::DecorrelationLoss(out.layer_outputs, out.prompt.bos_index, out.prompt.counted, 1.0));
  }
  train::MatryoshkaMean(losses).backward();
  for (const auto& p : model_->named_parameters()) {
    if (p.key().find("router") != std::string::npos || p.key().find("down") != std::string::npos ||
        p.key().find("special") != std::string::npos || p.key().find("projector") != std::string::npos) {
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
    }
  }
  for (const auto& p : model_->llm()->parameters()) EXPECT_FALSE(p.grad().defined());
  EXPECT_GT(model_->special_embeddings.grad().abs().sum().item<double>(), 0.0);
}

}  // namespace
}  // namespace mome

namespace mome {
namespace {

TEST(Compressor, AvgPoolAndStackDropTheRemainder) {
  const at::Tensor x = torch::arange(14, torch::kFloat).view({1, 7, 2});  // frames (0,1) (2,3) ... (12,13)
  const auto pooled =
      matryoshka::Compress(x, torch::tensor({7}, torch::kLong), 3, matryoshka::CompressionMode::kAvgPool);
  EXPECT_TRUE(torch::equal(pooled.features, torch::tensor({{{2.f, 3.f}, {8.f, 9.f}}})));
  EXPECT_EQ(pooled.lengths.item<int64_t>(), 2);
  const auto stacked = matryoshka::Compress(x, {}, 2, matryoshka::CompressionMode::kStack);
  EXPECT_EQ(stacked.features.sizes(), (std::vector<int64_t>{1, 3, 4}));
  EXPECT_TRUE(torch::equal(stacked.features[0][1], torch::tensor({4.f, 5.f, 6.f, 7.f})));
  EXPECT_EQ(matryoshka::CompressedDim(2, 2, matryoshka::CompressionMode::kStack), 4);
  EXPECT_THROW(matryoshka::Compress(x, {}, 8, matryoshka::CompressionMode::kAvgPool), Error);
  EXPECT_THROW(matryoshka::ParseCompressionMode("max"), Error);
}

}  // namespace
}  // namespace mome
