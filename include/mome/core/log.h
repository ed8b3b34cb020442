// Logging for people: leveled lines on stderr.
// The interface takes plain strings so that no libmome header pulls in spdlog: LibTorch 2.x bundles a
// newer fmt than the system spdlog is built on, and a TU seeing both does not compile (PLATFORM.md trap 3).
#pragma once

#include <string>

#include "mome/core/error.h"

namespace mome::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError, kOff };

void SetLevel(Level level);
Level GetLevel();
// Parses "trace|debug|info|warn|error|off"; throws mome::Error naming the bad value.
Level ParseLevel(const std::string& name);

void Write(Level level, const std::string& message);

template <typename... Parts>
void Debug(const Parts&... parts) {
  if (GetLevel() <= Level::kDebug) Write(Level::kDebug, detail::Concat(parts...));
}
template <typename... Parts>
void Info(const Parts&... parts) {
  if (GetLevel() <= Level::kInfo) Write(Level::kInfo, detail::Concat(parts...));
}
template <typename... Parts>
void Warn(const Parts&... parts) {
  if (GetLevel() <= Level::kWarn) Write(Level::kWarn, detail::Concat(parts...));
}
template <typename... Parts>
void Err(const Parts&... parts) {
  if (GetLevel() <= Level::kError) Write(Level::kError, detail::Concat(parts...));
}

}  // namespace mome::log
