// Shared helpers for the test suite.
#pragma once

#include <gtest/gtest.h>

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "mome/core/atomic_file.h"

namespace mome::testing {

// Sanitized builds load the SentencePiece shim without RTLD_DEEPBIND (the sanitizer runtimes refuse it), so
// sentencepiece's protobuf meets LibTorch's (PLATFORM.md trap 1) and a process holding both crashes: tests that load
// a SentencePiece model skip there. fuzz_sentencepiece (tools/fuzz.sh) checks the shim under the sanitizers alone.
#ifdef MOME_SANITIZED
#define MOME_SKIP_SENTENCEPIECE_IF_SANITIZED() \
  GTEST_SKIP() << "SentencePiece cannot share a sanitized process with LibTorch (see test_helpers.h)"
#else
#define MOME_SKIP_SENTENCEPIECE_IF_SANITIZED() (void)0
#endif

inline std::string DataPath(const std::string& relative) {
  return std::string(MOME_TEST_DATA_DIR) + "/" + relative;
}

inline nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs a shell command, capturing stdout and stderr separately.
inline CommandResult RunCommand(const std::string& command) {
  // Unique per process and call: ctest runs test processes in parallel.
  static int calls = 0;
  const std::string err_path = std::string(::testing::TempDir()) + "/mome_cmd_stderr." + std::to_string(getpid()) +
                               "." + std::to_string(++calls) + ".txt";
  CommandResult result;
  FILE* pipe = popen((command + " 2>" + err_path).c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.out.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream err(err_path);
  result.err.assign(std::istreambuf_iterator<char>(err), {});
  std::remove(err_path.c_str());
  return result;
}

inline void RemoveTree(const std::string& path) {
  ::mome::RemoveTree(path);
}

// The whole file ("" when it cannot be read).
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline int CountLines(const std::string& text) {
  int lines = 0;
  for (char c : text) lines += c == '\n';
  if (!text.empty() && text.back() != '\n') ++lines;
  return lines;
}

// Starts argv[0] with argv in the background, stderr discarded; returns its pid (-1 when fork fails).
inline pid_t SpawnQuiet(std::vector<std::string> argv) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  std::vector<char*> raw;
  for (auto& a : argv) raw.push_back(a.data());
  raw.push_back(nullptr);
  if (!::freopen("/dev/null", "w", stderr)) ::_exit(126);
  ::execv(raw[0], raw.data());
  ::_exit(127);
}

// SIGKILLs `pid` after `ms` milliseconds (a process that ended before is only reaped).
inline void KillAfter(pid_t pid, int64_t ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

// A size-limited tmpfs at `path` for disk-full tests; mounted() is false where this process may not mount (not
// root, or a container without CAP_SYS_ADMIN): the test then skips, saying why.
class SmallDisk {
 public:
  SmallDisk(const std::string& path, int64_t bytes) : path_(path) {
    ::mkdir(path.c_str(), 0755);
    const std::string options = "size=" + std::to_string(bytes);
    mounted_ = ::mount("tmpfs", path.c_str(), "tmpfs", 0, options.c_str()) == 0;
    if (!mounted_) why_ = std::string("cannot mount a tmpfs at ") + path + ": " + std::strerror(errno);
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }

 private:
  std::string path_, why_;
  bool mounted_ = false;
};

// Fills the file system holding `dir` to the last byte (a file `dir`/filler), so that the next write fails.
inline void FillDisk(const std::string& dir) {
  std::ofstream filler(dir + "/filler", std::ios::binary);
  const std::string block(4096, 'x');
  while (filler.write(block.data(), static_cast<std::streamsize>(block.size())) && filler.flush()) {
  }
  filler.clear();
  filler.write("x", 1);
}

// Lines of `err` that are errors ("...: error: ..."), not the log.
inline int CountErrorLines(const std::string& err) {
  int n = 0;
  for (size_t at = err.find(": error: "); at != std::string::npos; at = err.find(": error: ", at + 1)) ++n;
  return n;
}

}  // namespace mome::testing
