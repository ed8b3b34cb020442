#include "text/tokenizer_json.h"

#include <nlohmann/json.hpp>

#include "mome/core/error.h"

namespace mome::text {

const nlohmann::json& RequireMember(const nlohmann::json& object, const char* key, const std::string& file,
                                    const std::string& where) {
  MOME_CHECK(object.is_object() && object.contains(key), ErrorCode::kCorruptFile, file, ": ", where, " has no '", key,
             "'");
  return object.at(key);
}

bool BoolOr(const nlohmann::json& object, const char* key, bool fallback) {
  if (!object.is_object() || !object.contains(key) || object.at(key).is_null()) return fallback;
  return object.at(key).get<bool>();
}

std::string ComponentType(const nlohmann::json& component) {
  if (!component.is_object() || !component.contains("type") || !component.at("type").is_string()) return "";
  return component.at("type").get<std::string>();
}

std::string DescribeComponent(const nlohmann::json& component) {
  const std::string type = ComponentType(component);
  if (!type.empty()) return type;
  std::string text = component.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

}  // namespace mome::text
