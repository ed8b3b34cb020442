#include "mome/io/json.h"

#include <cstdint>

#include <fstream>
#include <sstream>

namespace mome::io {

int JsonNestingDepth(const std::string& text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{')
      deepest = std::max(deepest, ++depth);
    else if (c == ']' || c == '}')
      --depth;
  }
  return deepest;
}

nlohmann::json ParseJson(const std::string& text, const std::string& origin, int max_depth) {
  const int depth = JsonNestingDepth(text);
  MOME_CHECK(depth <= max_depth, ErrorCode::kCorruptFile, origin, ": JSON nested ", depth, " levels deep (at most ",
             max_depth, " accepted)");
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    MOME_FAIL(ErrorCode::kCorruptFile, origin, ": not valid JSON (", e.what(), ")");
  }
}

nlohmann::json ParseJsonObject(const std::string& text, const std::string& origin, int max_depth) {
  nlohmann::json j = ParseJson(text, origin, max_depth);
  MOME_CHECK(j.is_object(), ErrorCode::kCorruptFile, origin, ": is not a JSON object");
  return j;
}

nlohmann::json ReadJsonFile(const std::string& path, int max_depth) {
  std::ifstream in(path, std::ios::binary);
  MOME_CHECK(in.good(), ErrorCode::kNotFound, path, ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseJson(text.str(), path, max_depth);
}

nlohmann::json ReadJsonObjectFile(const std::string& path, int max_depth) {
  nlohmann::json j = ReadJsonFile(path, max_depth);
  MOME_CHECK(j.is_object(), ErrorCode::kCorruptFile, path, ": is not a JSON object");
  return j;
}

std::string Describe(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

int64_t IntValue(const nlohmann::json& v, const std::string& what) {
  MOME_CHECK(v.is_number_integer(), ErrorCode::kCorruptFile, what, " must be an integer, got ", Describe(v));
  MOME_CHECK(!v.is_number_unsigned() || v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX), ErrorCode::kCorruptFile,
             what, " is out of range: ", Describe(v));
  return v.get<int64_t>();
}

int64_t RequireInt(const nlohmann::json& j, const char* key, const std::string& origin) {
  MOME_CHECK(j.contains(key), ErrorCode::kNotFound, origin, ": missing required field '", key, "'");
  return IntValue(j[key], origin + ": field '" + key + "'");
}

int64_t OptionalInt(const nlohmann::json& j, const char* key, int64_t fallback, const std::string& origin) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  return RequireInt(j, key, origin);
}

}  // namespace mome::io
