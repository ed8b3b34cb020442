/* C interface of libmome_spm.so, the only binary that links libsentencepiece.
 *
 * Why a separate library: Debian's libsentencepiece carries its own protobuf, which crashes the
 * process when it meets LibTorch's protobuf (PLATFORM.md, trap 1). libmome loads this library with
 * dlopen(RTLD_LOCAL | RTLD_DEEPBIND) so sentencepiece's symbols stay private to it. Hence plain C
 * types only: no protobuf or sentencepiece type may cross this boundary, and no exception either.
 *
 * Buffers returned through out-parameters are malloc'd; release them with mome_spm_free_buffer.
 * Functions that can fail write a one-line message into (error, error_size).
 */
#ifndef MOME_TEXT_SPM_SHIM_H_
#define MOME_TEXT_SPM_SHIM_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a signature below changes; libmome refuses a shim of another version. */
#define MOME_SPM_ABI_VERSION 1

typedef struct MomeSpm MomeSpm;

/* Bits of mome_spm_piece_flags. */
#define MOME_SPM_CONTROL 1 /* <s>, </s>, <pad>: decode to nothing */
#define MOME_SPM_UNKNOWN 2
#define MOME_SPM_UNUSED 4
#define MOME_SPM_BYTE 8

int mome_spm_abi_version(void);

/* NULL on failure. */
MomeSpm* mome_spm_load(const char* model_path, char* error, size_t error_size);
void mome_spm_free(MomeSpm* spm);

int32_t mome_spm_piece_size(const MomeSpm* spm);
/* -1 when the model has no such piece. */
int32_t mome_spm_bos_id(const MomeSpm* spm);
int32_t mome_spm_eos_id(const MomeSpm* spm);
int32_t mome_spm_unk_id(const MomeSpm* spm);
int32_t mome_spm_pad_id(const MomeSpm* spm);
/* MOME_SPM_* bits of one id in [0, piece_size). */
int mome_spm_piece_flags(const MomeSpm* spm, int32_t id);
/* The unk id for unknown pieces, as sentencepiece's PieceToId. */
int32_t mome_spm_piece_to_id(const MomeSpm* spm, const char* piece, size_t length);

/* Each returns the length of *out (ids or bytes), or -1 on failure (then *out is NULL). */
long mome_spm_id_to_piece(const MomeSpm* spm, int32_t id, char** out, char* error, size_t error_size);
long mome_spm_encode(const MomeSpm* spm, const char* text, size_t length, int32_t** out, char* error,
                     size_t error_size);
long mome_spm_decode(const MomeSpm* spm, const int32_t* ids, size_t count, char** out, char* error, size_t error_size);

void mome_spm_free_buffer(void* buffer);

#ifdef __cplusplus
}
#endif

#endif /* MOME_TEXT_SPM_SHIM_H_ */
