// mome::Error — the one exception type the library throws.
// Every message names the file, key or shape involved, so a CLI can print it as one line.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace mome {

enum class ErrorCode {
  kInvalidArgument = 1,  // a bad flag, config value or API argument
  kNotFound = 2,         // a missing file, folder, tensor or config key
  kCorruptFile = 3,      // a file that exists but cannot be parsed
  kShapeMismatch = 4,    // a tensor whose dtype/shape contradicts the config
  kUnsupported = 5,      // a valid input we do not handle (yet)
  kIo = 6,               // an OS-level read/write failure
  kInternal = 7,         // a bug in libmome
};

const char* ErrorCodeName(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

namespace detail {
// Builds a message from stream-able parts: Concat("tensor ", name, " has shape ", shape).
template <typename... Parts>
std::string Concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

// Throws mome::Error(code, message parts...) unless cond holds.
#define MOME_CHECK(cond, code, ...)                                                \
  do {                                                                             \
    if (!(cond)) throw ::mome::Error((code), ::mome::detail::Concat(__VA_ARGS__)); \
  } while (0)

#define MOME_FAIL(code, ...) throw ::mome::Error((code), ::mome::detail::Concat(__VA_ARGS__))

}  // namespace mome
