#include "mome/llm/llama_config.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mome/core/error.h"
#include "mome/core/log.h"
#include "mome/io/json.h"

namespace mome::llm {
namespace {

using nlohmann::json;

using io::OptionalField;
using io::RequireInt;

std::optional<int64_t> OptionalId(const json& j, const char* key, const std::string& origin) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  if (j[key].is_array()) {  // some configs list several; the first is the canonical one
    if (j[key].empty()) return std::nullopt;
    MOME_CHECK(j[key][0].is_number_integer(), ErrorCode::kCorruptFile, origin, ": field '", key,
               "' must list integer ids");
    return j[key][0].get<int64_t>();
  }
  MOME_CHECK(j[key].is_number_integer(), ErrorCode::kCorruptFile, origin, ": field '", key, "' must be an integer id");
  return j[key].get<int64_t>();
}

RopeConfig ParseRope(const json& j, const std::string& origin) {
  RopeConfig rope;
  rope.theta = OptionalField<double>(j, "rope_theta", 10000.0, origin);
  // Newer transformers: rope_parameters {rope_type, rope_theta, ...}; hub format: rope_scaling {type|rope_type, ...}.
  const json* params = nullptr;
  for (const char* key : {"rope_parameters", "rope_scaling"})  // an object or null; anything else is a broken file
    MOME_CHECK(!j.contains(key) || j[key].is_object() || j[key].is_null(), ErrorCode::kCorruptFile, origin, ": '", key,
               "' must be an object or null, got ", io::Describe(j[key]));
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object())
    params = &j["rope_parameters"];
  else if (j.contains("rope_scaling") && j["rope_scaling"].is_object())
    params = &j["rope_scaling"];
  if (!params) return rope;
  const json& p = *params;
  rope.theta = OptionalField<double>(p, "rope_theta", rope.theta, origin);
  rope.type =
      OptionalField<std::string>(p, "rope_type", OptionalField<std::string>(p, "type", "default", origin), origin);
  rope.factor = OptionalField<double>(p, "factor", 1.0, origin);
  rope.low_freq_factor = OptionalField<double>(p, "low_freq_factor", 1.0, origin);
  rope.high_freq_factor = OptionalField<double>(p, "high_freq_factor", 4.0, origin);
  rope.original_max_position_embeddings =
      OptionalField<int64_t>(p, "original_max_position_embeddings", rope.original_max_position_embeddings, origin);
  MOME_CHECK(rope.type == "default" || rope.type == "linear" || rope.type == "llama3", ErrorCode::kUnsupported, origin,
             ": rope type '", rope.type, "' is not supported (default, linear, llama3)");
  if (rope.type == "llama3")
    MOME_CHECK(p.contains("factor") && p.contains("original_max_position_embeddings"), ErrorCode::kNotFound, origin,
               ": llama3 rope scaling needs 'factor' and 'original_max_position_embeddings'");
  return rope;
}

}  // namespace

LlamaConfig LlamaConfig::FromJsonString(const std::string& text, const std::string& origin) {
  const json j = io::ParseJsonObject(text, origin);
  const std::string model_type = OptionalField<std::string>(j, "model_type", "llama", origin);
  if (model_type != "llama") log::Warn(origin, ": model_type '", model_type, "' is treated as a Llama architecture");
  const std::string act = OptionalField<std::string>(j, "hidden_act", "silu", origin);
  MOME_CHECK(act == "silu", ErrorCode::kUnsupported, origin, ": hidden_act '", act, "' is not supported (silu)");

  LlamaConfig c;
  c.vocab_size = RequireInt(j, "vocab_size", origin);
  c.hidden_size = RequireInt(j, "hidden_size", origin);
  c.intermediate_size = RequireInt(j, "intermediate_size", origin);
  c.num_hidden_layers = RequireInt(j, "num_hidden_layers", origin);
  c.num_attention_heads = RequireInt(j, "num_attention_heads", origin);
  c.num_key_value_heads = OptionalField<int64_t>(j, "num_key_value_heads", c.num_attention_heads, origin);
  c.head_dim = OptionalField<int64_t>(j, "head_dim", 0, origin);
  if (c.head_dim == 0 && c.num_attention_heads > 0) c.head_dim = c.hidden_size / c.num_attention_heads;
  c.max_position_embeddings = OptionalField<int64_t>(j, "max_position_embeddings", 2048, origin);
  c.rms_norm_eps = OptionalField<double>(j, "rms_norm_eps", 1e-6, origin);
  c.tie_word_embeddings = OptionalField<bool>(j, "tie_word_embeddings", false, origin);
  c.attention_bias = OptionalField<bool>(j, "attention_bias", false, origin);
  c.mlp_bias = OptionalField<bool>(j, "mlp_bias", false, origin);
  c.rope = ParseRope(j, origin);
  c.torch_dtype =
      OptionalField<std::string>(j, "dtype", OptionalField<std::string>(j, "torch_dtype", "", origin), origin);
  c.bos_token_id = OptionalId(j, "bos_token_id", origin);
  c.pad_token_id = OptionalId(j, "pad_token_id", origin);
  if (j.contains("eos_token_id") && j["eos_token_id"].is_array()) {
    for (const auto& id : j["eos_token_id"]) {
      MOME_CHECK(id.is_number_integer(), ErrorCode::kCorruptFile, origin, ": eos_token_id holds a non-integer");
      c.eos_token_ids.push_back(id.get<int64_t>());
    }
  } else if (auto eos = OptionalId(j, "eos_token_id", origin)) {
    c.eos_token_ids.push_back(*eos);
  }
  c.Validate(origin);
  return c;
}

