// mome_make_tiny: writes a small random Llama checkpoint in Hugging Face format (config.json,
// model.safetensors, generation_config.json, tokenizer) from a YAML recipe, for demos and smoke tests.
//   mome_make_tiny --config configs/tiny_llama.yaml --out DIR [--set model.hidden_size=128 ...]
#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/utils.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "mome/core/atomic_file.h"
#include "mome/core/cli.h"
#include "mome/core/config.h"
#include "mome/core/log.h"
#include "mome/io/safetensors.h"
#include "mome/llm/llama.h"
#include "mome/llm/llama_loader.h"
#include "mome/text/tokenizer.h"
#include "tool_main.h"

namespace mome {
namespace {

struct TinyModelRecipe {
  int64_t vocab_size = 0;
  int64_t hidden_size = 64;
  int64_t intermediate_size = 176;
  int64_t num_hidden_layers = 2;
  int64_t num_attention_heads = 4;
  int64_t num_key_value_heads = 2;
  double rope_theta = 500000.0;
  std::string rope_type = "llama3";
  double rope_factor = 32.0;
  int64_t original_max_position_embeddings = 64;
  bool tie_word_embeddings = true;
  std::string dtype = "bfloat16";
  std::string init = "peaked";

  void Visit(ConfigVisitor& v) {
    v.Field("vocab_size", vocab_size, "vocabulary size; 0 takes the tokenizer's");
    v.Field("hidden_size", hidden_size, "model width d");
    v.Field("intermediate_size", intermediate_size, "SwiGLU width");
    v.Field("num_hidden_layers", num_hidden_layers, "decoder layers");
    v.Field("num_attention_heads", num_attention_heads, "query heads");
    v.Field("num_key_value_heads", num_key_value_heads, "key/value heads (grouped-query attention)");
    v.Field("rope_theta", rope_theta, "rotary base frequency");
    v.Field("rope_type", rope_type, "default | linear | llama3");
    v.Field("rope_factor", rope_factor, "rope scaling factor (linear, llama3)");
    v.Field("original_max_position_embeddings", original_max_position_embeddings, "llama3 rope context");
    v.Field("tie_word_embeddings", tie_word_embeddings, "share the embedding matrix with the LM head");
    v.Field("dtype", dtype, "float32 | bfloat16 | float16: how weights are stored");
    v.Field("init", init, "peaked (large weights: confident generations for tests) | training (HF: N(0, 0.02), "
                          "norms 1, for training from scratch)");
  }
  void Validate() const {
    ConfigRequire(vocab_size >= 0, "vocab_size", "must be >= 0");
    ConfigRequire(hidden_size > 0 && num_attention_heads > 0 && hidden_size % num_attention_heads == 0, "hidden_size",
                  "must be a positive multiple of num_attention_heads");
    ConfigRequire(num_key_value_heads > 0 && num_attention_heads % num_key_value_heads == 0, "num_key_value_heads",
                  "must divide num_attention_heads");
    ConfigRequireOneOf(rope_type, {"default", "linear", "llama3"}, "rope_type");
    ConfigRequireOneOf(dtype, {"float32", "bfloat16", "float16"}, "dtype");
    ConfigRequireOneOf(init, {"peaked", "training"}, "init");
  }
};

struct TinyLlamaRecipe {
  TinyModelRecipe model;
  std::string tokenizer = "tests/data/tokenizer/tokenizer.json";
  int64_t seed = 1234;
  void Visit(ConfigVisitor& v) {
    v.Section("model", model, "the Llama architecture");
    v.Field("tokenizer", tokenizer, "tokenizer.json or .model copied into the checkpoint");
    v.Field("seed", seed, "random seed of the weights");
  }
};

c10::ScalarType StorageDtype(const std::string& name) {
  if (name == "float16") return at::kHalf;
  if (name == "bfloat16") return at::kBFloat16;
  return at::kFloat;
}

// Weights scaled so that logits are peaked (HF's 0.02 init gives near-uniform, meaningless generations).
// "training": HF LlamaPreTrainedModel's init (normal 0.02, RMSNorm weights 1), the usual start from scratch.
void RandomiseWeights(torch::nn::Module& model, const std::string& init) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.named_parameters()) {
    at::Tensor& w = p.value();
    if (init == "training") {
      if (p.key().find("norm") != std::string::npos)
        w.fill_(1.0);
      else
        w.normal_(0.0, 0.02);
      continue;
    }
    if (p.key().find("norm") != std::string::npos)
      w.uniform_(0.5, 1.5);
    else if (p.key().find("embed_tokens") != std::string::npos)
      w.normal_(0.0, 1.0);
    else
      w.normal_(0.0, 1.5 / std::sqrt(static_cast<double>(w.size(-1))));
  }
}

