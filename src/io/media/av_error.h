// FFmpeg's error codes as text, for the one-line errors of the media reader and writer.
#pragma once

extern "C" {
#include <libavutil/error.h>
}

#include <string>

namespace mome::io {

inline std::string AvError(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(code, buf, sizeof(buf));
  return buf;
}

}  // namespace mome::io
