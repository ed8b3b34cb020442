// Parity of the Llama decoder with HF transformers on the fixtures of tests/fixtures/make_llama_fixtures.py.
// Tolerance: max |logit - HF| <= 1e-4 * max |HF logit| in float32. Both sides run fp32 GEMMs with different
// summation orders (MKL/OpenBLAS vs PyTorch 2.11's CPU kernels); observed differences are ~1e-6 relative,
// so 1e-4 leaves room for other BLAS builds while still catching any real numeric mistake (a wrong rope
// frequency or norm epsilon moves logits by >1e-2).
#include <gtest/gtest.h>

#include <torch/torch.h>
#include <atomic>
#include <functional>
#include <limits>
#include <thread>

#include "mome/core/error.h"
#include "mome/decode/generate.h"
#include "mome/io/safetensors.h"
#include "mome/llm/llama_loader.h"
#include "test_helpers.h"
#if MOME_WITH_CUDA_KERNELS
#include "llm/kernels/fused_kernels.h"
#endif
#include "llm/trainable_ops.h"

namespace mome {
namespace {

using testing::DataPath;
using testing::ReadJson;

const char* kCases[] = {"gqa_llama3_rope", "tied_bf16_sharded", "linear_rope_headdim_bias_f16"};

std::vector<std::vector<int64_t>> Ids(const nlohmann::json& j) {
  return j.get<std::vector<std::vector<int64_t>>>();
}

// The generation settings the fixture's HF `generate` calls used.
decode::GenerateOptions OptionsOf(const nlohmann::json& expected) {
  decode::GenerateOptions options;
  options.max_new_tokens = expected["max_new_tokens"].get<int64_t>();
  options.eos_token_ids = {expected["eos_token_id"].get<int64_t>()};
  options.pad_token_id = expected["pad_token_id"].get<int64_t>();
  return options;
}

double RelativeMaxError(const at::Tensor& got, const at::Tensor& want) {
  return (got - want).abs().max().item<double>() / want.abs().max().item<double>();
}

class LlamaParity : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    dir_ = DataPath(std::string("llama/") + GetParam());
    expected_ = ReadJson(dir_ + "/expected.json");
    model_ = llm::LoadLlama(dir_, torch::kCPU, torch::kFloat);
  }
  std::vector<std::vector<int64_t>> Generate(const std::vector<std::vector<int64_t>>& prompts, int64_t beams) {
    decode::GenerateOptions options = OptionsOf(expected_);
    options.beam_size = beams;
    std::vector<std::vector<int64_t>> out;
    for (const auto& h : decode::GenerateFromIds(*model_, prompts, options)) out.push_back(h.ids);
    return out;
  }
  std::string dir_;
  nlohmann::json expected_;
  llm::LlamaForCausalLM model_{nullptr};
};

TEST_P(LlamaParity, LogitsMatchTransformers) {
  const auto ids = expected_["logits_prompt"].get<std::vector<int64_t>>();
  const at::Tensor want = io::SafetensorsFile::Open(dir_ + "/expected_logits.safetensors")->Get("logits");
  torch::NoGradGuard no_grad;
  const at::Tensor input = torch::tensor(ids).unsqueeze(0);
  const at::Tensor positions = torch::arange(static_cast<int64_t>(ids.size())).unsqueeze(0);
  const at::Tensor got = model_->forward(model_->model->Embed(input), positions, {}, nullptr)[0];
  ASSERT_EQ(got.sizes(), want.sizes());
  const double error = RelativeMaxError(got, want);
  RecordProperty("relative_max_logit_error", std::to_string(error));
  std::cerr << GetParam() << ": max |logit - HF| / max |HF| = " << error << "\n";
  EXPECT_LT(error, 1e-4) << GetParam();
}