int Main(int argc, char** argv) {
  CliParser cli("mome_make_tiny", "Writes a small random Llama checkpoint (HF format) from a YAML recipe.");
  cli.AddOption("--config", "FILE", "recipe YAML (see configs/tiny_llama.yaml); defaults when absent")
      .AddRequired("--out", "DIR", "output folder (created)")
      .AddRepeated("--set", "KEY=VALUE", "override a recipe key, e.g. model.hidden_size=128")
      .AddHelpSection("recipe keys", ConfigHelp<TinyLlamaRecipe>());
  if (!cli.Parse(argc, argv)) return 0;
  const TinyLlamaRecipe recipe = cli.Has("--config")
                                     ? LoadConfigFile<TinyLlamaRecipe>(cli.GetString("--config"), cli.GetAll("--set"))
                                     : LoadConfigOverrides<TinyLlamaRecipe>(cli.GetAll("--set"));
  namespace fs = std::filesystem;
  const fs::path out = cli.GetString("--out");
  fs::create_directories(out);

  const auto tokenizer = text::LoadTokenizer(recipe.tokenizer);
  const TinyModelRecipe& m = recipe.model;
  llm::LlamaConfig config;
  config.vocab_size = m.vocab_size > 0 ? m.vocab_size : tokenizer->VocabSize();
  MOME_CHECK(config.vocab_size >= tokenizer->VocabSize(), ErrorCode::kInvalidArgument, "model.vocab_size ",
             config.vocab_size, " is smaller than the tokenizer's ", tokenizer->VocabSize());
  config.hidden_size = m.hidden_size;
  config.intermediate_size = m.intermediate_size;
  config.num_hidden_layers = m.num_hidden_layers;
  config.num_attention_heads = m.num_attention_heads;
  config.num_key_value_heads = m.num_key_value_heads;
  config.head_dim = m.hidden_size / m.num_attention_heads;
  config.max_position_embeddings = 4096;
  config.rms_norm_eps = 1e-5;
  config.tie_word_embeddings = m.tie_word_embeddings;
  config.rope.type = m.rope_type;
  config.rope.theta = m.rope_theta;
  config.rope.factor = m.rope_factor;
  config.rope.original_max_position_embeddings = m.original_max_position_embeddings;
  config.torch_dtype = m.dtype;
  if (auto bos = tokenizer->BosId()) config.bos_token_id = *bos;
  if (auto eos = tokenizer->EosId()) config.eos_token_ids = {*eos};
  config.Validate("recipe");

  torch::manual_seed(static_cast<uint64_t>(recipe.seed));
  llm::LlamaForCausalLM model(config, at::TensorOptions().dtype(at::kFloat));
  RandomiseWeights(*model, m.init);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& p : model->named_parameters()) tensors.emplace_back(p.key(), p.value().to(StorageDtype(m.dtype)));
  io::SaveSafetensors((out / "model.safetensors").string(), tensors, {{"format", "pt"}});
  WriteFileAtomic((out / "config.json").string(), config.ToJsonString());
  nlohmann::json generation = {{"do_sample", false}};
  if (config.bos_token_id) generation["bos_token_id"] = *config.bos_token_id;
  if (!config.eos_token_ids.empty()) generation["eos_token_id"] = config.eos_token_ids[0];
  WriteFileAtomic((out / "generation_config.json").string(), generation.dump(2));

  const fs::path tokenizer_source = recipe.tokenizer;
  const fs::path tokenizer_file = fs::is_directory(tokenizer_source) ? (fs::exists(tokenizer_source / "tokenizer.json")
                                                                            ? tokenizer_source / "tokenizer.json"
                                                                            : tokenizer_source / "tokenizer.model")
                                                                     : tokenizer_source;
  const bool is_json = tokenizer_file.extension() == ".json";
  // A folder made before may hold another tokenizer, which the loader would then pick: only this one stays.
  for (const char* stale : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json"}) fs::remove(out / stale);
  fs::copy_file(tokenizer_file, out / (is_json ? "tokenizer.json" : "tokenizer.model"),
                fs::copy_options::overwrite_existing);
  const fs::path tokenizer_config = tokenizer_file.parent_path() / "tokenizer_config.json";
  if (fs::exists(tokenizer_config))
    fs::copy_file(tokenizer_config, out / "tokenizer_config.json", fs::copy_options::overwrite_existing);
  WriteConfigFile((out / "mome_make_tiny.yaml").string(), recipe);
  std::cerr << "mome_make_tiny: wrote " << config.ToString() << " (" << config.ParameterCount() << " parameters) to "
            << out.string() << std::endl;
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("mome_make_tiny", [&] { return mome::Main(argc, argv); });
}
