#include "text/spm_library.h"

#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include "mome/core/error.h"

namespace mome::text {
namespace {

constexpr const char* kShimName = "libmome_spm.so";

// Any object of libmome: dladdr on it names the file libmome was loaded from.
const char kAnchor = 0;

std::string DirectoryOfThisLibrary() {
  Dl_info info{};
  if (dladdr(&kAnchor, &info) == 0 || info.dli_fname == nullptr) return "";
  const std::string path = info.dli_fname;
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

template <typename F>
bool Resolve(void* handle, const char* name, F* out) {
  *out = reinterpret_cast<F>(dlsym(handle, name));
  return *out != nullptr;
}

// Resolves every function, or says which one is missing.
std::string ResolveAll(void* handle, SpmApi* api) {
  using AbiVersion = decltype(&mome_spm_abi_version);
  AbiVersion abi_version = nullptr;
  if (!Resolve(handle, "mome_spm_abi_version", &abi_version)) return "it has no mome_spm_abi_version";
  if (abi_version() != MOME_SPM_ABI_VERSION) {
    return "its ABI version is " + std::to_string(abi_version()) + ", expected " + std::to_string(MOME_SPM_ABI_VERSION);
  }
#define MOME_RESOLVE(field, symbol) \
  if (!Resolve(handle, #symbol, &api->field)) return "it has no " #symbol;
  MOME_RESOLVE(load, mome_spm_load)
  MOME_RESOLVE(free, mome_spm_free)
  MOME_RESOLVE(piece_size, mome_spm_piece_size)
  MOME_RESOLVE(bos_id, mome_spm_bos_id)
  MOME_RESOLVE(eos_id, mome_spm_eos_id)
  MOME_RESOLVE(unk_id, mome_spm_unk_id)
  MOME_RESOLVE(pad_id, mome_spm_pad_id)
  MOME_RESOLVE(piece_flags, mome_spm_piece_flags)
  MOME_RESOLVE(piece_to_id, mome_spm_piece_to_id)
  MOME_RESOLVE(id_to_piece, mome_spm_id_to_piece)
  MOME_RESOLVE(encode, mome_spm_encode)
  MOME_RESOLVE(decode, mome_spm_decode)
  MOME_RESOLVE(free_buffer, mome_spm_free_buffer)
#undef MOME_RESOLVE
  return "";
}

struct LoadResult {
  SpmApi api{};
  std::string error;  // empty on success
};

#ifdef MOME_SANITIZED
// The sanitizers' runtimes refuse RTLD_DEEPBIND (their interceptors must win every lookup): sanitized builds bind
// the shim's symbols the ordinary way, which holds as long as sentencepiece's protobuf is reached only through it.
constexpr int kOpenFlags = RTLD_NOW | RTLD_LOCAL;
#else
constexpr int kOpenFlags = RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND;
#endif

LoadResult Load() {
  LoadResult result;
  std::string tried;
  const auto attempt = [&](const std::string& path) {
    // RTLD_LOCAL keeps sentencepiece's (and its protobuf's) symbols out of the global scope;
    // RTLD_DEEPBIND makes the shim and its dependencies prefer their own symbols over LibTorch's.
    void* handle = dlopen(path.c_str(), kOpenFlags);
    std::string why;
    if (handle == nullptr) {
      const char* message = dlerror();
      why = message ? message : "dlopen failed";
    } else {
      why = ResolveAll(handle, &result.api);
      if (why.empty()) return true;
      dlclose(handle);
    }
    tried += (tried.empty() ? "" : "; ") + path + " (" + why + ")";
    return false;
  };
  if (const char* env = std::getenv("MOME_SPM_SHIM"); env != nullptr && *env != '\0') {
    if (attempt(env)) return result;  // an explicit choice: do not fall back to other copies
  } else {
    const std::string beside = DirectoryOfThisLibrary();
    if (!beside.empty() && attempt(beside + kShimName)) return result;
    if (attempt(kShimName)) return result;
  }
  result.error = "cannot load the SentencePiece shim (set MOME_SPM_SHIM to its path); tried: " + tried;
  return result;
}

}  // namespace

const SpmApi& GetSpmApi() {
  static const LoadResult loaded = Load();  // thread-safe, once per process
  MOME_CHECK(loaded.error.empty(), ErrorCode::kNotFound, loaded.error);
  return loaded.api;
}

}  // namespace mome::text
