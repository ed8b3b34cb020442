// WER scoring: hand-checked alignments, and agreement with NIST sclite (sctk) on the committed corpus.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <regex>

#include "mome/core/error.h"
#include "mome/eval/wer.h"
#include "test_helpers.h"

namespace mome {
namespace {

using eval::AlignmentCost;
using eval::AlignWords;
using eval::NormaliseWords;

TEST(Wer, CountsEditsCaseInsensitively) {
  const auto c = AlignWords(NormaliseWords("The cat  sat on the mat"), NormaliseWords("the CAT sat on mat"));
  EXPECT_EQ(c.errors(), 1);
  EXPECT_EQ(c.del, 1);
  EXPECT_EQ(c.words, 6);
  const auto d = AlignWords(NormaliseWords("a b c"), NormaliseWords("a x c d"));
  EXPECT_EQ(d.sub, 1);
  EXPECT_EQ(d.ins, 1);
  EXPECT_EQ(AlignWords({}, NormaliseWords("x y")).ins, 2);
  EXPECT_EQ(AlignWords(NormaliseWords("x y"), {}).del, 2);
}

TEST(Wer, LevenshteinCanCountFewerErrorsThanSclite) {
  // 6 substitutions (weight 24 under sclite's sub 4 / ins 3 / del 3) vs 3 insertions + 1 substitution + 3
  // deletions (weight 22): sclite reports 7 errors where the edit distance is 6.
  const auto ref = NormaliseWords("c c a a a a"), hyp = NormaliseWords("b b b c c c");
  EXPECT_EQ(AlignWords(ref, hyp).errors(), 6);
  const auto s = AlignWords(ref, hyp, AlignmentCost::kSclite);
  EXPECT_EQ(s.ins, 3);
  EXPECT_EQ(s.sub, 1);
  EXPECT_EQ(s.del, 3);
}

// sclite's corpus summary: Sum/Avg row percentages of Sub, Del, Ins over the reference words.
struct ScliteSummary {
  int64_t words = 0;
  double sub = 0, del = 0, ins = 0;
};

bool RunSclite(const std::map<std::string, std::string>& ref, const std::map<std::string, std::string>& hyp,
               ScliteSummary* out) {
  if (testing::RunCommand("command -v sctk").exit_code != 0) return false;
  const std::string dir = ::testing::TempDir();
  auto write_trn = [&](const std::string& path, const std::map<std::string, std::string>& m) {
    std::ofstream f(path);
    for (const auto& [key, text] : m) {
      std::string id = key;
      std::replace(id.begin(), id.end(), '/', '-');  // trn ids: speaker-utterance
      f << text << " (" << id << ")\n";
    }
  };
  std::map<std::string, std::string> hyp_for_ref;
  for (const auto& entry : ref) hyp_for_ref[entry.first] = hyp.count(entry.first) ? hyp.at(entry.first) : "";
  write_trn(dir + "/wer_ref.trn", ref);
  write_trn(dir + "/wer_hyp.trn", hyp_for_ref);
  const auto r =
      testing::RunCommand("cd " + dir + " && sctk sclite -r wer_ref.trn trn -h wer_hyp.trn trn -i rm -o sum stdout");
  const std::regex row(R"(Sum/Avg\s*\|\s*(\d+)\s+(\d+)\s*\|\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+))");
  std::smatch m;
  if (!std::regex_search(r.out, m, row)) return false;
  out->words = std::stoll(m[2]);
  out->sub = std::stod(m[4]), out->del = std::stod(m[5]), out->ins = std::stod(m[6]);
  return true;
}

TEST(Wer, AgreesWithSclite) {
  const auto ref = eval::ReadTranscripts(testing::DataPath("wer/ref.txt"));
  const auto hyp = eval::ReadTranscripts(testing::DataPath("wer/hyp.txt"));
  const auto ours = eval::ScoreCorpus(ref, hyp, AlignmentCost::kSclite);
  EXPECT_EQ(ours.missing.size(), 1u);
  EXPECT_EQ(ours.extra.size(), 1u);
  ScliteSummary sclite;
  if (!RunSclite(ref, hyp, &sclite)) GTEST_SKIP() << "sctk (NIST sclite) is not installed";
  const auto& t = ours.total;
  EXPECT_EQ(t.words, sclite.words);
  // sclite prints percentages with one decimal.
  auto pct = [&](int64_t n) { return std::round(1000.0 * static_cast<double>(n) / t.words) / 10.0; };
  EXPECT_DOUBLE_EQ(pct(t.sub), sclite.sub);
  EXPECT_DOUBLE_EQ(pct(t.del), sclite.del);
  EXPECT_DOUBLE_EQ(pct(t.ins), sclite.ins);
  // The default (Levenshtein) never counts more errors than sclite's alignment.
  EXPECT_LE(eval::ScoreCorpus(ref, hyp).total.errors(), t.errors());
}

TEST(Wer, RejectsBadFiles) {
  const std::string path = ::testing::TempDir() + "/wer_dup.txt";
  std::ofstream(path) << "a x\na y\n";
  EXPECT_THROW(eval::ReadTranscripts(path), Error);
  std::ofstream(path) << "{\"text\": \"no key\"}\n";
  EXPECT_THROW(eval::ReadTranscripts(path), Error);
  EXPECT_THROW(eval::ReadTranscripts("/no/such/file"), Error);
}

}  // namespace
}  // namespace mome
