#include "mome/model/prompt.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "mome/core/error.h"

namespace mome::model {
namespace {

constexpr int64_t kIgnore = -100;

struct Row {
  std::vector<at::Tensor> pieces;  // embeddings in order
  std::vector<int64_t> targets;    // per position: the label (next token) or kIgnore
  int64_t length = 0;
  int64_t first_output = 0;   // index of the first transcript token (== length without transcript)
  std::vector<int8_t> roles;  // TokenRole per position
};

}  // namespace

const char* TokenRoleName(TokenRole role) {
  switch (role) {
    case TokenRole::kPad: return "pad";
    case TokenRole::kBos: return "bos";
    case TokenRole::kDelimiter: return "delimiter";
    case TokenRole::kAudio: return "audio";
    case TokenRole::kVideo: return "video";
    case TokenRole::kPrompt: return "prompt";
    case TokenRole::kText: return "text";
    case TokenRole::kEos: return "eos";
  }
  return "?";
}

namespace {

// One row's pieces in the order of SPEC.md §1: BOS, <audio> A </audio>, <video> V </video>, instruction, and with a
// transcript, the transcript and EOS; labels on the positions that predict the transcript and EOS.
Row BuildRow(const PromptPieces& p, size_t r, const PromptTokenIds& ids,
             const std::function<at::Tensor(const std::vector<int64_t>&)>& embed, bool with_transcript, int64_t* dim) {
  MOME_CHECK(p.audio.defined() || p.video.defined(), ErrorCode::kInvalidArgument, "prompt ", r,
             " has neither audio nor video tokens");
  Row row;
  std::vector<int64_t> token_ids;  // the ids of every position (-1 for modality features)
  auto text = [&](const std::vector<int64_t>& t, TokenRole role) {
    if (t.empty()) return;
    row.pieces.push_back(embed(t));
    token_ids.insert(token_ids.end(), t.begin(), t.end());
    row.roles.insert(row.roles.end(), t.size(), static_cast<int8_t>(role));
  };
  auto features = [&](const at::Tensor& f, int64_t start, int64_t end, const char* what, TokenRole role) {
    if (!f.defined()) return;
    MOME_CHECK(f.dim() == 2 && (*dim < 0 || f.size(1) == *dim), ErrorCode::kShapeMismatch, "prompt ", r, ": ", what,
               " tokens must be [n, ", *dim, "], got ", f.sizes());
    text({start}, TokenRole::kDelimiter);
    row.pieces.push_back(f);
    token_ids.insert(token_ids.end(), f.size(0), -1);
    row.roles.insert(row.roles.end(), f.size(0), static_cast<int8_t>(role));
    text({end}, TokenRole::kDelimiter);
  };
  text({ids.bos}, TokenRole::kBos);
  *dim = row.pieces[0].size(1);
  features(p.audio, ids.audio_start, ids.audio_end, "audio", TokenRole::kAudio);
  features(p.video, ids.video_start, ids.video_end, "video", TokenRole::kVideo);
  text(p.instruction_ids, TokenRole::kPrompt);
  row.first_output = static_cast<int64_t>(token_ids.size());
  if (with_transcript) {
    text(p.transcript_ids, TokenRole::kText);
    text({ids.eos}, TokenRole::kEos);
  }
  row.length = static_cast<int64_t>(token_ids.size());
  row.targets.assign(row.length, kIgnore);
  // Position t predicts token t+1: label it when t+1 is transcript or EOS.
  for (int64_t t = row.first_output - 1; with_transcript && t + 1 < row.length; ++t) row.targets[t] = token_ids[t + 1];
  return row;
}

// The rows padded to one width (left or right), then the masks and indices moved to the embeddings' device.
PromptBatch PadRows(const std::vector<Row>& built, int64_t dim, const at::TensorOptions& options, PaddingSide side) {
  int64_t width = 0;
  for (const auto& row : built) width = std::max(width, row.length);
  const int64_t b = static_cast<int64_t>(built.size());
  const auto cpu_long = at::TensorOptions().dtype(at::kLong);
  PromptBatch out;
  out.embeds = at::zeros({b, width, dim}, options);
  at::Tensor valid = at::zeros({b, width}, cpu_long.dtype(at::kBool));
  at::Tensor labels = at::full({b, width}, kIgnore, cpu_long);
  at::Tensor positions = at::zeros({b, width}, cpu_long);
  at::Tensor bos = at::zeros({b}, cpu_long);
  at::Tensor counted = at::zeros({b, width}, cpu_long.dtype(at::kBool));
  out.roles = at::zeros({b, width}, cpu_long.dtype(at::kChar));
  std::vector<int64_t> labelled;
  for (int64_t i = 0; i < b; ++i) {
    const Row& row = built[i];
    const int64_t offset = side == PaddingSide::kLeft ? width - row.length : 0;
    for (int64_t t = 0; t < row.length; ++t)
      if (row.targets[t] != kIgnore) labelled.push_back(i * width + offset + t);
    out.embeds[i].narrow(0, offset, row.length).copy_(at::cat(row.pieces, 0));
    valid[i].narrow(0, offset, row.length).fill_(true);
    labels[i].narrow(0, offset, row.length).copy_(at::tensor(row.targets, cpu_long));
    positions[i].narrow(0, offset, row.length).copy_(at::arange(row.length, cpu_long));
    bos[i] = offset;
    out.roles[i]
        .narrow(0, offset, row.length)
        .copy_(at::tensor(std::vector<int64_t>(row.roles.begin(), row.roles.end()), cpu_long));
    if (row.first_output > 1) counted[i].narrow(0, offset + 1, row.first_output - 1).fill_(true);
  }
  // Non-blocking: a blocking copy waits for all queued GPU work, which would stall training between rate pairs.
  // (From pageable memory the copy has taken the host data when it returns, so the temporaries may go.)
  const auto device = out.embeds.device();
  auto to_device = [&](const at::Tensor& t) { return t.to(device, t.scalar_type(), /*non_blocking=*/true); };
  out.valid = to_device(valid);
  out.labels = to_device(labels);
  out.positions = to_device(positions);
  out.bos_index = to_device(bos);
  out.counted = to_device(counted);
  out.labelled = to_device(at::tensor(labelled, cpu_long));
  return out;
}

}  // namespace

PromptBatch AssemblePrompts(const std::vector<PromptPieces>& rows, const PromptTokenIds& ids,
                            const std::function<at::Tensor(const std::vector<int64_t>&)>& embed, PaddingSide side,
                            bool with_transcript) {
  MOME_CHECK(!rows.empty(), ErrorCode::kInvalidArgument, "no prompts to assemble");
  std::vector<Row> built;
  int64_t dim = -1;
  for (size_t r = 0; r < rows.size(); ++r) built.push_back(BuildRow(rows[r], r, ids, embed, with_transcript, &dim));
  return PadRows(built, dim, built[0].pieces[0].options(), side);
}

}  // namespace mome::model
