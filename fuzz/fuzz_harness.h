// What every libFuzzer target shares: the input as a file (most parsers read paths, as the tools do) and the rule
// that decides what counts as a finding. A parser given bad bytes must throw mome::Error (the tools print it as one
// line); any other exception (a LibTorch error with its backtrace, nlohmann's or yaml-cpp's own, bad_alloc from a
// size taken on trust) is a finding, as are crashes, sanitizer reports, leaks and timeouts, which libFuzzer catches.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <typeinfo>

#include "mome/core/error.h"

namespace mome::fuzz {

// A folder of this process's own (fuzzers may run in parallel), removed at exit.
inline const std::filesystem::path& ScratchDir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("mome_fuzz_" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(ScratchDir(), ignored);
    });
    return d;
  }();
  return dir;
}

// Writes bytes to ScratchDir()/name (overwritten on every input) and returns the path.
inline std::string WriteScratchFile(const std::string& name, const uint8_t* data, size_t size) {
  const auto path = ScratchDir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) std::abort();  // the scratch folder is unusable: no result of this run would mean anything
  return path.string();
}

// Runs one parse: mome::Error is the expected answer to bad bytes; anything else aborts, so libFuzzer keeps the input.
template <typename Parse>
int Guarded(Parse&& parse) {
  try {
    parse();
  } catch (const mome::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "finding: %s escaped instead of mome::Error: %s\n", typeid(e).name(), e.what());
    std::abort();
  }
  return 0;
}

// Splits the input at the first occurrence of `separator`: (before, after); no separator → (all, "").
inline std::pair<std::string, std::string> SplitInput(const uint8_t* data, size_t size, const std::string& separator) {
  const std::string all(reinterpret_cast<const char*>(data), size);
  const auto at = all.find(separator);
  if (at == std::string::npos) return {all, ""};
  return {all.substr(0, at), all.substr(at + separator.size())};
}

}  // namespace mome::fuzz
