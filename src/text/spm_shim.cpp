// libmome_spm.so: the C functions of spm_shim.h over sentencepiece::SentencePieceProcessor.
// Built as its own shared library; never linked into libmome (see spm_shim.h for why).
#include "text/spm_shim.h"

#include <sentencepiece_processor.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

struct MomeSpm {
  sentencepiece::SentencePieceProcessor processor;
};

namespace {

void WriteError(const std::string& message, char* error, size_t error_size) {
  if (error == nullptr || error_size == 0) return;
  const size_t n = message.size() < error_size - 1 ? message.size() : error_size - 1;
  std::memcpy(error, message.data(), n);
  error[n] = '\0';
}

// Copies bytes into a malloc'd buffer (NUL-terminated for convenience).
long CopyOut(const void* data, size_t bytes, size_t count, void** out, char* error, size_t error_size) {
  *out = std::malloc(bytes + 1);
  if (*out == nullptr) {
    WriteError("out of memory", error, error_size);
    return -1;
  }
  if (bytes > 0) std::memcpy(*out, data, bytes);
  static_cast<char*>(*out)[bytes] = '\0';
  return static_cast<long>(count);
}

// Runs f, turning any C++ exception into an error message: nothing may unwind through C.
template <typename F>
long Guard(F f, char* error, size_t error_size) {
  try {
    return f();
  } catch (const std::exception& e) {
    WriteError(e.what(), error, error_size);
  } catch (...) {
    WriteError("unknown exception in sentencepiece", error, error_size);
  }
  return -1;
}

bool ValidId(const MomeSpm* spm, int32_t id) {
  return id >= 0 && id < spm->processor.GetPieceSize();
}

}  // namespace

extern "C" {

int mome_spm_abi_version(void) {
  return MOME_SPM_ABI_VERSION;
}

MomeSpm* mome_spm_load(const char* model_path, char* error, size_t error_size) {
  try {
    auto spm = std::make_unique<MomeSpm>();
    const auto status = spm->processor.Load(model_path);
    if (!status.ok()) {
      WriteError(status.ToString(), error, error_size);
      return nullptr;
    }
    return spm.release();
  } catch (const std::exception& e) {
    WriteError(e.what(), error, error_size);
  } catch (...) {
    WriteError("unknown exception while loading", error, error_size);
  }
  return nullptr;
}

void mome_spm_free(MomeSpm* spm) {
  delete spm;
}

int32_t mome_spm_piece_size(const MomeSpm* spm) {
  return spm->processor.GetPieceSize();
}
int32_t mome_spm_bos_id(const MomeSpm* spm) {
  return spm->processor.bos_id();
}
int32_t mome_spm_eos_id(const MomeSpm* spm) {
  return spm->processor.eos_id();
}
int32_t mome_spm_unk_id(const MomeSpm* spm) {
  return spm->processor.unk_id();
}
int32_t mome_spm_pad_id(const MomeSpm* spm) {
  return spm->processor.pad_id();
}

int mome_spm_piece_flags(const MomeSpm* spm, int32_t id) {
  if (!ValidId(spm, id)) return 0;
  const auto& p = spm->processor;
  return (p.IsControl(id) ? MOME_SPM_CONTROL : 0) | (p.IsUnknown(id) ? MOME_SPM_UNKNOWN : 0) |
         (p.IsUnused(id) ? MOME_SPM_UNUSED : 0) | (p.IsByte(id) ? MOME_SPM_BYTE : 0);
}

int32_t mome_spm_piece_to_id(const MomeSpm* spm, const char* piece, size_t length) {
  return spm->processor.PieceToId(absl::string_view(piece, length));
}

long mome_spm_id_to_piece(const MomeSpm* spm, int32_t id, char** out, char* error, size_t error_size) {
  *out = nullptr;
  if (!ValidId(spm, id)) {
    WriteError("id " + std::to_string(id) + " is out of range", error, error_size);
    return -1;
  }
  return Guard(
      [&] {
        const std::string& piece = spm->processor.IdToPiece(id);
        return CopyOut(piece.data(), piece.size(), piece.size(), reinterpret_cast<void**>(out), error, error_size);
      },
      error, error_size);
}

long mome_spm_encode(const MomeSpm* spm, const char* text, size_t length, int32_t** out, char* error,
                     size_t error_size) {
  *out = nullptr;
  return Guard(
      [&]() -> long {
        std::vector<int> ids;
        const auto status = spm->processor.Encode(absl::string_view(text, length), &ids);
        if (!status.ok()) {
          WriteError(status.ToString(), error, error_size);
          return -1;
        }
        static_assert(sizeof(int) == sizeof(int32_t), "ids are passed as int32_t");
        return CopyOut(ids.data(), ids.size() * sizeof(int32_t), ids.size(), reinterpret_cast<void**>(out), error,
                       error_size);
      },
      error, error_size);
}

long mome_spm_decode(const MomeSpm* spm, const int32_t* ids, size_t count, char** out, char* error, size_t error_size) {
  *out = nullptr;
  return Guard(
      [&]() -> long {
        std::vector<int> id_list(ids, ids + count);
        for (int id : id_list) {
          if (!ValidId(spm, id)) {
            WriteError("id " + std::to_string(id) + " is out of range", error, error_size);
            return -1;
          }
        }
        std::string text;
        const auto status = spm->processor.Decode(id_list, &text);
        if (!status.ok()) {
          WriteError(status.ToString(), error, error_size);
          return -1;
        }
        return CopyOut(text.data(), text.size(), text.size(), reinterpret_cast<void**>(out), error, error_size);
      },
      error, error_size);
}

void mome_spm_free_buffer(void* buffer) {
  std::free(buffer);
}

}  // extern "C"
