// JSON from files we do not control (HF config.json, tokenizer.json, manifests, landmark files): parsed with a
// nesting limit checked before the parser runs (nesting depth, not size, is what makes a small hostile file blow
// the stack when it is parsed, destroyed or printed), and fields read with errors that name the origin and key.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <type_traits>

#include "mome/core/error.h"

namespace mome::io {

constexpr int kMaxJsonDepth = 64;

// The deepest nesting of arrays/objects in `text` (strings and escapes skipped), scanned without recursion.
int JsonNestingDepth(const std::string& text);

// Parses `text` (kCorruptFile naming `origin` when it is not JSON or nests deeper than max_depth).
nlohmann::json ParseJson(const std::string& text, const std::string& origin, int max_depth = kMaxJsonDepth);
// The same, requiring a JSON object at the top.
nlohmann::json ParseJsonObject(const std::string& text, const std::string& origin, int max_depth = kMaxJsonDepth);
// Reads the whole file (kNotFound naming it) and parses it as ParseJson / ParseJsonObject do.
nlohmann::json ReadJsonFile(const std::string& path, int max_depth = kMaxJsonDepth);
nlohmann::json ReadJsonObjectFile(const std::string& path, int max_depth = kMaxJsonDepth);

// A value for an error message: its JSON text, cut to 60 characters.
std::string Describe(const nlohmann::json& value);

// The integer field `key` of object `j`: required (kNotFound when absent), or `fallback` when absent or null.
int64_t RequireInt(const nlohmann::json& j, const char* key, const std::string& origin);
// `v` as an int64: an integer in range, else mome::Error naming `what` (never nlohmann's unchecked conversion).
int64_t IntValue(const nlohmann::json& v, const std::string& what);
int64_t OptionalInt(const nlohmann::json& j, const char* key, int64_t fallback, const std::string& origin);

// Any other field type; absent or null gives `fallback`, a value of the wrong type is kCorruptFile.
template <typename T>
T OptionalField(const nlohmann::json& j, const char* key, T fallback, const std::string& origin) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  // nlohmann converts any number to any arithmetic type unchecked (3e43 into an int64 is undefined behaviour,
  // found by fuzz_hf_config): integer fields take integers only, in range.
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    const int64_t v = OptionalInt(j, key, static_cast<int64_t>(fallback), origin);
    MOME_CHECK(static_cast<int64_t>(static_cast<T>(v)) == v && (std::is_signed_v<T> || v >= 0), ErrorCode::kCorruptFile,
               origin, ": field '", key, "' is out of range: ", v);
    return static_cast<T>(v);
  }
  try {
    return j[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    MOME_FAIL(ErrorCode::kCorruptFile, origin, ": field '", key, "' has the wrong type: ", Describe(j[key]));
  }
}

}  // namespace mome::io
