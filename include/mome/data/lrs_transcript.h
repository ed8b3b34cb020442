// LRS2/LRS3 transcripts (SPEC.md §5): a `.txt` beside each clip,
//   Text:  WORDS IN UPPER CASE
//   Conf:  N
//   <blank>
//   WORD START END ASDSCORE
//   WORD 0.12 0.40 3.1
//   ...
// (LRS2 main clips stop after Conf). Long pretrain clips are cut into segments of at most 16 s at word boundaries.
#pragma once

#include <string>
#include <vector>

namespace mome::data {

struct TimedWord {
  std::string word;
  double start = 0, end = 0;  // seconds from the start of the clip
};

struct LrsTranscript {
  std::string text;               // the Text: line's words, single-spaced, as written (upper case)
  double confidence = 0;          // Conf:, 0 when absent
  std::vector<TimedWord> words;   // the word table, empty when absent
};

// Throws mome::Error naming the file (and line) for a missing file, no/empty Text: line, or a malformed table row.
LrsTranscript ParseLrsTranscript(const std::string& path);
LrsTranscript ParseLrsTranscriptText(const std::string& contents, const std::string& origin);

struct Segment {
  double start = 0, end = 0;
  std::string text;
};

// Greedy cut at word boundaries: a segment grows while its span (first word's start to last word's end) stays
// within max_seconds; a single word longer than that is a segment of its own. Needs the word table.
std::vector<Segment> SegmentByWords(const LrsTranscript& transcript, double max_seconds = 16.0);

}  // namespace mome::data
