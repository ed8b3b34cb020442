#include "mome/data/lrs_transcript.h"

#include <fstream>
#include <sstream>

#include "mome/core/error.h"

namespace mome::data {
namespace {

std::string Trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

std::string SingleSpaced(const std::string& s) {
  std::istringstream in(s);
  std::string word, out;
  while (in >> word) out += (out.empty() ? "" : " ") + word;
  return out;
}

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

LrsTranscript ParseLrsTranscriptText(const std::string& contents, const std::string& origin) {
  std::istringstream in(contents);
  std::string line;
  LrsTranscript t;
  bool have_text = false, in_table = false;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    const std::string trimmed = Trim(line);
    if (!have_text) {
      if (trimmed.empty()) continue;
      MOME_CHECK(StartsWith(trimmed, "Text:"), ErrorCode::kCorruptFile, origin, ":", number,
                 ": expected 'Text:' as the first line, got '", trimmed.substr(0, 40), "'");
      t.text = SingleSpaced(trimmed.substr(5));
      MOME_CHECK(!t.text.empty(), ErrorCode::kCorruptFile, origin, ":", number, ": empty transcript");
      have_text = true;
      continue;
    }
    if (StartsWith(trimmed, "Conf:")) {
      try {
        t.confidence = std::stod(trimmed.substr(5));
      } catch (const std::exception&) {
        MOME_FAIL(ErrorCode::kCorruptFile, origin, ":", number, ": Conf: is not a number");
      }
      continue;
    }
    if (StartsWith(trimmed, "WORD")) {  // the table header: WORD START END [ASDSCORE]
      in_table = true;
      continue;
    }
    if (trimmed.empty() || !in_table) continue;
    std::istringstream row(trimmed);
    TimedWord w;
    MOME_CHECK(static_cast<bool>(row >> w.word >> w.start >> w.end), ErrorCode::kCorruptFile, origin, ":", number,
               ": word row must be 'WORD START END [SCORE]', got '", trimmed, "'");
    MOME_CHECK(w.end >= w.start && w.start >= 0, ErrorCode::kCorruptFile, origin, ":", number, ": word '", w.word,
               "' ends (", w.end, ") before it starts (", w.start, ")");
    t.words.push_back(w);
  }
  MOME_CHECK(have_text, ErrorCode::kCorruptFile, origin, ": no 'Text:' line (empty transcript file?)");
  return t;
}

LrsTranscript ParseLrsTranscript(const std::string& path) {
  std::ifstream in(path);
  MOME_CHECK(in.good(), ErrorCode::kNotFound, path, ": cannot open transcript");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseLrsTranscriptText(buffer.str(), path);
}

std::vector<Segment> SegmentByWords(const LrsTranscript& transcript, double max_seconds) {
  MOME_CHECK(max_seconds > 0, ErrorCode::kInvalidArgument, "segment length must be positive");
  MOME_CHECK(!transcript.words.empty(), ErrorCode::kInvalidArgument,
             "cannot segment a transcript without word timings ('", transcript.text.substr(0, 40), "')");
  std::vector<Segment> segments;
  Segment current;
  bool open = false;
  for (const auto& w : transcript.words) {
    if (open && w.end - current.start > max_seconds) {
      segments.push_back(current);
      open = false;
    }
    if (!open) {
      current = {w.start, w.end, w.word};
      open = true;
    } else {
      current.end = w.end;
      current.text += " " + w.word;
    }
  }
  if (open) segments.push_back(current);
  return segments;
}

}  // namespace mome::data