TEST_P(LlamaParity, IncrementalDecodingMatchesFullForward) {
  // The KV-cache path (prefill, then one token at a time) must give the logits of one full forward.
  const auto ids = expected_["logits_prompt"].get<std::vector<int64_t>>();
  const at::Tensor want = io::SafetensorsFile::Open(dir_ + "/expected_logits.safetensors")->Get("logits");
  torch::NoGradGuard no_grad;
  const int64_t t = static_cast<int64_t>(ids.size()), split = t / 2;
  llm::KVCache cache(model_->config(), 1, t, model_->options());
  const at::Tensor input = torch::tensor(ids).unsqueeze(0);
  std::vector<at::Tensor> pieces;
  pieces.push_back(model_->forward(model_->model->Embed(input.narrow(1, 0, split)), torch::arange(split).unsqueeze(0),
                                   {}, &cache)[0]);
  for (int64_t i = split; i < t; ++i)
    pieces.push_back(model_->forward(model_->model->Embed(input.narrow(1, i, 1)), torch::full({1, 1}, i, torch::kLong),
                                     {}, &cache)[0]);
  EXPECT_LT(RelativeMaxError(torch::cat(pieces, 0), want), 1e-4);
}

TEST_P(LlamaParity, GreedyIdsMatchTransformers) {
  const auto prompts = Ids(expected_["prompts"]);
  const auto singles = Ids(expected_["greedy_single"]);
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(Generate({prompts[i]}, 1)[0], singles[i]) << "prompt " << i;
  EXPECT_EQ(Generate(prompts, 1), Ids(expected_["greedy_batch"]));
}

TEST_P(LlamaParity, BeamSearchIdsMatchTransformers) {
  const auto prompts = Ids(expected_["prompts"]);
  const auto singles = Ids(expected_["beam4_single"]);
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(Generate({prompts[i]}, 4)[0], singles[i]) << "prompt " << i;
  EXPECT_EQ(Generate(prompts, 4), Ids(expected_["beam4_batch"]));
}

TEST_P(LlamaParity, BatchedResultsDoNotDependOnBatchMates) {
  const auto prompts = Ids(expected_["prompts"]);
  for (int64_t beams : {1, 3}) {
    const auto together = Generate(prompts, beams);
    for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(together[i], Generate({prompts[i]}, beams)[0]);
  }
}

TEST_P(LlamaParity, GeneratorReusedAcrossBatchesGivesTheSameIds) {
  // One Generator keeps its cache (and CUDA graph) between calls; prompts of other lengths must not see
  // anything of the previous ones.
  const auto prompts = Ids(expected_["prompts"]);
  decode::GenerateOptions options = OptionsOf(expected_);
  for (int64_t beams : {1, 4}) {
    options.beam_size = beams;
    decode::Generator generator(*model_, options);
    const auto singles = Ids(expected_[beams == 1 ? "greedy_single" : "beam4_single"]);
    for (int round = 0; round < 2; ++round)
      for (size_t i = 0; i < prompts.size(); ++i)
        EXPECT_EQ(generator.GenerateFromIds({prompts[i]})[0].ids, singles[i]) << "beams " << beams << " prompt " << i;
  }
}