LlamaConfig LlamaConfig::FromJsonFile(const std::string& path) {
  std::string file = path;
  if (std::filesystem::is_directory(path)) file = (std::filesystem::path(path) / "config.json").string();
  std::ifstream in(file);
  MOME_CHECK(in.good(), ErrorCode::kNotFound, file, ": cannot open (no config.json?)");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return FromJsonString(buffer.str(), file);
}

void LlamaConfig::Validate(const std::string& origin) const {
  // Sizes come from files: bounded before anything is allocated from them (far above any real Llama).
  auto in_range = [&](int64_t v, const char* key, int64_t most) {
    MOME_CHECK(v > 0 && v <= most, ErrorCode::kInvalidArgument, origin, ": field '", key, "' must be in [1, ", most,
               "], got ", v);
  };
  in_range(vocab_size, "vocab_size", int64_t{1} << 24);
  in_range(hidden_size, "hidden_size", 65536);
  in_range(intermediate_size, "intermediate_size", 1 << 20);
  in_range(num_hidden_layers, "num_hidden_layers", 1024);
  in_range(num_attention_heads, "num_attention_heads", 1024);
  in_range(num_key_value_heads, "num_key_value_heads", 1024);
  in_range(head_dim, "head_dim", 4096);
  in_range(max_position_embeddings, "max_position_embeddings", int64_t{1} << 24);
  MOME_CHECK(num_attention_heads % num_key_value_heads == 0, ErrorCode::kInvalidArgument, origin,
             ": num_attention_heads ", num_attention_heads, " is not a multiple of num_key_value_heads ",
             num_key_value_heads);
  MOME_CHECK(head_dim % 2 == 0, ErrorCode::kInvalidArgument, origin, ": head_dim ", head_dim,
             " must be even for rotary embeddings");
  MOME_CHECK(std::isfinite(rms_norm_eps) && rms_norm_eps > 0, ErrorCode::kInvalidArgument, origin,
             ": rms_norm_eps must be a positive finite number");
  MOME_CHECK(std::isfinite(rope.theta) && rope.theta > 0 && std::isfinite(rope.factor) && rope.factor > 0 &&
                 std::isfinite(rope.low_freq_factor) && rope.low_freq_factor > 0 &&
                 std::isfinite(rope.high_freq_factor) && rope.original_max_position_embeddings > 0,
             ErrorCode::kInvalidArgument, origin,
             ": rope theta, factor, frequency factors and original_max_position_embeddings must be positive");
  if (rope.type == "llama3")
    MOME_CHECK(rope.high_freq_factor > rope.low_freq_factor, ErrorCode::kInvalidArgument, origin,
               ": llama3 rope needs high_freq_factor > low_freq_factor");
  for (int64_t id : eos_token_ids)
    MOME_CHECK(id >= 0 && id < vocab_size, ErrorCode::kInvalidArgument, origin, ": eos_token_id ", id,
               " is outside the vocabulary of ", vocab_size);
}

std::string LlamaConfig::ToJsonString() const {
  json j;
  j["architectures"] = {"LlamaForCausalLM"};
  j["model_type"] = "llama";
  j["hidden_act"] = "silu";
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["num_key_value_heads"] = num_key_value_heads;
  j["head_dim"] = head_dim;
  j["max_position_embeddings"] = max_position_embeddings;
  j["rms_norm_eps"] = rms_norm_eps;
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["attention_bias"] = attention_bias;
  j["mlp_bias"] = mlp_bias;
  j["rope_theta"] = rope.theta;
  if (rope.type == "default") {
    j["rope_scaling"] = nullptr;
  } else {
    json s = {{"rope_type", rope.type}, {"factor", rope.factor}};
    if (rope.type == "llama3") {
      s["low_freq_factor"] = rope.low_freq_factor;
      s["high_freq_factor"] = rope.high_freq_factor;
      s["original_max_position_embeddings"] = rope.original_max_position_embeddings;
    }
    j["rope_scaling"] = s;
  }
  if (!torch_dtype.empty()) j["torch_dtype"] = torch_dtype;
  if (bos_token_id) j["bos_token_id"] = *bos_token_id;
  if (eos_token_ids.size() == 1)
    j["eos_token_id"] = eos_token_ids[0];
  else if (!eos_token_ids.empty())
    j["eos_token_id"] = eos_token_ids;
  if (pad_token_id) j["pad_token_id"] = *pad_token_id;
  return j.dump(2);
}

std::string LlamaConfig::ToString() const {
  std::ostringstream out;
  out << "Llama(layers=" << num_hidden_layers << ", d=" << hidden_size << ", ffn=" << intermediate_size
      << ", heads=" << num_attention_heads << "/" << num_key_value_heads << " kv, head_dim=" << head_dim
      << ", vocab=" << vocab_size << ", rope=" << rope.type << " theta=" << rope.theta
      << ", tied=" << (tie_word_embeddings ? "yes" : "no") << ")";
  return out.str();
}

int64_t LlamaConfig::ParameterCount() const {
  const int64_t q = num_attention_heads * head_dim, kv = num_key_value_heads * head_dim;
  const int64_t attention = hidden_size * (q + 2 * kv) + q * hidden_size;
  const int64_t mlp = 3 * hidden_size * intermediate_size;
  const int64_t per_layer = attention + mlp + 2 * hidden_size;
  return vocab_size * hidden_size * (tie_word_embeddings ? 1 : 2) + num_hidden_layers * per_layer + hidden_size;
}

}  // namespace mome::llm
