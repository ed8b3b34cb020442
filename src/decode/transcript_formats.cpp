#include "mome/decode/transcript_formats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace mome::decode {
namespace {

// Greedy line filling: the words of one cue in at most `max_lines` lines of `max_chars`; false when they do not fit.
bool FitLines(const std::vector<std::string>& words, const CueRules& r, std::vector<std::string>* lines) {
  lines->clear();
  for (const auto& w : words) {
    if (!lines->empty() && lines->back().size() + 1 + w.size() <= r.max_line_chars) {
      lines->back() += " " + w;
      continue;
    }
    if (lines->size() == r.max_lines) return false;
    lines->push_back(w);
  }
  return true;
}

bool EndsSentence(const std::string& word) {
  return !word.empty() && (word.back() == '.' || word.back() == '?' || word.back() == '!');
}

}  // namespace

std::vector<SubtitleCue> MakeCues(const std::vector<WordTiming>& words, const CueRules& r) {
  std::vector<SubtitleCue> cues;
  std::vector<std::string> text;  // the words of the open cue
  SubtitleCue open;
  auto close = [&] {
    if (text.empty()) return;
    FitLines(text, r, &open.lines);
    cues.push_back(open);
    text.clear();
  };
  for (size_t i = 0; i < words.size(); ++i) {
    const WordTiming& w = words[i];
    if (!text.empty()) {
      std::vector<std::string> with = text, lines;
      with.push_back(w.word);
      const bool pause = w.start - open.end >= r.pause_seconds;
      const bool too_long = w.end - open.start > r.max_cue_seconds;
      if (pause || too_long || !FitLines(with, r, &lines) || EndsSentence(text.back())) close();
    }
    if (text.empty()) open = SubtitleCue{w.start, w.end, {}};
    text.push_back(w.word);
    open.end = std::max(open.end, w.end);
  }
  close();
  return cues;
}

std::string SubtitleTime(double seconds, char decimal_separator) {
  const auto ms = static_cast<long long>(std::llround(std::max(0.0, seconds) * 1000.0));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld%c%03lld", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60,
                decimal_separator, ms % 1000);
  return buf;
}

std::string ToSrt(const std::vector<SubtitleCue>& cues) {
  std::ostringstream out;
  for (size_t i = 0; i < cues.size(); ++i) {
    out << i + 1 << "\n" << SubtitleTime(cues[i].start, ',') << " --> " << SubtitleTime(cues[i].end, ',') << "\n";
    for (const auto& line : cues[i].lines) out << line << "\n";
    out << "\n";
  }
  return out.str();
}

std::string ToVtt(const std::vector<SubtitleCue>& cues) {
  std::ostringstream out;
  out << "WEBVTT\n\n";
  for (const auto& cue : cues) {
    out << SubtitleTime(cue.start, '.') << " --> " << SubtitleTime(cue.end, '.') << "\n";
    for (const auto& line : cue.lines) out << line << "\n";
    out << "\n";
  }
  return out.str();
}

std::string ToCtm(const std::string& key, const std::vector<WordTiming>& words) {
  std::ostringstream out;
  char buf[96];
  for (const auto& w : words) {
    std::snprintf(buf, sizeof buf, " 1 %.3f %.3f ", w.start, std::max(0.0, w.end - w.start));
    out << key << buf << w.word;
    std::snprintf(buf, sizeof buf, " %.3f\n", w.confidence);
    out << buf;
  }
  return out.str();
}

std::string ToTrn(const std::string& key, const std::string& text) {
  return text + " (" + key + ")\n";
}

}  // namespace mome::decode