TEST_P(LlamaParity, ConcurrentGenerationFromTwoThreadsEqualsSequential) {
  // One loaded model, a Generator per thread (the per-request state): greedy in one thread and beam 3 in the
  // other, each over every prompt, repeated; results equal the fixture's HF ids.
  const auto prompts = Ids(expected_["prompts"]);
  const auto greedy = Ids(expected_["greedy_single"]);
  std::vector<std::vector<int64_t>> beam3(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) beam3[i] = Generate({prompts[i]}, 3)[0];
  std::atomic<int> mismatches{0};
  auto worker = [&](int64_t beams, const std::vector<std::vector<int64_t>>& want) {
    decode::GenerateOptions options = OptionsOf(expected_);
    options.beam_size = beams;
    decode::Generator generator(*model_, options);
    for (int round = 0; round < 3; ++round)
      for (size_t i = 0; i < prompts.size(); ++i)
        if (generator.GenerateFromIds({prompts[i]})[0].ids != want[i]) ++mismatches;
  };
  std::thread a(worker, 1, std::cref(greedy)), b(worker, 3, std::cref(beam3));
  a.join();
  b.join();
  EXPECT_EQ(mismatches.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LlamaParity, ::testing::ValuesIn(kCases));

// d(sum(logits * w)) / d(input embeddings) through the frozen model, with the fused training nodes of
// llm/trainable_ops.h on or off: the gradient adapters and projectors receive in training.
at::Tensor EmbeddingGradient(llm::LlamaForCausalLM& model, const std::vector<int64_t>& ids, llm::FusedTraining mode,
                             c10::Device device) {
  llm::SetFusedTraining(mode);
  const at::Tensor input = torch::tensor(ids).unsqueeze(0).to(device);
  const at::Tensor positions = torch::arange(static_cast<int64_t>(ids.size())).unsqueeze(0).to(device);
  const at::Tensor embeds = model->model->Embed(input).detach().requires_grad_(true);
  const at::Tensor logits = model->forward(embeds, positions, {}, nullptr);
  torch::manual_seed(3);
  const at::Tensor w = torch::randn(logits.sizes()).to(logits.options());
  (logits * w).sum().backward();
  llm::SetFusedTraining(llm::FusedTraining::kAuto);
  return embeds.grad().to(torch::kFloat).cpu();
}

TEST_P(LlamaParity, FusedTrainingNodesGiveTheGradientsOfTheComposedOps) {
  const auto ids = expected_["logits_prompt"].get<std::vector<int64_t>>();
  const at::Tensor fused = EmbeddingGradient(model_, ids, llm::FusedTraining::kOn, torch::kCPU);
  const at::Tensor composed = EmbeddingGradient(model_, ids, llm::FusedTraining::kOff, torch::kCPU);
  EXPECT_LT(RelativeMaxError(fused, composed), 1e-5) << GetParam();  // float32 rounding order only
}

TEST(LlamaConfig, ReadsBothConfigFormats) {
  const auto hub = llm::LlamaConfig::FromJsonFile(DataPath("llama/gqa_llama3_rope"));
  EXPECT_EQ(hub.rope.type, "llama3");
  EXPECT_EQ(hub.rope.original_max_position_embeddings, 32);
  EXPECT_EQ(hub.num_key_value_heads, 2);
  EXPECT_EQ(hub.torch_dtype, "float32");
  const auto v5 = llm::LlamaConfig::FromJsonFile(DataPath("llama/tied_bf16_sharded"));
  EXPECT_EQ(v5.rope.theta, 500000.0);
  EXPECT_TRUE(v5.tie_word_embeddings);
  EXPECT_EQ(v5.torch_dtype, "bfloat16");
  // The config we write reads back the same.
  const auto again = llm::LlamaConfig::FromJsonString(hub.ToJsonString(), "roundtrip");
  EXPECT_EQ(again.ToString(), hub.ToString());
}

TEST(LlamaConfig, RejectsBadConfigs) {
  EXPECT_THROW(llm::LlamaConfig::FromJsonString("{", "x.json"), Error);
  EXPECT_THROW(llm::LlamaConfig::FromJsonString(R"({"vocab_size": 10})", "x.json"), Error);
  try {
    llm::LlamaConfig::FromJsonString(
        R"({"vocab_size": 10, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1,
            "num_attention_heads": 3, "num_key_value_heads": 2})",
        "x.json");
    FAIL() << "heads not divisible by kv heads must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("num_key_value_heads"), std::string::npos);
  }
}

TEST(LlamaLoader, CastsBf16ComputeAndKeepsNamesOfHf) {
  auto model = llm::LoadLlama(DataPath("llama/gqa_llama3_rope"), torch::kCPU, torch::kBFloat16);
  std::set<std::string> names;
  for (const auto& p : model->named_parameters()) names.insert(p.key());
  EXPECT_TRUE(names.count("model.layers.2.self_attn.q_proj.weight"));
  EXPECT_TRUE(names.count("lm_head.weight"));
  EXPECT_EQ(model->model->embed_tokens->weight.scalar_type(), torch::kBFloat16);
  decode::GenerateOptions options;
  options.max_new_tokens = 4;
  EXPECT_EQ(decode::GenerateFromIds(*model, {{5, 6, 7}}, options)[0].ids.size(), 4u);
}

}  // namespace
}  // namespace mome

