// Loads a Hugging Face Llama checkpoint folder (config.json + model.safetensors or sharded
// model.safetensors.index.json, optionally generation_config.json and a tokenizer) onto a device.
#pragma once

#include <string>

#include <c10/core/Device.h>

#include "mome/llm/llama.h"

namespace mome::llm {

struct GenerationDefaults {
  std::vector<int64_t> eos_token_ids;  // generation_config.json, else config.json
  c10::optional<int64_t> pad_token_id;
  c10::optional<int64_t> bos_token_id;
};

// compute_dtype: the dtype parameters are held and computed in (weights are converted on load).
LlamaForCausalLM LoadLlama(const std::string& dir, c10::Device device, c10::ScalarType compute_dtype);
GenerationDefaults LoadGenerationDefaults(const std::string& dir, const LlamaConfig& config);
// The dtype a config.json's torch_dtype/dtype names ("bfloat16" -> kBFloat16); nullopt when absent/unknown.
c10::optional<c10::ScalarType> DeclaredDtype(const LlamaConfig& config);

}  // namespace mome::llm
