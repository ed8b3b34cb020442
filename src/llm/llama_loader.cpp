#include "mome/llm/llama_loader.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "mome/core/error.h"
#include "mome/core/log.h"
#include "mome/io/json.h"
#include "mome/io/module_loader.h"

namespace mome::llm {

c10::optional<c10::ScalarType> DeclaredDtype(const LlamaConfig& config) {
  const std::string& d = config.torch_dtype;
  if (d == "float32") return at::kFloat;
  if (d == "bfloat16") return at::kBFloat16;
  if (d == "float16") return at::kHalf;
  return c10::nullopt;
}

LlamaForCausalLM LoadLlama(const std::string& dir, c10::Device device, c10::ScalarType compute_dtype) {
  namespace fs = std::filesystem;
  MOME_CHECK(fs::is_directory(dir), ErrorCode::kNotFound, dir, ": no such model folder");
  const LlamaConfig config = LlamaConfig::FromJsonFile(dir);
  const io::CheckpointReader reader = io::CheckpointReader::Open(dir);
  LlamaForCausalLM model(config, at::TensorOptions().device(device).dtype(compute_dtype));
  const io::LoadReport report = io::LoadModuleWeights(*model, reader, "", DeclaredDtype(config));
  size_t ignored = 0;
  for (const auto& name : report.unused) {
    // Tied checkpoints sometimes still carry lm_head.weight; rotary caches are recomputed.
    if (name == "lm_head.weight" || name.find("rotary_emb") != std::string::npos) continue;
    log::Warn(dir, ": ignoring unexpected tensor '", name, "'");
    ++ignored;
  }
  log::Debug("loaded ", report.loaded, " tensors from ", dir, " (", ignored, " ignored): ", config.ToString());
  model->eval();
  model->PackProjections();
  return model;
}

GenerationDefaults LoadGenerationDefaults(const std::string& dir, const LlamaConfig& config) {
  GenerationDefaults defaults;
  defaults.eos_token_ids = config.eos_token_ids;
  if (config.pad_token_id) defaults.pad_token_id = *config.pad_token_id;
  if (config.bos_token_id) defaults.bos_token_id = *config.bos_token_id;
  const std::string path = (std::filesystem::path(dir) / "generation_config.json").string();
  if (!std::filesystem::exists(path)) return defaults;
  const nlohmann::json j = io::ReadJsonObjectFile(path);
  auto read_ids = [&](const char* key) {
    std::vector<int64_t> ids;
    if (!j.contains(key) || j[key].is_null()) return ids;
    const auto& value = j[key];
    if (value.is_array()) {
      for (const auto& id : value) {
        MOME_CHECK(id.is_number_integer(), ErrorCode::kCorruptFile, path, ": '", key, "' holds a non-integer");
        ids.push_back(id.get<int64_t>());
      }
    } else {
      MOME_CHECK(value.is_number_integer(), ErrorCode::kCorruptFile, path, ": '", key, "' is not an integer");
      ids.push_back(value.get<int64_t>());
    }
    for (int64_t id : ids)
      MOME_CHECK(id >= 0 && id < config.vocab_size, ErrorCode::kInvalidArgument, path, ": '", key, "' id ", id,
                 " is outside the vocabulary of ", config.vocab_size);
    return ids;
  };
  if (auto eos = read_ids("eos_token_id"); !eos.empty()) defaults.eos_token_ids = eos;
  if (auto pad = read_ids("pad_token_id"); !pad.empty()) defaults.pad_token_id = pad[0];
  if (auto bos = read_ids("bos_token_id"); !bos.empty()) defaults.bos_token_id = bos[0];
  return defaults;
}

}  // namespace mome::llm