namespace mome {
namespace {

// CUDA agreement (runs where LibTorch has CUDA, i.e. on the GPU machine; skipped on CI's CPU build).
// fp32 on CUDA: same tolerance as on the CPU (PyTorch keeps TF32 off for matmuls by default).
// bf16 on CUDA: bf16 has an 8-bit mantissa, and the error compounds over layers: 5e-2 of the largest logit.
TEST(LlamaCuda, MatchesTransformersInF32AndBf16) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const char* name : kCases) {
    const std::string dir = testing::DataPath(std::string("llama/") + name);
    const auto expected = testing::ReadJson(dir + "/expected.json");
    const auto ids = expected["logits_prompt"].get<std::vector<int64_t>>();
    const at::Tensor want = io::SafetensorsFile::Open(dir + "/expected_logits.safetensors")->Get("logits");
    for (auto [dtype, tolerance] :
         {std::pair<c10::ScalarType, double>{torch::kFloat, 1e-4}, {torch::kBFloat16, 5e-2}}) {
      auto model = llm::LoadLlama(dir, torch::kCUDA, dtype);
      torch::NoGradGuard no_grad;
      const at::Tensor input = torch::tensor(ids).unsqueeze(0).cuda();
      const at::Tensor positions = torch::arange(static_cast<int64_t>(ids.size())).unsqueeze(0).cuda();
      const at::Tensor got =
          model->forward(model->model->Embed(input), positions, {}, nullptr)[0].to(torch::kFloat).cpu();
      const double error = RelativeMaxError(got, want);
      std::cerr << name << " cuda " << c10::toString(dtype) << ": relative max logit error " << error << "\n";
      EXPECT_LT(error, tolerance) << name << " " << c10::toString(dtype);
      if (dtype == torch::kFloat) {
        decode::GenerateOptions options = OptionsOf(expected);
        for (int64_t beams : {1, 4}) {
          options.beam_size = beams;
          std::vector<std::vector<int64_t>> got_ids;
          for (const auto& h : decode::GenerateFromIds(*model, Ids(expected["prompts"]), options))
            got_ids.push_back(h.ids);
          EXPECT_EQ(got_ids, Ids(expected[beams == 1 ? "greedy_batch" : "beam4_batch"])) << name << " beams " << beams;
        }
      }
    }
  }
}

// The same on CUDA, where the nodes run the fused kernels forward: float32 to rounding order; bfloat16 within a
// few roundings of the dtype (the composed backward rounds its intermediates to bf16, the nodes keep float32).
TEST(LlamaCuda, FusedTrainingNodesGiveTheGradientsOfTheComposedOps) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const char* name : kCases) {
    const std::string dir = testing::DataPath(std::string("llama/") + name);
    const auto ids = testing::ReadJson(dir + "/expected.json")["logits_prompt"].get<std::vector<int64_t>>();
    for (auto [dtype, tolerance] :
         {std::pair<c10::ScalarType, double>{torch::kFloat, 1e-5}, {torch::kBFloat16, 3e-2}}) {
      auto model = llm::LoadLlama(dir, torch::kCUDA, dtype);
      const at::Tensor fused = EmbeddingGradient(model, ids, llm::FusedTraining::kOn, torch::kCUDA);
      const at::Tensor composed = EmbeddingGradient(model, ids, llm::FusedTraining::kOff, torch::kCUDA);
      const double error = RelativeMaxError(fused, composed);
      std::cerr << name << " cuda " << c10::toString(dtype) << ": fused-node gradient error " << error << "\n";
      EXPECT_LT(error, tolerance) << name << " " << c10::toString(dtype);
    }
  }
}

// The RMSNorm module on CUDA (the fused kernel where it is built) against HF's eager formula on the same device:
// only the order of the fp32 sum of squares may differ, so at most one rounding step of the output dtype.
TEST(LlamaCuda, RmsNormKernelRoundsLikeTransformers) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(0);
  for (auto dtype : {torch::kFloat, torch::kBFloat16, torch::kHalf}) {
    const auto options = torch::TensorOptions().device(torch::kCUDA).dtype(dtype);
    llm::RMSNorm norm(2048, 1e-5, options);
    torch::NoGradGuard no_grad;
    norm->weight.copy_(torch::rand({2048}, options) + 0.5);
    const at::Tensor x = torch::randn({3, 5, 2048}, options) * 3;
    const at::Tensor h = x.to(torch::kFloat);
    const at::Tensor want = norm->weight * (h * torch::rsqrt(h.pow(2).mean(-1, true) + 1e-5)).to(dtype);
    const at::Tensor got = norm(x);
    ASSERT_EQ(got.scalar_type(), dtype);
    const double ulp = dtype == torch::kFloat ? 1e-6 : dtype == torch::kHalf ? 1e-3 : 8e-3;  // relative
    const double error =
        ((got.to(torch::kFloat) - want.to(torch::kFloat)).abs() / (want.to(torch::kFloat).abs() + 1e-3))
            .max()
            .item<double>();
    EXPECT_LE(error, 2 * ulp) << c10::toString(dtype);
    const double mismatched = got.ne(want).to(torch::kFloat).mean().item<double>();
    std::cerr << c10::toString(dtype) << ": max relative diff " << error << ", " << 100 * mismatched
              << "% of values not bit-identical\n";
    if (dtype != torch::kFloat) {  // fp32: the last bits may all move with the sum order
      EXPECT_LT(mismatched, 0.01) << c10::toString(dtype);
    }
  }
}

