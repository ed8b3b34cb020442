// The AVSR prompt (SPEC.md §1):
//   <|begin_of_text|> <audio> A1..An </audio> <video> V1..Vm </video> instruction [transcript <|end_of_text|>]
// Modality blocks are absent when the modality is (ASR: audio only, VSR: video only). Labels cover the
// transcript and EOS only.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

namespace mome::model {

struct PromptPieces {
  at::Tensor audio;                      // [n_a, d] projected audio tokens, or undefined
  at::Tensor video;                      // [n_v, d] projected video tokens, or undefined
  std::vector<int64_t> instruction_ids;  // tokenised without BOS/EOS
  std::vector<int64_t> transcript_ids;   // training only; empty at inference
};

struct PromptTokenIds {
  int64_t bos = 0, eos = 0, audio_start = 0, audio_end = 0, video_start = 0, video_end = 0;
};

// What each prompt position is (the sink analysis reports per role).
enum class TokenRole : int8_t { kPad = 0, kBos, kDelimiter, kAudio, kVideo, kPrompt, kText, kEos };
const char* TokenRoleName(TokenRole role);

struct PromptBatch {
  at::Tensor embeds;     // [B, S, d]
  at::Tensor valid;      // [B, S] bool: real tokens
  at::Tensor positions;  // [B, S] position ids (0 at each row's BOS)
  at::Tensor labels;     // [B, S] target of position t (the next token) or -100; aligned with the logits
  at::Tensor bos_index;  // [B] where BOS sits
  at::Tensor counted;    // [B, S] non-output tokens after BOS (what the decorrelation loss looks at)
  at::Tensor labelled;   // [N] flat positions (row * S + t) whose label is a token, in order (training)
  at::Tensor roles;      // [B, S] int8 TokenRole, on the CPU
};

enum class PaddingSide { kLeft, kRight };  // left for generation, right (or left) for training

// `embed` maps token ids [n] to embeddings [n, d] (frozen LLM table plus trainable special tokens).
PromptBatch AssemblePrompts(const std::vector<PromptPieces>& rows, const PromptTokenIds& ids,
                            const std::function<at::Tensor(const std::vector<int64_t>&)>& embed, PaddingSide side,
                            bool with_transcript);

}  // namespace mome::model
