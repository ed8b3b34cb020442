// Small readers for tokenizer.json components whose errors name the file and the offending key.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace mome::text {

// object[key]; throws kCorruptFile "file: <where> has no '<key>'" when absent or object is no object.
const nlohmann::json& RequireMember(const nlohmann::json& object, const char* key, const std::string& file,
                                    const std::string& where);

// object[key] as bool, or `fallback` when absent or null.
bool BoolOr(const nlohmann::json& object, const char* key, bool fallback);

// A component's "type" string ("BPE", "ByteLevel", ...), or "" when absent.
std::string ComponentType(const nlohmann::json& component);

// For messages: the component's type, or its JSON (shortened) when it has none.
std::string DescribeComponent(const nlohmann::json& component);

}  // namespace mome::text
