// MoME and LoRA adapters inside the frozen Llama, and the loss terms, checked against hand computations.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "mome/adapters/adapter_set.h"
#include "mome/core/error.h"
#include "mome/llm/llama_loader.h"
#include "mome/train/losses.h"
#include "test_helpers.h"

namespace mome {
namespace {

using adapters::AdapterKind;
using adapters::AdapterOptions;
using adapters::AdapterSet;
using adapters::BoundAdapters;
using adapters::kLoRAVariantNames;
using adapters::kPlacementNames;
using adapters::LoRAVariant;
using adapters::MoMEAdapter;
using adapters::MoMEOptions;
using adapters::Placement;
using adapters::RouterStats;

MoMEOptions SmallMoME(int64_t scales) {
  MoMEOptions o;
  o.dim = 16;
  o.num_experts = 6;
  o.num_shared = 1;
  o.bottleneck = 3;
  o.num_scales = scales;
  o.top_k = {2};
  return o;
}

TEST(MoME, RouterWeightsRenormaliseAndTheSharedRouterAgreesAcrossScales) {
  torch::manual_seed(0);
  MoMEOptions o = SmallMoME(3);
  o.top_k = {3, 2, 1};
  MoMEAdapter m(o, torch::TensorOptions());
  const at::Tensor x = torch::randn({10, 16});
  std::vector<at::Tensor> indices;
  for (int64_t s = 0; s < 3; ++s) {
    const auto [w, idx] = m->Route(x, s);
    EXPECT_TRUE(torch::allclose(w.sum(-1), torch::ones({10}), 1e-6, 1e-6));
    EXPECT_EQ(idx.size(1), o.top_k[s]);
    indices.push_back(idx);
  }
  // One router for every scale: a smaller top-k picks the first experts of a larger one, for every token.
  EXPECT_TRUE(torch::equal(indices[1], indices[0].narrow(1, 0, 2)));
  EXPECT_TRUE(torch::equal(indices[2], indices[0].narrow(1, 0, 1)));
  o.shared_router = false;
  o.top_k = {2};
  MoMEAdapter per_scale(o, torch::TensorOptions());
  EXPECT_EQ(per_scale->router_weights.size(), 3u);
  EXPECT_FALSE(torch::equal(per_scale->Route(x, 0).second, per_scale->Route(x, 1).second));
}

TEST(MoME, DenseDispatchEqualsPerTokenExperts) {
  torch::manual_seed(1);
  MoMEAdapter m(SmallMoME(1), torch::TensorOptions());
  {
    torch::NoGradGuard no_grad;
    for (auto& p : m->parameters()) p.normal_();  // the up-projections start at zero: make them matter
  }
  const at::Tensor x = torch::randn({2, 5, 16});
  std::vector<adapters::RouterStats> stats;
  const at::Tensor got = m->forward(x, 0, &stats);
  const at::Tensor flat = x.reshape({-1, 16});
  const auto [weights, index] = m->Route(flat, 0);
  auto expert = [&](int64_t e, const at::Tensor& v) {
    const at::Tensor h = torch::gelu(torch::matmul(m->down_weight[e], v) + m->down_bias[e]);
    return torch::matmul(m->up_weight.select(1, e), h) + m->up_bias[e];
  };
  for (int64_t t = 0; t < flat.size(0); ++t) {
    at::Tensor want = expert(6, flat[t]);  // the shared expert, ungated
    for (int64_t j = 0; j < 2; ++j) want = want + weights[t][j] * expert(index[t][j].item<int64_t>(), flat[t]);
    EXPECT_TRUE(torch::allclose(got.reshape({-1, 16})[t], want, 1e-4, 1e-5)) << "token " << t;
  }
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_TRUE(torch::equal(stats[0].chosen, index));
}

TEST(MoME, SortedDispatchEqualsDenseIncludingGradients) {
  torch::manual_seed(4);
  MoMEOptions o = SmallMoME(1);
  o.dispatch = "dense";
  MoMEAdapter dense(o, torch::TensorOptions());
  {
    torch::NoGradGuard no_grad;
    for (auto& p : dense->parameters()) p.normal_();
  }
  o.dispatch = "sorted";
  MoMEAdapter sorted(o, torch::TensorOptions());
  {
    torch::NoGradGuard no_grad;
    auto from = dense->parameters();
    auto to = sorted->parameters();
    for (size_t i = 0; i < from.size(); ++i) to[i].copy_(from[i]);
  }
  const at::Tensor x = torch::randn({3, 7, 16});
  const at::Tensor a = dense->forward(x, 0), b = sorted->forward(x, 0);
  EXPECT_TRUE(torch::allclose(a, b, 1e-4, 1e-5));
  a.sum().backward();
  b.sum().backward();
  auto ga = dense->parameters(), gb = sorted->parameters();
  for (size_t i = 0; i < ga.size(); ++i) EXPECT_TRUE(torch::allclose(ga[i].grad(), gb[i].grad(), 1e-3, 1e-4)) << i;
  o.dispatch = "fastest";
  EXPECT_THROW(MoMEAdapter(o, torch::TensorOptions()), Error);
}

// The dense dispatch is one autograd node with a hand-written backward (mome_dense.h): its output, router
// probabilities and every gradient (through the experts, the gates and the load-balancing loss on the
// probabilities) must equal autograd over the same maths composed from ATen operators. float64 experts; the
// routing is float32 by design (as the reference's autocast), so gradients through it agree to float rounding.
TEST(MoME, FusedDenseBackwardEqualsAutogradOfTheComposedOps) {
  torch::manual_seed(7);
  MoMEOptions o = SmallMoME(2);
  o.dispatch = "dense";
  o.num_shared = 2;
  o.top_k = {3, 2};
  MoMEAdapter m(o, torch::TensorOptions().dtype(torch::kDouble));
  {
    torch::NoGradGuard no_grad;
    for (auto& p : m->parameters()) p.normal_();
  }
  const int64_t n = o.num_experts, e = n + o.num_shared, b = o.bottleneck, d = o.dim;
  auto composed = [&](const at::Tensor& x2d, int64_t scale, at::Tensor* probs_out) {
    const at::Tensor probs = at::softmax(at::linear(x2d, m->router_weights[0]), -1, at::kFloat);
    auto [top, index] = probs.topk(m->TopK(scale), -1);
    const at::Tensor weights = (top / top.sum(-1, true)).to(at::kDouble);
    const at::Tensor gates = at::cat({at::zeros({x2d.size(0), n}, x2d.options()).scatter(1, index, weights),
                                      at::ones({x2d.size(0), e - n}, x2d.options())},
                                     1);
    const at::Tensor h = at::gelu(at::linear(x2d, m->down_weight.reshape({e * b, d}), m->down_bias.reshape({e * b})));
    *probs_out = probs;
    return at::linear((h.view({-1, e, b}) * gates.unsqueeze(2)).reshape({-1, e * b}),
                      m->up_weight.reshape({d, e * b})) +
           at::matmul(gates, m->up_bias);
  };
  for (int64_t scale : {0, 1}) {
    const at::Tensor x = torch::randn({9, d}, torch::kDouble).requires_grad_(true);
    const at::Tensor upstream = torch::randn({9, d}, torch::kDouble);
    const at::Tensor lb_weight = torch::randn({n});  // stands in for the load-balancing loss
    std::vector<adapters::RouterStats> stats;
    const at::Tensor out = m->forward(x, scale, &stats);
    ASSERT_EQ(stats.size(), 1u);
    const auto params = m->parameters();
    const auto fused_grads = torch::autograd::grad({(out * upstream).sum() + (stats[0].probs * lb_weight).sum()},
                                                   {x, params[0], params[1], params[2], params[3], params[4]});
    at::Tensor probs;
    const at::Tensor want = composed(x, scale, &probs);
    EXPECT_TRUE(torch::allclose(out, want, 1e-12, 1e-12)) << "scale " << scale;
    EXPECT_TRUE(torch::allclose(stats[0].probs, probs, 1e-12, 1e-12));
    const auto want_grads = torch::autograd::grad({(want * upstream).sum() + (probs * lb_weight).sum()},
                                                  {x, params[0], params[1], params[2], params[3], params[4]});
    for (size_t i = 0; i < want_grads.size(); ++i)
      EXPECT_LE((fused_grads[i] - want_grads[i]).abs().max().item<double>(),
                1e-6 * want_grads[i].abs().max().item<double>())
          << "gradient " << i << " at scale " << scale << ": max |diff| "
          << (fused_grads[i] - want_grads[i]).abs().max().item<double>() << " of max |value| "
          << want_grads[i].abs().max().item<double>();
  }
}

TEST(Losses, LoadBalancingEqualsHandComputation) {
  adapters::RouterStats s;
  s.probs = torch::tensor({{0.7f, 0.2f, 0.1f}, {0.1f, 0.6f, 0.3f}});
  s.chosen = torch::tensor({{0}, {1}}, torch::kLong);
  // f = [0.5, 0.5, 0], P = [0.4, 0.4, 0.2] -> 3 * (0.2 + 0.2) = 1.2
  EXPECT_NEAR(train::LoadBalancingLoss({s}).item<double>(), 1.2, 1e-6);
  // Masking out the second token: f = [1, 0, 0], P = [0.7, 0.2, 0.1] -> 3 * 0.7 = 2.1
  EXPECT_NEAR(train::LoadBalancingLoss({s}, torch::tensor({1.f, 0.f})).item<double>(), 2.1, 1e-6);
}

TEST(Losses, DecorrelationEqualsHandComputation) {
  // One row, S = 3, d = 2. Layer 1 output: BOS (1,0), t1 (1,1)/sqrt2 -> cos 1/sqrt2, t2 (0,1) -> cos 0.
  const at::Tensor h1 = torch::tensor({{{2.f, 0.f}, {3.f, 3.f}, {0.f, 5.f}}});
  const at::Tensor h2 = torch::tensor({{{1.f, 0.f}, {1.f, 0.f}, {-1.f, 0.f}}});  // cos 1, -1 (last layer: unused)
  const at::Tensor counted = torch::tensor({{false, true, true}});
  const at::Tensor bos = torch::zeros({1}, torch::kLong);
  // Layers 1..L-1 = layer 1 only: (0.5 + 0) / (1 * 2) = 0.25; times lambda.
  EXPECT_NEAR(train::DecorrelationLoss({h1, h2}, bos, counted, 1e4).item<double>(), 2500.0, 1e-2);
  EXPECT_NEAR(train::DecorrelationLoss({h1, h2}, bos, counted, 1.0, {2}).item<double>(), 1.0, 1e-6);
  // BOS elsewhere (left padding): the same numbers with a pad row in front.
  const at::Tensor padded = torch::cat({torch::zeros({1, 1, 2}), h1}, 1);
  EXPECT_NEAR(train::DecorrelationLoss({padded, padded}, torch::ones({1}, torch::kLong),
                                       torch::tensor({{false, false, true, true}}), 1.0)
                  .item<double>(),
              0.5 / 3.0, 1e-6);
}

TEST(Losses, CrossEntropyIgnoresUnlabelledPositions) {
  const at::Tensor logits = torch::randn({1, 3, 5});
  const at::Tensor labels = torch::tensor({{-100, 2, 4}});
  const at::Tensor lp = torch::log_softmax(logits[0], -1);
  const double want = -(lp[1][2].item<double>() + lp[2][4].item<double>()) / 2;
  EXPECT_NEAR(train::CrossEntropy(logits, labels).item<double>(), want, 1e-5);
}

class AdaptedLlama : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = llm::LoadLlama(testing::DataPath("llama/gqa_llama3_rope"), torch::kCPU, torch::kFloat);
    ids_ = torch::randint(3, 300, {2, 9});
    positions_ = torch::arange(9).unsqueeze(0).expand({2, 9});
  }
  at::Tensor Logits(const llm::LayerHooks* hooks, std::vector<at::Tensor>* layer_outputs = nullptr) {
    llm::ForwardExtras extras;
    extras.hooks = hooks;
    extras.layer_outputs = layer_outputs;
    return model_->forward(model_->model->Embed(ids_), positions_, {}, nullptr, extras);
  }
  llm::LlamaForCausalLM model_{nullptr};
  at::Tensor ids_, positions_;
};

