// mome_wer: corpus word error rate of hypotheses against references.
//   mome_wer --ref FILE --hyp FILE [--sclite-weights]
// Files hold `key text` lines or JSON lines with "key" and "text". The last stdout line is
// {"wer": <percent>, "errors": n, "words": n, "sub": s, "del": d, "ins": i}; missing and extra keys go to stderr.
#include <iostream>
#include <nlohmann/json.hpp>

#include "mome/core/cli.h"
#include "mome/eval/wer.h"
#include "tool_main.h"

namespace mome {
namespace {

int Main(int argc, char** argv) {
  CliParser cli("mome_wer", "Corpus WER: lower-cased, whitespace-split word edit distance / reference words.");
  cli.AddRequired("--ref", "FILE", "references: `key text` lines or JSONL with key/text")
      .AddRequired("--hyp", "FILE", "hypotheses, same formats (mome_decode's output works)")
      .AddFlag("--sclite-weights", "align with NIST sclite's weights (sub 4, ins 3, del 3) to reproduce its S/D/I");
  if (!cli.Parse(argc, argv)) return 0;
  const auto ref = eval::ReadTranscripts(cli.GetString("--ref"));
  const auto hyp = eval::ReadTranscripts(cli.GetString("--hyp"));
  const auto score = eval::ScoreCorpus(
      ref, hyp, cli.GetFlag("--sclite-weights") ? eval::AlignmentCost::kSclite : eval::AlignmentCost::kLevenshtein);
  // A reference without words has no WER (0 % would be a silent wrong answer).
  MOME_CHECK(score.total.words > 0, ErrorCode::kInvalidArgument, cli.GetString("--ref"), ": no reference words");
  auto list = [](const std::vector<std::string>& keys) {
    std::string s;
    for (size_t i = 0; i < keys.size() && i < 10; ++i) s += (i ? ", " : "") + keys[i];
    return s + (keys.size() > 10 ? ", ..." : "");
  };
  if (!score.missing.empty())
    std::cerr << "mome_wer: " << score.missing.size()
              << " reference keys have no hypothesis (scored as deletions): " << list(score.missing) << std::endl;
  if (!score.extra.empty())
    std::cerr << "mome_wer: " << score.extra.size()
              << " hypothesis keys are not in the reference (ignored): " << list(score.extra) << std::endl;
  const auto& t = score.total;
  std::cout << nlohmann::json{{"wer", t.wer_percent()}, {"errors", t.errors()}, {"words", t.words},
                              {"sub", t.sub},           {"del", t.del},         {"ins", t.ins}}
                   .dump()
            << std::endl;
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("mome_wer", [&] { return mome::Main(argc, argv); });
}
