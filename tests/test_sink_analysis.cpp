// Sink analysis: statistics equal HF transformers' (output_attentions + hidden states, fixture from
// tests/fixtures/make_sink_fixtures.py on the tiny GQA Llama), a planted massive activation is found where it was
// planted, and mome_analyze writes its report for an LLM folder.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mome/analysis/sink_analysis.h"
#include "mome/llm/llama_loader.h"
#include "test_helpers.h"

namespace mome {
namespace {

analysis::ForwardTrace TraceOf(const llm::LlamaForCausalLM& model, const std::vector<int64_t>& ids) {
  torch::NoGradGuard no_grad;
  const auto t = static_cast<int64_t>(ids.size());
  analysis::ForwardTrace trace;
  model->forward(model->model->Embed(torch::tensor(ids).view({1, t})), torch::arange(t).view({1, t}), {}, nullptr,
                 {nullptr, &trace.layer_outputs, &trace.attention_probs, &trace.mlp_outputs});
  return trace;
}

TEST(SinkAnalysis, StatisticsEqualTransformers) {
  const auto expected = testing::ReadJson(testing::DataPath("sinks/expected.json"));
  const auto model = llm::LoadLlama(testing::DataPath("llama/gqa_llama3_rope"), at::kCPU, at::kFloat);
  const auto ids = expected["ids"].get<std::vector<int64_t>>();
  const auto trace = TraceOf(model, ids);
  const auto report = analysis::AnalyzeSinks(trace, 0, 0, static_cast<int64_t>(ids.size()));
  ASSERT_EQ(report.layers.size(), expected["layers"].size());
  // fp32 here vs fp32 in HF with another summation order: agreement to ~1e-6 relative; 1e-4 leaves margin while
  // any real difference (a missing mask, the wrong layer, scores before softmax) is far larger.
  for (size_t l = 0; l < report.layers.size(); ++l) {
    const auto& got = report.layers[l];
    const auto& want = expected["layers"][l];
    EXPECT_EQ(got.layer, want["layer"].get<int64_t>());
    EXPECT_NEAR(got.hidden_max_abs, want["hidden_max_abs"].get<double>(), 1e-4 * got.hidden_max_abs);
    EXPECT_NEAR(got.hidden_median_abs, want["hidden_median_abs"].get<double>(), 1e-4 * got.hidden_max_abs);
    const auto bos = want["bos_sink_score"].get<std::vector<double>>();
    ASSERT_EQ(got.bos_sink_score.size(), bos.size());
    for (size_t h = 0; h < bos.size(); ++h) EXPECT_NEAR(got.bos_sink_score[h], bos[h], 1e-5) << "layer " << l + 1;
    const auto sink = want["sink_score"].get<std::vector<std::vector<double>>>();
    for (size_t h = 0; h < sink.size(); ++h)
      for (size_t k = 0; k < sink[h].size(); ++k) EXPECT_NEAR(got.sink_score[h][k], sink[h][k], 1e-5);
    const auto cos = want["cos_to_bos"].get<std::vector<double>>();
    for (size_t t = 0; t < cos.size(); ++t) EXPECT_NEAR(got.cos_to_bos[t], cos[t], 1e-5);
  }
}

TEST(SinkAnalysis, FindsAPlantedMassiveActivation) {
  auto model = llm::LoadLlama(testing::DataPath("llama/gqa_llama3_rope"), at::kCPU, at::kFloat);
  const std::vector<int64_t> ids = {1, 17, 42, 5, 99, 23, 7};
  constexpr int64_t kToken = 4, kFeature = 11;
  {
    torch::NoGradGuard no_grad;  // one embedding entry of token 99 becomes huge: it rides the residual stream
    model->model->embed_tokens->weight[ids[kToken]][kFeature] = 5000.0;
  }
  const auto trace = TraceOf(model, ids);
  const auto report = analysis::AnalyzeSinks(trace, 0, 0, static_cast<int64_t>(ids.size()));
  for (const auto& layer : report.layers) {
    ASSERT_FALSE(layer.massive.empty()) << "layer " << layer.layer;
    bool found = false;
    for (const auto& m : layer.massive) {
      EXPECT_EQ(m.token, kToken) << "layer " << layer.layer;  // nothing else is massive
      found |= m.feature == kFeature;
    }
    EXPECT_TRUE(found) << "layer " << layer.layer;
    EXPECT_GT(layer.hidden_max_abs, 1000.0);
  }
  const auto clean = analysis::AnalyzeSinks(
      TraceOf(llm::LoadLlama(testing::DataPath("llama/gqa_llama3_rope"), at::kCPU, at::kFloat), ids), 0, 0,
      static_cast<int64_t>(ids.size()));
  for (const auto& layer : clean.layers) EXPECT_TRUE(layer.massive.empty()) << "layer " << layer.layer;
}

TEST(SinkAnalysis, ToolWritesReportForAnLlmFolder) {
  const std::string out = ::testing::TempDir() + "/mome_analyze_" + std::to_string(::getpid());
  const auto r = testing::RunCommand(std::string(MOME_TOOL_DIR) + "/mome_analyze --model " +
                                     testing::DataPath("llama/gqa_llama3_rope") + " --ids 1,17,42,5,99 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = testing::ReadJson(out + "/report.json");
  ASSERT_EQ(report["layers"].size(), 3u);
  EXPECT_EQ(report["layers"][0]["cos_to_bos"].size(), 5u);
  EXPECT_EQ(report["roles"][0], "bos");
  EXPECT_EQ(testing::CountLines(r.out), 3);  // one summary line per layer
  const auto bad = testing::RunCommand(std::string(MOME_TOOL_DIR) + "/mome_analyze --model " +
                                       testing::DataPath("llama/gqa_llama3_rope") + " --ids 1,999999 --out " + out);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("999999"), std::string::npos) << bad.err;
  testing::RemoveTree(out);
}

}  // namespace
}  // namespace mome
