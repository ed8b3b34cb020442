// The command-line tools as users run them: exact flags, JSON on stdout, and one clear line on stderr with
// exit code 1 for every kind of bad input.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "mome/io/safetensors.h"
#include "test_helpers.h"

namespace mome {
namespace {

namespace fs = std::filesystem;
using testing::CountLines;
using testing::DataPath;
using testing::ReadJson;
using testing::RunCommand;

const std::string kGqa = "llama/gqa_llama3_rope";

std::string Quote(const std::string& s) {
  return "'" + s + "'";
}

std::string Lm(const std::string& args) {
  return std::string(MOME_LM_BIN) + " " + args;
}

// A private copy of a fixture checkpoint that a test may damage.
std::string CopyFixture(const std::string& name, const std::string& tag) {
  const fs::path dst = fs::path(::testing::TempDir()) / ("cli_" + tag);
  testing::RemoveTree(dst.string());
  fs::copy(DataPath(name), dst, fs::copy_options::recursive);
  return dst.string();
}

void ExpectCleanFailure(const std::string& command, const std::string& must_mention) {
  const auto r = RunCommand(command);
  EXPECT_EQ(r.exit_code, 1) << command << "\n" << r.err;
  EXPECT_EQ(CountLines(r.err), 1) << "stderr must be one line:\n" << r.err;
  EXPECT_NE(r.err.find(must_mention), std::string::npos) << "stderr should mention '" << must_mention << "':\n"
                                                         << r.err;
  EXPECT_EQ(r.err.find("frame #"), std::string::npos) << "a LibTorch backtrace leaked:\n" << r.err;
}

std::string IdsFlag(const std::vector<int64_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

TEST(MomeLm, DumpsLogitsEqualToTransformers) {
  const auto expected = ReadJson(DataPath(kGqa + "/expected.json"));
  const std::string out = ::testing::TempDir() + "/cli_logits.safetensors";
  const auto r =
      RunCommand(Lm("--model " + DataPath(kGqa) + " --ids " +
                    IdsFlag(expected["logits_prompt"].get<std::vector<int64_t>>()) + " --dump-logits " + out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const at::Tensor got = io::SafetensorsFile::Open(out)->Get("logits");
  const at::Tensor want = io::SafetensorsFile::Open(DataPath(kGqa + "/expected_logits.safetensors"))->Get("logits");
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_EQ(got.scalar_type(), torch::kFloat);
  EXPECT_LT((got - want).abs().max().item<double>() / want.abs().max().item<double>(), 1e-4);
}

TEST(MomeLm, GeneratesTheIdsOfTransformers) {
  for (const char* name : {"llama/gqa_llama3_rope", "llama/linear_rope_headdim_bias_f16"}) {
    const auto expected = ReadJson(DataPath(std::string(name) + "/expected.json"));
    const auto prompt = expected["prompts"][1].get<std::vector<int64_t>>();
    for (const auto& [beams, key] : {std::pair<int, const char*>{1, "greedy_single"}, {4, "beam4_single"}}) {
      const auto r = RunCommand(Lm("--model " + DataPath(name) + " --ids " + IdsFlag(prompt) + " --max-new-tokens " +
                                   std::to_string(expected["max_new_tokens"].get<int>()) + " --beam-size " +
                                   std::to_string(beams)));
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const auto line = nlohmann::json::parse(r.out);
      EXPECT_EQ(line["ids"], expected[key][1]) << name << " " << key;
    }
  }
}

TEST(MomeLm, RejectsBadInputWithOneLine) {
  const std::string ok = " --ids 1,2,3";
  ExpectCleanFailure(Lm("--model /no/such/folder" + ok), "/no/such/folder");
  ExpectCleanFailure(Lm("--model " + DataPath(kGqa) + " --ids 1,99999"), "99999");
  ExpectCleanFailure(Lm("--model " + DataPath(kGqa) + " --ids 1,x"), "--ids");
  ExpectCleanFailure(Lm("--model " + DataPath(kGqa) + " --bogus 1"), "--bogus");
  ExpectCleanFailure(Lm("--model " + DataPath(kGqa)), "--ids");
  ExpectCleanFailure(Lm("--model " + DataPath(kGqa) + ok + " --device tpu"), "tpu");

  // Truncated weights.
  std::string dir = CopyFixture(kGqa, "truncated");
  fs::resize_file(dir + "/model.safetensors", fs::file_size(dir + "/model.safetensors") - 100);
  ExpectCleanFailure(Lm("--model " + dir + ok), "model.safetensors");

  // Header length beyond the file.
  dir = CopyFixture(kGqa, "header");
  {
    std::fstream f(dir + "/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    const uint64_t huge = 1ull << 33;
    f.write(reinterpret_cast<const char*>(&huge), 8);
  }
  ExpectCleanFailure(Lm("--model " + dir + ok), "header length");

  // Garbage in place of the weights.
  dir = CopyFixture(kGqa, "garbage");
  std::ofstream(dir + "/model.safetensors", std::ios::trunc) << "this is not a safetensors file at all";
  ExpectCleanFailure(Lm("--model " + dir + ok), "model.safetensors");

  // A shape that contradicts config.json, and a missing tensor.
  for (const std::string damage : {"shape", "missing"}) {
    dir = CopyFixture(kGqa, damage);
    auto file = io::SafetensorsFile::Open(dir + "/model.safetensors");
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& name : file->Names()) {
      at::Tensor t = file->Get(name).clone();
      if (damage == "shape" && name == "model.layers.1.mlp.up_proj.weight") t = t.narrow(0, 0, 7).clone();
      if (damage == "missing" && name == "model.layers.0.self_attn.k_proj.weight") continue;
      tensors.emplace_back(name, t);
    }
    file.reset();
    io::SaveSafetensors(dir + "/model.safetensors", tensors);
    ExpectCleanFailure(Lm("--model " + dir + ok), damage == "shape" ? "up_proj" : "k_proj");
  }

  // A dtype that contradicts config.json, and a config field missing.
  dir = CopyFixture(kGqa, "dtype");
  {
    auto json = ReadJson(dir + "/config.json");
    json["torch_dtype"] = "bfloat16";
    std::ofstream(dir + "/config.json") << json.dump();
  }
  ExpectCleanFailure(Lm("--model " + dir + ok), "config.json declares BF16");
  {
    auto json = ReadJson(dir + "/config.json");
    json.erase("hidden_size");
    std::ofstream(dir + "/config.json") << json.dump();
  }
  ExpectCleanFailure(Lm("--model " + dir + ok), "hidden_size");
  std::ofstream(dir + "/config.json") << "{ not json";
  ExpectCleanFailure(Lm("--model " + dir + ok), "config.json");

  // --text without a tokenizer in the folder.
  ExpectCleanFailure(Lm("--model " + DataPath(kGqa) + " --text hello"), "tokenizer");
}

TEST(MomeTokenize, RejectsBadTokenizerFiles) {
  const std::string bad = ::testing::TempDir() + "/bad_tokenizer.json";
  std::ofstream(bad) << "{\"model\": {\"type\": \"BPE\", \"vocab\": ";
  ExpectCleanFailure(std::string(MOME_TOKENIZE_BIN) + " --tokenizer " + bad + " --text hi", bad);
  ExpectCleanFailure(std::string(MOME_TOKENIZE_BIN) + " --tokenizer /no/such.json --text hi", "/no/such.json");
}

TEST(MomeTokenize, EncodesAndDecodesWithTheFixtureTokenizer) {
  const std::string tok = DataPath("tokenizer/tokenizer.json");
  if (!fs::exists(tok)) GTEST_SKIP() << "no tokenizer fixture";
  const auto enc =
      RunCommand(std::string(MOME_TOKENIZE_BIN) + " --tokenizer " + tok + " --text " + Quote("Hello wörld 123"));
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  const auto ids = nlohmann::json::parse(enc.out)["ids"].get<std::vector<int64_t>>();
  ASSERT_FALSE(ids.empty());
  const auto dec =
      RunCommand(std::string(MOME_TOKENIZE_BIN) + " --tokenizer " + tok + " --skip-special --decode " + IdsFlag(ids));
  ASSERT_EQ(dec.exit_code, 0) << dec.err;
  EXPECT_EQ(nlohmann::json::parse(dec.out)["text"], "Hello wörld 123");
}

TEST(MomeMakeTiny, WritesACheckpointThatMomeLmRuns) {
  const std::string tok = DataPath("tokenizer/tokenizer.json");
  if (!fs::exists(tok)) GTEST_SKIP() << "no tokenizer fixture";
  const std::string out = ::testing::TempDir() + "/cli_tiny";
  const auto make = RunCommand(std::string(MOME_MAKE_TINY_BIN) + " --out " + out + " --set tokenizer=" + tok +
                               " --set model.num_hidden_layers=1");
  ASSERT_EQ(make.exit_code, 0) << make.err;
  EXPECT_TRUE(fs::exists(out + "/mome_make_tiny.yaml"));
  const auto run = RunCommand(Lm("--model " + out + " --text " + Quote("hello there") + " --max-new-tokens 5"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto line = nlohmann::json::parse(run.out);
  EXPECT_LE(line["ids"].size(), 5u);
  EXPECT_TRUE(line.contains("text"));
  ExpectCleanFailure(std::string(MOME_MAKE_TINY_BIN) + " --out " + out + " --set model.bogus=1", "model.bogus");
  // A Llama-2-style folder with a SentencePiece tokenizer.model.
  MOME_SKIP_SENTENCEPIECE_IF_SANITIZED();
  const std::string spm_out = ::testing::TempDir() + "/cli_tiny_spm";
  ASSERT_EQ(RunCommand(std::string(MOME_MAKE_TINY_BIN) + " --out " + spm_out +
                       " --set tokenizer=" + DataPath("spm/tiny.model"))
                .exit_code,
            0);
  EXPECT_TRUE(fs::exists(spm_out + "/tokenizer.model"));
  const auto spm_run = RunCommand(Lm("--model " + spm_out + " --text " + Quote("hello world") + " --max-new-tokens 4"));
  ASSERT_EQ(spm_run.exit_code, 0) << spm_run.err;
  EXPECT_TRUE(nlohmann::json::parse(spm_run.out).contains("text"));
}

}  // namespace
}  // namespace mome

namespace mome {
namespace {

// The paper's adapter budgets (SPEC.md §2), from the configs alone: no weights exist on this machine.
TEST(MomeTrain, DryRunGivesThePaperAdapterBudgets) {
  const std::pair<const char*, double> cases[] = {{"llama-avsr_lora", 27.5},
                                                  {"mtsk_ss", 27.5},
                                                  {"mtsk_mss", 55.0},
                                                  {"mome_23-4_mhsa", 12.7},
                                                  {"mome_23-4_layer", 12.7}};
  for (const auto& [name, millions] : cases) {
    const auto r = testing::RunCommand(std::string(MOME_TRAIN_BIN) + " --config " + MOME_SOURCE_DIR +
                                       "/configs/paper/" + name + ".yaml --dry-run --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto last = r.out.substr(r.out.rfind('{'));
    const auto json = nlohmann::json::parse(last);
    EXPECT_NEAR(json["adapter_active"].get<double>() / 1e6, millions, 0.1) << name;
    EXPECT_EQ(json["trainable"].get<int64_t>(), json["adapter_total"].get<int64_t>() +
                                                    json["projectors"].get<int64_t>() +
                                                    json["special_embeddings"].get<int64_t>());
    // Whisper-medium's encoder as HF builds it: conv stem 246,784 + 3,146,752, positions 1500 x 1024, 24 layers of
    // 12,595,200 (q/k/v/o, biases on q/v/o, fc1/fc2, two LayerNorms), final LayerNorm 2,048.
    EXPECT_EQ(json["audio_encoder"].get<int64_t>(), 307216384) << name;
    EXPECT_GT(json["video_encoder"].get<int64_t>(), 300000000) << name;  // AV-HuBERT Large, ~325M
    EXPECT_EQ(json["total"].get<int64_t>(), json["llm"].get<int64_t>() + json["audio_encoder"].get<int64_t>() +
                                                json["video_encoder"].get<int64_t>() +
                                                json["trainable"].get<int64_t>());
  }
  const auto bad = testing::RunCommand(std::string(MOME_TRAIN_BIN) + " --config " + MOME_SOURCE_DIR +
                                       "/configs/paper/mome_23-4_layer.yaml --dry-run --set adapters.top_k=[40]");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("adapters.top_k"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace mome
