// LoadTokenizer: picks the implementation from the path and reads tokenizer_config.json.
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mome/core/error.h"
#include "mome/io/json.h"
#include "mome/text/tokenizer.h"
#include "text/bpe_tokenizer.h"
#include "text/spm_tokenizer.h"

namespace mome::text {
namespace {

namespace fs = std::filesystem;

// tokenizer_config.json writes a token as "<s>" or as {"content": "<s>", ...}.
std::optional<std::string> ConfigToken(const nlohmann::json& config, const char* key) {
  if (!config.contains(key)) return std::nullopt;
  const auto& value = config.at(key);
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value.at("content").is_string()) {
    return value.at("content").get<std::string>();
  }
  return std::nullopt;  // null or absent: the model has no such token
}

// BOS/EOS from tokenizer_config.json beside the tokenizer.json when it names them, else the
// usual names: Llama 3's <|begin_of_text|>/<|end_of_text|>, then <s>/</s>.
void SetSpecialIds(BpeTokenizer* tokenizer, const fs::path& json_path) {
  nlohmann::json config;
  const fs::path config_path = json_path.parent_path() / "tokenizer_config.json";
  if (fs::exists(config_path)) {
    config = io::ReadJsonObjectFile(config_path.string());
  }
  const auto find = [&](const char* key, const char* first, const char* second) -> std::optional<int64_t> {
    if (config.is_object()) {
      if (auto name = ConfigToken(config, key)) {
        if (auto id = tokenizer->TokenToId(*name)) return id;
      }
    }
    if (auto id = tokenizer->TokenToId(first)) return id;
    return tokenizer->TokenToId(second);
  };
  tokenizer->SetBosEos(find("bos_token", "<|begin_of_text|>", "<s>"), find("eos_token", "<|end_of_text|>", "</s>"));
}

std::unique_ptr<Tokenizer> LoadJson(const fs::path& path) {
  auto tokenizer = BpeTokenizer::FromFile(path.string());
  SetSpecialIds(tokenizer.get(), path);
  return tokenizer;
}

bool LooksLikeJson(const fs::path& path) {
  if (path.extension() == ".json") return true;
  if (path.extension() == ".model") return false;
  std::ifstream in(path, std::ios::binary);
  char c = 0;
  while (in.get(c) && std::isspace(static_cast<unsigned char>(c))) {
  }
  return c == '{';
}

}  // namespace

std::unique_ptr<Tokenizer> LoadTokenizer(const std::string& path_string) {
  const fs::path path(path_string);
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path json = path / "tokenizer.json";
    const fs::path model = path / "tokenizer.model";
    if (fs::exists(json)) {
      try {
        return LoadJson(json);
      } catch (const Error& e) {
        // Llama 2 folders carry a tokenizer.json whose pipeline (Metaspace etc.) we do not
        // implement, beside the tokenizer.model that we do.
        if (e.code() != ErrorCode::kUnsupported || !fs::exists(model)) throw;
      }
    }
    MOME_CHECK(fs::exists(model), ErrorCode::kNotFound, path_string,
               ": folder holds neither tokenizer.json nor tokenizer.model");
    return SpmTokenizer::FromFile(model.string());
  }
  MOME_CHECK(fs::exists(path, ec), ErrorCode::kNotFound, path_string, ": no such tokenizer file or folder");
  if (LooksLikeJson(path)) return LoadJson(path);
  return SpmTokenizer::FromFile(path_string);
}

}  // namespace mome::text
