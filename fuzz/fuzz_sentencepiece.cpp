// A SentencePiece tokenizer.model through libmome's shim (the C interface SpmTokenizer calls), then encoding the text
// after "\n--text--\n", decoding the ids back and decoding ids the model may not have. This process links the shim and
// libsentencepiece only, no LibTorch: the sanitizers refuse the RTLD_DEEPBIND load that keeps sentencepiece's
// protobuf apart from LibTorch's in libmome (PLATFORM.md trap 1), so the whole-library path cannot be fuzzed here.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fuzz_harness.h"
#include "text/spm_shim.h"

namespace {

void Exercise(const MomeSpm* spm, const std::string& text) {
  char error[256];
  int32_t* ids = nullptr;
  const long n = mome_spm_encode(spm, text.data(), text.size(), &ids, error, sizeof(error));
  const int32_t size = mome_spm_piece_size(spm);
  std::vector<int32_t> to_decode(ids, ids + (n > 0 ? n : 0));
  mome_spm_free_buffer(ids);
  for (int32_t id : {-1, 0, size - 1, size, INT32_MAX}) to_decode.push_back(id);
  char* decoded = nullptr;
  (void)mome_spm_decode(spm, to_decode.data(), to_decode.size(), &decoded, error, sizeof(error));
  mome_spm_free_buffer(decoded);
  for (int32_t id = 0; id < size && id < 64; ++id) {
    (void)mome_spm_piece_flags(spm, id);
    char* piece = nullptr;
    if (mome_spm_id_to_piece(spm, id, &piece, error, sizeof(error)) >= 0)
      (void)mome_spm_piece_to_id(spm, piece, std::strlen(piece));
    mome_spm_free_buffer(piece);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = mome::fuzz::SplitInput(data, size, "\n--text--\n");
  const std::string path = mome::fuzz::WriteScratchFile(
      "tokenizer.model", reinterpret_cast<const uint8_t*>(parts.first.data()), parts.first.size());
  char error[256];
  MomeSpm* spm = mome_spm_load(path.c_str(), error, sizeof(error));
  if (spm == nullptr) return 0;  // refused, with a message: the shim's answer to a bad model
  Exercise(spm, parts.second);
  mome_spm_free(spm);
  return 0;
}
