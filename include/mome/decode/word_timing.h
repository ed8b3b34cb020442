// Word timestamps and confidence from the trained model itself. After decoding, one teacher-forced forward over
// prompt + hypothesis records the attention of every generated token (at the position that predicted it) to the
// audio and video token positions of the prompt. On the checkpoint's alignment heads (chosen on held-out clips
// with known word times: mome_align --select-heads, stored as alignment_heads.json) that attention is put on a
// 20 ms time grid — an audio token at rate K covers K x 20 ms, a video token at rate K covers K x 40 ms —
// normalised per time column, median-filtered along time, averaged over heads, and a monotonic DTW path through it
// gives each token its span; a word spans its tokens. Confidence: the geometric mean of the word's token
// probabilities, exp(mean log p), in [0, 1].
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "mome/text/tokenizer.h"

namespace mome::decode {

constexpr double kTimeGridSeconds = 0.02;  // Whisper's encoder frame: audio rate K = K x 20 ms

struct AlignmentHead {
  int64_t layer = 0, head = 0;  // 0-based
};

struct AlignmentConfig {
  std::vector<AlignmentHead> heads;
  int64_t median_width = 7;  // frames of the median filter along time (odd)
  // What the heads were chosen on (for the file and the README): median start error of the chosen heads, clips.
  double selection_median_error = -1;
  int64_t selection_clips = 0;
};

// DIR/alignment_heads.json. Load: std::nullopt-like empty heads when the file is absent; malformed: kCorruptFile.
constexpr const char* kAlignmentFile = "alignment_heads.json";
AlignmentConfig LoadAlignmentConfig(const std::string& model_dir);
bool HasAlignmentConfig(const std::string& model_dir);
void SaveAlignmentConfig(const std::string& model_dir, const AlignmentConfig& config);

struct WordTiming {
  std::string word;
  double start = 0, end = 0;  // seconds from the start of the clip
  double confidence = 0;      // exp(mean token log-probability), in [0, 1]
};

// Where the modality tokens of one prompt row sit and what time each covers.
struct PromptTimeline {
  std::vector<int64_t> positions;    // key positions of audio/video tokens in the sequence
  std::vector<double> starts, ends;  // seconds covered by each of them
  double duration = 0;               // the clip's length in seconds
};

// The monotonic path through `cost` [N, M] (N <= M not required) from (0, 0) to (N-1, M-1) with steps right, down
// and diagonal, minimising the summed cost; per row the first and one-past-last column the path visits.
std::vector<std::pair<int64_t, int64_t>> DtwRowSpans(const at::Tensor& cost);

// attention [heads, N, S] (query rows = the positions that predicted each token, float32) -> the time-grid matrix
// [heads, N, F] with F = ceil(duration / kTimeGridSeconds): each token's attention spread over the frames it covers.
at::Tensor AttentionOnTimeGrid(const at::Tensor& attention, const PromptTimeline& timeline);

// Token spans (seconds) from the time-grid attention of the chosen heads [H, N, F]: column-normalised, median
// filtered, averaged, DTW.
std::vector<std::pair<double, double>> TokenSpans(const at::Tensor& grid, int64_t median_width);

// Groups tokens into the words of `Decode(ids)` (a token belongs to the word of the first non-space character it
// adds) with their spans and confidences. Tokens that add no visible character (specials) belong to no word.
std::vector<WordTiming> GroupWords(const text::Tokenizer& tokenizer, const std::vector<int64_t>& ids,
                                   const std::vector<float>& logprobs,
                                   const std::vector<std::pair<double, double>>& token_spans);

}  // namespace mome::decode
