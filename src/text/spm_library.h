// Finds and loads libmome_spm.so at run time (see spm_shim.h for why it is not linked).
#pragma once

#include "text/spm_shim.h"

namespace mome::text {

// The shim's functions, resolved once per process.
struct SpmApi {
  decltype(&mome_spm_load) load;
  decltype(&mome_spm_free) free;
  decltype(&mome_spm_piece_size) piece_size;
  decltype(&mome_spm_bos_id) bos_id;
  decltype(&mome_spm_eos_id) eos_id;
  decltype(&mome_spm_unk_id) unk_id;
  decltype(&mome_spm_pad_id) pad_id;
  decltype(&mome_spm_piece_flags) piece_flags;
  decltype(&mome_spm_piece_to_id) piece_to_id;
  decltype(&mome_spm_id_to_piece) id_to_piece;
  decltype(&mome_spm_encode) encode;
  decltype(&mome_spm_decode) decode;
  decltype(&mome_spm_free_buffer) free_buffer;
};

// Loads the shim on first use: $MOME_SPM_SHIM if set, else libmome_spm.so beside the loaded
// libmome, else dlopen's own search for "libmome_spm.so". Throws mome::Error(kNotFound) listing
// every path tried and why each failed. The library stays loaded for the life of the process.
const SpmApi& GetSpmApi();

}  // namespace mome::text
