// The Llama architecture as described by a Hugging Face config.json (hub format with rope_scaling/torch_dtype,
// and the newer one with rope_parameters/dtype).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mome::llm {

struct RopeConfig {
  std::string type = "default";  // default | linear | llama3
  double theta = 10000.0;
  double factor = 1.0;                              // linear and llama3
  double low_freq_factor = 1.0;                     // llama3
  double high_freq_factor = 4.0;                    // llama3
  int64_t original_max_position_embeddings = 8192;  // llama3
};

struct LlamaConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  bool attention_bias = false;
  bool mlp_bias = false;
  RopeConfig rope;
  std::string torch_dtype;  // as written in config.json ("" when absent)
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;
  std::optional<int64_t> pad_token_id;

  // Reads `path` (a config.json or the folder holding it); errors name the file and the field.
  static LlamaConfig FromJsonFile(const std::string& path);
  static LlamaConfig FromJsonString(const std::string& text, const std::string& origin);
  std::string ToJsonString() const;  // HF hub format, loadable by transformers
  void Validate(const std::string& origin) const;
  std::string ToString() const;  // one line for logs
  int64_t ParameterCount() const;
};

}  // namespace mome::llm