#if MOME_WITH_CUDA_KERNELS
// The rotary and SiLU-mul kernels against HF's eager op sequences: bit-identical in bf16/fp16 (every stored
// intermediate is rounded the same way); fp32 within a couple of ulps (libm expf vs PyTorch's).
TEST(LlamaCuda, RotaryAndSiluMulKernelsRoundLikeTransformers) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(1);
  for (auto dtype : {torch::kBFloat16, torch::kHalf, torch::kFloat}) {
    const auto o = torch::TensorOptions().device(torch::kCUDA).dtype(dtype);
    const at::Tensor packed = torch::randn({2, 3, 12, 64}, o);
    const at::Tensor x = packed.narrow(2, 0, 10);  // strided, as the q|k part of a packed projection
    const at::Tensor angle = torch::rand({2, 3, 1, 32}, o.dtype(torch::kFloat)) * 6;
    const at::Tensor cos = torch::cat({angle.cos(), angle.cos()}, -1).to(dtype);
    const at::Tensor sin = torch::cat({angle.sin(), angle.sin()}, -1).to(dtype);
    const at::Tensor rotate_half = torch::cat({-x.narrow(-1, 32, 32), x.narrow(-1, 0, 32)}, -1);
    const at::Tensor want = x * cos + rotate_half * sin;
    const at::Tensor signed_sin = torch::cat({-sin.narrow(-1, 0, 32), sin.narrow(-1, 32, 32)}, -1);
    const at::Tensor got = llm::kernels::Rotary(x, cos, signed_sin);
    const at::Tensor gate_up = torch::randn({5, 2 * 352}, o) * 3;
    const at::Tensor want_mlp = torch::silu(gate_up.narrow(-1, 0, 352)) * gate_up.narrow(-1, 352, 352);
    const at::Tensor got_mlp = llm::kernels::SiluMul(gate_up);
    if (dtype == torch::kFloat) {
      EXPECT_TRUE(torch::allclose(got, want, 1e-6, 1e-6));
      EXPECT_TRUE(torch::allclose(got_mlp, want_mlp, 1e-5, 1e-6));
    } else {
      EXPECT_TRUE(torch::equal(got, want)) << c10::toString(dtype);
      EXPECT_TRUE(torch::equal(got_mlp, want_mlp))
          << c10::toString(dtype) << " max diff " << (got_mlp - want_mlp).abs().max().item<float>();
    }
  }
}