TEST_F(AdaptedLlama, ZeroInitialisedAdaptersLeaveTheFrozenModelUnchanged) {
  torch::NoGradGuard no_grad;
  const at::Tensor frozen = Logits(nullptr);
  for (const Placement placement : {Placement::kMHSA, Placement::kFFN, Placement::kLayer}) {
    AdapterOptions o;
    o.kind = AdapterKind::kMoME;
    o.placement = placement;
    o.num_scales = 2;
    o.mome.num_experts = 4;
    o.mome.top_k = {2};
    o.mome.bottleneck = 4;
    AdapterSet set(o, model_->config(), torch::TensorOptions());
    const BoundAdapters hooks = set->At(1);
    EXPECT_TRUE(torch::equal(Logits(&hooks), frozen)) << EnumName(kPlacementNames, placement);
  }
  for (const LoRAVariant variant : {LoRAVariant::kMS, LoRAVariant::kSS, LoRAVariant::kMSS}) {
    AdapterOptions o;
    o.kind = AdapterKind::kLoRA;
    o.lora_variant = variant;
    o.lora_reduction = 16;
    o.num_scales = 2;
    AdapterSet set(o, model_->config(), torch::TensorOptions());
    const BoundAdapters hooks = set->At(1);
    EXPECT_TRUE(torch::equal(Logits(&hooks), frozen)) << EnumName(kLoRAVariantNames, variant);
  }
}

