// String choices of configs and options as enums, each with one name table: parsed once where the text is read
// (errors list the allowed names), named back for logs and written configs.
#pragma once

#include <array>
#include <string>
#include <utility>

#include "mome/core/error.h"

namespace mome {

template <typename E, size_t N>
using EnumNames = std::array<std::pair<E, const char*>, N>;

template <typename E, size_t N>
std::string EnumChoices(const EnumNames<E, N>& names) {
  std::string out;
  for (const auto& [value, name] : names) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

// Throws kInvalidArgument "WHAT 'text' is not one of a, b, c".
template <typename E, size_t N>
E ParseEnum(const EnumNames<E, N>& names, const std::string& text, const char* what) {
  for (const auto& [value, name] : names)
    if (text == name) return value;
  MOME_FAIL(ErrorCode::kInvalidArgument, what, " '", text, "' is not one of ", EnumChoices(names));
}

template <typename E, size_t N>
bool IsEnumName(const EnumNames<E, N>& names, const std::string& text) {
  for (const auto& entry : names)
    if (text == entry.second) return true;
  return false;
}

template <typename E, size_t N>
const char* EnumName(const EnumNames<E, N>& names, E value) {
  for (const auto& [v, name] : names)
    if (v == value) return name;
  return "?";
}

}  // namespace mome