// The decoding-step kernels (decode_step.cu) against the ATen ops they replace, on random inputs: rotary into the
// cache bit-identical (same roundings); attention within one rounding of
// the dtype of an fp32 reference (probabilities kept in fp32); the greedy pick the same ids as argmax, ties to the
// lower index, and log-probabilities within fp32 summation order.
TEST(LlamaCuda, DecodeStepKernelsAgreeWithTheOpsTheyReplace) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(2);
  for (auto dtype : {torch::kBFloat16, torch::kHalf, torch::kFloat}) {
    const auto o = torch::TensorOptions().device(torch::kCUDA).dtype(dtype);
    const int64_t b = 3, heads = 8, kv = 2, d = 64, capacity = 40;
    const at::Tensor qkv = torch::randn({b, 1, heads + 2 * kv, d}, o);
    const at::Tensor angle = torch::rand({b, 1, 1, d / 2}, o.dtype(torch::kFloat)) * 6;
    const at::Tensor cos = torch::cat({angle.cos(), angle.cos()}, -1).to(dtype);
    const at::Tensor sin = torch::cat({-angle.sin(), angle.sin()}, -1).to(dtype);  // signed
    at::Tensor keys = torch::randn({b, kv, capacity, d}, o), values = torch::randn({b, kv, capacity, d}, o);
    const at::Tensor want_keys = keys.clone(), want_values = values.clone();
    const at::Tensor slot = torch::full({1}, 17, o.dtype(torch::kLong));
    const at::Tensor q = llm::kernels::RotaryIntoCache(qkv, cos, sin, slot, keys, values, heads, kv);
    const at::Tensor rotated = llm::kernels::Rotary(qkv.narrow(2, 0, heads + kv), cos, sin);
    want_keys.select(2, 17).copy_(rotated.narrow(2, heads, kv).squeeze(1));
    want_values.select(2, 17).copy_(qkv.narrow(2, heads + kv, kv).squeeze(1));
    EXPECT_TRUE(torch::equal(q, rotated.narrow(2, 0, heads))) << c10::toString(dtype);
    EXPECT_TRUE(torch::equal(keys, want_keys) && torch::equal(values, want_values)) << c10::toString(dtype);

    const at::Tensor allowed = torch::rand({b, 1, 1, capacity}, o.dtype(torch::kFloat)).gt(0.3);
    const at::Tensor bias = torch::where(allowed, torch::zeros({}, o), torch::full({}, -1e4, o)).to(dtype);
    const at::Tensor grouped = q.view({b, kv, heads / kv, d});
    const at::Tensor got = llm::kernels::DecodeAttention(grouped, keys, values, bias, 0.125);
    const at::Tensor scores = torch::matmul(grouped.to(torch::kFloat), keys.to(torch::kFloat).transpose(-1, -2));
    const at::Tensor probs = torch::softmax(scores * 0.125 + bias.to(torch::kFloat), -1);
    const at::Tensor want = torch::matmul(probs, values.to(torch::kFloat));
    const double tolerance = dtype == torch::kFloat ? 1e-5 : dtype == torch::kHalf ? 2e-3 : 1.6e-2;
    EXPECT_LT((got.to(torch::kFloat) - want).abs().max().item<double>(), tolerance) << c10::toString(dtype);
  }
  at::Tensor logits = torch::randn({4, 128256}, torch::TensorOptions().device(torch::kCUDA)) * 4;
  logits[1][5] = 100.f;
  logits[1][9000] = 100.f;  // a tie: the lower index wins
  logits[2].narrow(0, 0, 1000).fill_(-std::numeric_limits<float>::infinity());
  const auto [token, logprob] = llm::kernels::GreedyPick(logits);
  EXPECT_TRUE(torch::equal(token, logits.argmax(-1)));
  EXPECT_EQ(token[1].item<int64_t>(), 5);
  const at::Tensor want_logprob = torch::log_softmax(logits, -1).gather(1, token.unsqueeze(1)).squeeze(1);
  EXPECT_TRUE(torch::allclose(logprob, want_logprob, 1e-5, 1e-5)) << logprob << want_logprob;
}

// bf16 decoding on CUDA (graph, GEMV, fused step kernels) against a plain forward pass over the prompt and what it
// generated (cuBLAS, no cache): every greedy token is the forward's argmax up to bf16 rounding (its logit within 2 %
// of the logit range of the top one) and its log-probability agrees within 0.05 — for one prompt and a padded batch.
TEST(LlamaCuda, Bf16DecodingAgreesWithAForwardPassOverItsOutput) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const char* name : kCases) {
    const std::string dir = testing::DataPath(std::string("llama/") + name);
    const auto expected = testing::ReadJson(dir + "/expected.json");
    auto model = llm::LoadLlama(dir, torch::kCUDA, torch::kBFloat16);
    torch::NoGradGuard no_grad;
    const auto prompts = Ids(expected["prompts"]);
    decode::GenerateOptions options = OptionsOf(expected);
    options.eos_token_ids.clear();  // the whole budget of tokens, every row
    for (const auto& batch : {std::vector<std::vector<int64_t>>{prompts[0]}, prompts}) {
      const auto hypotheses = decode::GenerateFromIds(*model, batch, options);
      ASSERT_EQ(hypotheses.size(), batch.size());
      for (size_t i = 0; i < batch.size(); ++i) {
        std::vector<int64_t> sequence = batch[i];
        sequence.insert(sequence.end(), hypotheses[i].ids.begin(), hypotheses[i].ids.end());
        const int64_t t = static_cast<int64_t>(sequence.size());
        const at::Tensor ids = torch::tensor(sequence).unsqueeze(0).cuda();
        const at::Tensor logits =
            model->forward(model->model->Embed(ids), torch::arange(t).unsqueeze(0).cuda(), {}, nullptr)[0]
                .to(torch::kFloat)
                .cpu();
        const at::Tensor logprobs = torch::log_softmax(logits, -1);
        const double range = (logits.max() - logits.min()).item<double>();
        for (size_t j = 0; j < hypotheses[i].ids.size(); ++j) {
          const int64_t row = static_cast<int64_t>(batch[i].size() + j) - 1, token = hypotheses[i].ids[j];
          const double gap = (logits[row].max() - logits[row][token]).item<double>();
          EXPECT_LE(gap, 0.02 * range) << name << " row " << i << " token " << j;
          EXPECT_NEAR(hypotheses[i].logprobs[j], logprobs[row][token].item<double>(), 0.05)
              << name << " row " << i << " token " << j;
        }
      }
    }
  }
}