TEST_F(AdaptedLlama, GradientsReachOnlyTheAdaptersAndFrozenWeightsStayBitIdentical) {
  AdapterOptions o;
  o.kind = AdapterKind::kMoME;
  o.mome.num_experts = 4;
  o.mome.top_k = {2};
  AdapterSet set(o, model_->config(), torch::TensorOptions());
  std::vector<at::Tensor> before;
  for (const auto& p : model_->parameters()) before.push_back(p.clone());
  torch::optim::Adam optimiser(set->parameters(), torch::optim::AdamOptions(1e-2));
  for (int step = 0; step < 2; ++step) {  // the second step moves the routers too (up weights are no longer 0)
    std::vector<at::Tensor> layer_outputs;
    std::vector<RouterStats> stats;
    const BoundAdapters hooks = set->At(0, &stats);
    const at::Tensor logits = Logits(&hooks, &layer_outputs);
    const at::Tensor loss = train::CrossEntropy(logits, ids_.roll(-1, 1)) + 0.01 * train::LoadBalancingLoss(stats) +
                            train::DecorrelationLoss(layer_outputs, torch::zeros({2}, torch::kLong),
                                                     torch::ones({2, 9}, torch::kBool), 1.0);
    optimiser.zero_grad();
    loss.backward();
    optimiser.step();
  }
  for (const auto& p : model_->parameters()) EXPECT_FALSE(p.grad().defined());
  size_t i = 0;
  for (const auto& p : model_->parameters()) EXPECT_TRUE(torch::equal(p, before[i++]));
  for (const auto& p : set->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

// In double precision: in float, the batched and single-row GEMMs round differently (by CPU and BLAS), and a
// router score within that rounding of its neighbour flips a top-k choice, which is not a leak between rows.
TEST_F(AdaptedLlama, BatchedRowsDoNotSeeEachOther) {
  torch::NoGradGuard no_grad;
  model_->to(torch::kDouble);
  AdapterOptions o;
  o.kind = AdapterKind::kMoME;
  o.mome.num_experts = 4;
  o.mome.top_k = {2};
  AdapterSet set(o, model_->config(), torch::TensorOptions().dtype(torch::kDouble));
  for (auto& p : set->parameters()) p.normal_(0, 0.1);
  const BoundAdapters hooks = set->At(0);
  const at::Tensor both = Logits(&hooks);
  const at::Tensor alone = model_->forward(model_->model->Embed(ids_.narrow(0, 0, 1)), positions_.narrow(0, 0, 1), {},
                                           nullptr, llm::ForwardExtras{&hooks, nullptr});
  ASSERT_EQ(alone.scalar_type(), torch::kDouble);
  EXPECT_TRUE(torch::allclose(both.narrow(0, 0, 1), alone, 1e-9, 1e-10))
      << "max |diff| " << (both.narrow(0, 0, 1) - alone).abs().max().item<double>();
}

// The paper's parameter budgets on Llama-3.2-3B (d 3072, 28 layers, 24 heads / 8 kv, head_dim 128), built on
// the meta device: no memory, no weights.
llm::LlamaConfig Llama32_3B() {
  llm::LlamaConfig c;
  c.vocab_size = 128256;
  c.hidden_size = 3072;
  c.intermediate_size = 8192;
  c.num_hidden_layers = 28;
  c.num_attention_heads = 24;
  c.num_key_value_heads = 8;
  c.head_dim = 128;
  return c;
}

TEST(AdapterBudgets, MatchThePaper) {
  const auto meta = torch::TensorOptions().device(torch::kMeta);
  AdapterOptions mome;
  mome.kind = AdapterKind::kMoME;
  mome.num_scales = 4;
  mome.mome.num_experts = 23;
  mome.mome.top_k = {4};
  mome.mome.num_shared = 1;
  mome.mome.bottleneck = 12;
  EXPECT_NEAR(AdapterSet(mome, Llama32_3B(), meta)->ActiveParameters(0) / 1e6, 12.7, 0.1);
  AdapterOptions lora;
  lora.kind = AdapterKind::kLoRA;
  lora.num_scales = 4;
  lora.lora_reduction = 32;
  lora.lora_variant = LoRAVariant::kSS;
  EXPECT_NEAR(AdapterSet(lora, Llama32_3B(), meta)->ActiveParameters(0) / 1e6, 27.5, 0.1);
  lora.lora_variant = LoRAVariant::kMSS;
  EXPECT_NEAR(AdapterSet(lora, Llama32_3B(), meta)->ActiveParameters(0) / 1e6, 55.0, 0.1);
}

}  // namespace
}  // namespace mome
