#include "mome/io/wav.h"

#include <torch/torch.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "mome/core/error.h"

namespace mome::io {
namespace {

uint32_t U32(const unsigned char* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24); }
uint16_t U16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

}  // namespace

WavAudio ReadWav(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MOME_CHECK(in, ErrorCode::kNotFound, path, ": cannot open WAV file");
  std::vector<unsigned char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  MOME_CHECK(!data.empty(), ErrorCode::kCorruptFile, path, ": empty file (0 bytes), not a WAV file");
  MOME_CHECK(data.size() >= 12 && std::memcmp(data.data(), "RIFF", 4) == 0 && std::memcmp(data.data() + 8, "WAVE", 4) == 0,
             ErrorCode::kCorruptFile, path, ": not a RIFF/WAVE file");
  size_t pos = 12;
  bool have_fmt = false;
  uint16_t format = 0, channels = 0, bits = 0, block_align = 0;
  uint32_t rate = 0;
  const unsigned char* pcm = nullptr;
  size_t pcm_bytes = 0;
  while (pos + 8 <= data.size()) {
    const unsigned char* chunk = data.data() + pos;
    const uint32_t size = U32(chunk + 4);
    const size_t body = pos + 8;
    if (std::memcmp(chunk, "fmt ", 4) == 0) {
      MOME_CHECK(size >= 16 && body + size <= data.size(), ErrorCode::kCorruptFile, path, ": truncated WAV fmt chunk");
      const unsigned char* f = data.data() + body;
      format = U16(f);
      channels = U16(f + 2);
      rate = U32(f + 4);
      block_align = U16(f + 12);
      bits = U16(f + 14);
      if (format == 0xFFFE) {
        MOME_CHECK(size >= 40, ErrorCode::kCorruptFile, path, ": truncated WAVE_FORMAT_EXTENSIBLE fmt chunk");
        format = U16(f + 24);  // first two bytes of the sub-format GUID
      }
      have_fmt = true;
    } else if (std::memcmp(chunk, "data", 4) == 0) {
      MOME_CHECK(have_fmt, ErrorCode::kCorruptFile, path, ": WAV data chunk before fmt chunk");
      pcm = data.data() + body;
      pcm_bytes = std::min<size_t>(size, data.size() - body);
      MOME_CHECK(pcm_bytes == size || size == 0xFFFFFFFFu, ErrorCode::kCorruptFile, path, ": truncated WAV data (",
                 data.size() - body, " of ", size, " bytes)");
      break;
    }
    pos = body + size + (size & 1);
  }
  MOME_CHECK(have_fmt, ErrorCode::kCorruptFile, path, ": WAV file has no fmt chunk");
  MOME_CHECK(pcm != nullptr, ErrorCode::kCorruptFile, path, ": WAV file has no data chunk");
  MOME_CHECK(channels > 0 && rate > 0, ErrorCode::kCorruptFile, path, ": WAV fmt has ", channels, " channels at ", rate,
             " Hz");
  const bool is_int = format == 1 && (bits == 16 || bits == 24 || bits == 32);
  const bool is_float = format == 3 && bits == 32;
  MOME_CHECK(is_int || is_float, ErrorCode::kUnsupported, path, ": unsupported WAV encoding (format ", format, ", ",
             bits, " bits); supported: PCM 16/24/32-bit integer, 32-bit float");
  const size_t bytes = bits / 8;
  MOME_CHECK(block_align == bytes * channels, ErrorCode::kCorruptFile, path, ": WAV block align ", block_align,
             " does not match ", channels, " channels of ", bits, " bits");
  const int64_t frames = static_cast<int64_t>(pcm_bytes / block_align);
  auto out = torch::zeros({frames}, torch::kFloat);
  float* dst = out.data_ptr<float>();
  const float scale = 1.0f / static_cast<float>(channels);
  for (int64_t i = 0; i < frames; ++i) {
    double sum = 0.0;
    for (uint16_t c = 0; c < channels; ++c) {
      const unsigned char* s = pcm + (static_cast<size_t>(i) * channels + c) * bytes;
      double v;
      if (is_float) {
        float x;
        std::memcpy(&x, s, 4);
        v = x;
      } else if (bits == 16) {
        v = static_cast<int16_t>(U16(s)) / 32768.0;
      } else if (bits == 24) {
        int32_t x = s[0] | (s[1] << 8) | (s[2] << 16);
        if (x & 0x800000) x -= 0x1000000;
        v = x / 8388608.0;
      } else {
        v = static_cast<int32_t>(U32(s)) / 2147483648.0;
      }
      sum += v;
    }
    dst[i] = channels == 1 ? static_cast<float>(sum) : static_cast<float>(sum) * scale;
  }
  return {out, static_cast<int64_t>(rate), static_cast<int64_t>(channels)};
}

at::Tensor ReadWavMono(const std::string& path, int64_t sample_rate) {
  auto wav = ReadWav(path);
  MOME_CHECK(wav.sample_rate == sample_rate, ErrorCode::kUnsupported, path, ": WAV sample rate is ", wav.sample_rate,
             " Hz; ", sample_rate, " Hz is needed and resampling requires a build with FFmpeg (MOME_WITH_MEDIA=ON)");
  return wav.samples;
}

}  // namespace mome::io