// The decoding GEMV (gemv.cu) against an fp32 product of the same rounded inputs, rounded once: within one unit in
// the last place of the dtype (only the fp32 summation order differs), for one and two rows, K not a multiple of the
// 2048-element stretch a warp loads at once, an odd N, strided rows, and each extra: the residual epilogue and the
// fp32 output.
TEST(LlamaCuda, DecodeLinearAgreesWithAnFp32Product) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(3);
  using Extras = llm::kernels::DecodeLinearExtras;
  for (auto dtype : {torch::kBFloat16, torch::kHalf}) {
    const auto o = torch::TensorOptions().device(torch::kCUDA).dtype(dtype);
    const double ulp = dtype == torch::kBFloat16 ? 1.0 / 128 : 1.0 / 1024;  // relative, with margin for rounding
    // |got - want| within `ulp` of the magnitude of what was rounded (the product, and the residual it is added to)
    const auto check = [&](const at::Tensor& got, const at::Tensor& want, const std::string& what,
                           const at::Tensor& magnitude) {
      const at::Tensor err = (got.to(torch::kFloat) - want).abs();
      EXPECT_TRUE(err.le(magnitude * ulp + 1e-3).all().item<bool>())
          << what << " " << c10::toString(dtype) << " max err " << err.max().item<float>();
    };
    const auto product_of = [](const at::Tensor& x, const at::Tensor& w) {
      return torch::matmul(x.to(torch::kFloat), w.to(torch::kFloat).t());
    };
    for (int64_t rows : {1, 2}) {
      for (int64_t k : {64, 328, 2048, 8200}) {
        const int64_t n = 301;
        const at::Tensor w = torch::randn({n, k}, o) * 0.05;
        const at::Tensor x = torch::randn({rows, 3, k}, o).select(1, 2);  // strided rows
        ASSERT_TRUE(llm::kernels::DecodeLinearSupports(x, w)) << rows << "x" << k;
        const at::Tensor product = product_of(x, w);
        const std::string what = std::to_string(rows) + "x" + std::to_string(k);
        check(llm::kernels::DecodeLinear(x, w), product, what, product.abs());
        Extras with_residual;
        with_residual.residual = torch::randn({rows, n}, o);
        const at::Tensor residual = with_residual.residual.to(torch::kFloat);
        check(llm::kernels::DecodeLinear(x, w, with_residual), residual + product, what + " + residual",
              residual.abs() + product.abs());
        Extras fp32;
        fp32.float_out = true;
        const at::Tensor logits = llm::kernels::DecodeLinear(x, w, fp32);
        ASSERT_EQ(logits.scalar_type(), torch::kFloat);
        EXPECT_TRUE(torch::equal(logits, logits.to(dtype).to(torch::kFloat))) << "fp32 output not dtype-rounded";
        check(logits, product, what + " fp32 out", product.abs());
      }
    }
    EXPECT_FALSE(llm::kernels::DecodeLinearSupports(torch::randn({3, 64}, o), torch::randn({8, 64}, o)));
    EXPECT_FALSE(llm::kernels::DecodeLinearSupports(torch::randn({1, 60}, o), torch::randn({8, 60}, o)));
    EXPECT_FALSE(llm::kernels::DecodeLinearSupports(torch::randn({1, 64}), torch::randn({8, 64})));  // CPU
  }
}
#endif

}  // namespace
}  // namespace mome
