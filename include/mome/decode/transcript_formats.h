// Transcripts as files people use: subtitles (SRT, WebVTT), sclite's CTM and TRN, plain text. Subtitle cues follow
// the usual conventions: at most 2 lines of at most 42 characters, at most 7 s a cue, a new cue at a pause
// (>= 0.5 s between words) or a sentence end; times SRT HH:MM:SS,mmm, WebVTT HH:MM:SS.mmm.
#pragma once

#include <string>
#include <vector>

#include "mome/decode/word_timing.h"

namespace mome::decode {

struct SubtitleCue {
  double start = 0, end = 0;
  std::vector<std::string> lines;  // 1 or 2 lines of at most 42 characters (a longer single word stays whole)
};

struct CueRules {
  size_t max_line_chars = 42;
  size_t max_lines = 2;
  double max_cue_seconds = 7.0;
  double pause_seconds = 0.5;
};

std::vector<SubtitleCue> MakeCues(const std::vector<WordTiming>& words, const CueRules& rules = {});

// "01:02:03,456" (SRT) or "01:02:03.456" (WebVTT).
std::string SubtitleTime(double seconds, char decimal_separator);

std::string ToSrt(const std::vector<SubtitleCue>& cues);
std::string ToVtt(const std::vector<SubtitleCue>& cues);
// CTM as sclite reads it: "KEY 1 START DURATION WORD CONFIDENCE" per word, times in seconds with 3 decimals.
std::string ToCtm(const std::string& key, const std::vector<WordTiming>& words);
// TRN: "TEXT (KEY)".
std::string ToTrn(const std::string& key, const std::string& text);

}  // namespace mome::decode
