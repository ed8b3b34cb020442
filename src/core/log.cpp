// The only translation unit that sees spdlog; it is built without LibTorch's include paths.
#include "mome/core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>

namespace mome::log {
namespace {

Level InitialLevel() {
  // MOME_LOG_LEVEL lets users turn on debug output without a flag in every tool.
  if (const char* env = std::getenv("MOME_LOG_LEVEL")) {
    try {
      return ParseLevel(env);
    } catch (const Error&) {
    }
  }
  return Level::kInfo;
}

std::atomic<Level>& CurrentLevel() {
  static std::atomic<Level> level{InitialLevel()};
  return level;
}

spdlog::logger& Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto created = spdlog::stderr_color_mt("mome");
    created->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    created->set_level(spdlog::level::trace);  // filtering happens in CurrentLevel()
    return created;
  }();
  return *logger;
}

spdlog::level::level_enum ToSpd(Level level) {
  switch (level) {
    case Level::kTrace: return spdlog::level::trace;
    case Level::kDebug: return spdlog::level::debug;
    case Level::kInfo: return spdlog::level::info;
    case Level::kWarn: return spdlog::level::warn;
    case Level::kError: return spdlog::level::err;
    case Level::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}

}  // namespace

void SetLevel(Level level) {
  CurrentLevel() = level;
}
Level GetLevel() {
  return CurrentLevel();
}

Level ParseLevel(const std::string& name) {
  if (name == "trace") return Level::kTrace;
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn") return Level::kWarn;
  if (name == "error") return Level::kError;
  if (name == "off") return Level::kOff;
  MOME_FAIL(ErrorCode::kInvalidArgument, "log level '", name, "' is not one of trace|debug|info|warn|error|off");
}

void Write(Level level, const std::string& message) {
  if (level < CurrentLevel() || level == Level::kOff) return;
  Logger().log(ToSpd(level), "{}", message);
}

}  // namespace mome::log
