#include "mome/eval/wer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mome/core/error.h"
#include "mome/core/utf8.h"
#include "mome/io/json.h"

namespace mome::eval {

EditCounts& EditCounts::operator+=(const EditCounts& o) {
  sub += o.sub, del += o.del, ins += o.ins, words += o.words;
  return *this;
}

std::vector<std::string> NormaliseWords(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    std::transform(word.begin(), word.end(), word.begin(), [](unsigned char c) { return std::tolower(c); });
    words.push_back(word);
  }
  return words;
}

EditCounts AlignWords(const std::vector<std::string>& ref, const std::vector<std::string>& hyp, AlignmentCost cost) {
  const int64_t sub_cost = cost == AlignmentCost::kSclite ? 4 : 1;
  const int64_t gap_cost = cost == AlignmentCost::kSclite ? 3 : 1;
  const size_t r = ref.size(), h = hyp.size();
  // cell: (cost, sub, del, ins); among equal costs prefer fewer errors, then substitutions (as sclite reports).
  struct Cell {
    int64_t cost, sub, del, ins;
    int64_t errors() const { return sub + del + ins; }
  };
  auto better = [](const Cell& a, const Cell& b) {
    if (a.cost != b.cost) return a.cost < b.cost;
    if (a.errors() != b.errors()) return a.errors() < b.errors();
    return a.sub > b.sub;
  };
  std::vector<Cell> prev(h + 1), cur(h + 1);
  for (size_t j = 0; j <= h; ++j) prev[j] = {static_cast<int64_t>(j) * gap_cost, 0, 0, static_cast<int64_t>(j)};
  for (size_t i = 1; i <= r; ++i) {
    cur[0] = {static_cast<int64_t>(i) * gap_cost, 0, static_cast<int64_t>(i), 0};
    for (size_t j = 1; j <= h; ++j) {
      const bool same = ref[i - 1] == hyp[j - 1];
      Cell diag = prev[j - 1];
      if (!same) diag.cost += sub_cost, ++diag.sub;
      Cell del = prev[j];
      del.cost += gap_cost, ++del.del;
      Cell ins = cur[j - 1];
      ins.cost += gap_cost, ++ins.ins;
      Cell best = diag;
      if (better(del, best)) best = del;
      if (better(ins, best)) best = ins;
      cur[j] = best;
    }
    std::swap(prev, cur);
  }
  EditCounts counts;
  counts.sub = prev[h].sub, counts.del = prev[h].del, counts.ins = prev[h].ins;
  counts.words = static_cast<int64_t>(r);
  return counts;
}

std::map<std::string, std::string> ReadTranscripts(const std::string& path) {
  MOME_CHECK(std::filesystem::is_regular_file(path), ErrorCode::kNotFound, path,
             ": not a transcript file (a folder, or missing)");
  std::ifstream in(path, std::ios::binary);
  MOME_CHECK(in.good(), ErrorCode::kNotFound, path, ": cannot open");
  std::map<std::string, std::string> out;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    MOME_CHECK(IsValidUtf8(line), ErrorCode::kCorruptFile, path, ":", number, ": not UTF-8 text (a binary file?)");
    std::string key, text;
    const size_t first = line.find_first_not_of(" \t");
    if (line[first] == '{') {
      const nlohmann::json j = io::ParseJson(line, path + ":" + std::to_string(number));
      MOME_CHECK(j.is_object() && j.contains("key") && j["key"].is_string(), ErrorCode::kCorruptFile, path, ":", number,
                 ": JSON line without a string \"key\"");
      key = j["key"].get<std::string>();
      // A line with an "error" instead of "text" (a clip that could not be decoded) scores as empty.
      MOME_CHECK(!j.contains("text") || j["text"].is_string(), ErrorCode::kCorruptFile, path, ":", number,
                 ": \"text\" must be a string");
      MOME_CHECK(j.contains("text") || j.contains("error"), ErrorCode::kCorruptFile, path, ":", number,
                 ": a JSON line needs \"text\" (or \"error\")");
      if (j.contains("text")) text = j["text"].get<std::string>();
    } else {
      const size_t end = line.find_first_of(" \t", first);
      key = line.substr(first, end == std::string::npos ? std::string::npos : end - first);
      if (end != std::string::npos) text = line.substr(end + 1);
    }
    MOME_CHECK(out.emplace(key, text).second, ErrorCode::kCorruptFile, path, ":", number, ": duplicate key '", key,
               "'");
  }
  return out;
}

CorpusScore ScoreCorpus(const std::map<std::string, std::string>& ref, const std::map<std::string, std::string>& hyp,
                        AlignmentCost cost) {
  CorpusScore score;
  for (const auto& [key, text] : ref) {
    const auto it = hyp.find(key);
    if (it == hyp.end()) score.missing.push_back(key);
    score.total += AlignWords(NormaliseWords(text), NormaliseWords(it == hyp.end() ? "" : it->second), cost);
  }
  for (const auto& entry : hyp)
    if (!ref.count(entry.first)) score.extra.push_back(entry.first);
  return score;
}

}  // namespace mome::eval
