// Word timestamps, confidence, subtitles, voice activity and long-form decoding (issue 17's library parts).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "mome/core/error.h"
#include "mome/data/clip_set.h"
#include "mome/data/prepared.h"
#include "mome/decode/transcript_formats.h"
#include "mome/decode/word_timing.h"
#include "mome/eval/timing_score.h"
#include "mome/frontend/vad.h"
#include "mome/text/tokenizer.h"
#include "test_helpers.h"

namespace mome {
namespace {

using decode::WordTiming;

TEST(WordTiming, DtwFollowsTheCheapestMonotonicPath) {
  // Row i is cheap on columns [3i, 3i + 3): the path must give each row exactly its block.
  at::Tensor cost = at::ones({4, 12}, at::kDouble);
  for (int64_t i = 0; i < 4; ++i) cost[i].narrow(0, 3 * i, 3).fill_(0.0);
  const auto spans = decode::DtwRowSpans(cost);
  ASSERT_EQ(spans.size(), 4u);
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(spans[i].first, 3 * i) << i;
    EXPECT_EQ(spans[i].second, 3 * i + 3) << i;
  }
  EXPECT_THROW(decode::DtwRowSpans(at::zeros({0, 3})), Error);
}

TEST(WordTiming, TokenSpansComeFromWhereTheAttentionGoes) {
  // 3 tokens attending to 3 audio tokens (rate 4: 80 ms each) with noise; 1 s clip of 12 tokens.
  decode::PromptTimeline t;
  t.duration = 0.96;
  for (int64_t k = 0; k < 12; ++k) {
    t.positions.push_back(5 + k);
    t.starts.push_back(0.08 * k);
    t.ends.push_back(0.08 * (k + 1));
  }
  torch::manual_seed(0);
  at::Tensor attention = at::rand({2, 3, 20}) * 0.01;  // [heads, tokens, sequence]
  const int64_t focus[3] = {1, 5, 9};
  for (int64_t i = 0; i < 3; ++i) attention.select(1, i).select(1, 5 + focus[i]).add_(1.0);
  const at::Tensor grid = decode::AttentionOnTimeGrid(attention, t);
  EXPECT_EQ(grid.size(2), 48);  // 0.96 s of 20 ms frames
  const auto spans = decode::TokenSpans(grid, 3);
  ASSERT_EQ(spans.size(), 3u);
  for (int64_t i = 0; i < 3; ++i) {
    const double centre = 0.08 * focus[i] + 0.04;
    EXPECT_LE(spans[i].first, centre) << i;
    EXPECT_GE(spans[i].second, centre) << i;
    if (i > 0) {
      EXPECT_GE(spans[i].first, spans[i - 1].first) << "monotonic";
    }
  }
}

TEST(WordTiming, WordsGroupTheirTokensWithGeometricMeanConfidence) {
  const auto tokenizer = text::LoadTokenizer(testing::DataPath("tokenizer/tokenizer.json"));
  const std::vector<int64_t> ids = tokenizer->Encode("hello world again", false);
  ASSERT_GE(ids.size(), 3u);
  std::vector<float> logprobs;
  std::vector<std::pair<double, double>> spans;
  for (size_t i = 0; i < ids.size(); ++i) {
    logprobs.push_back(std::log(0.5f));
    spans.push_back({0.1 * static_cast<double>(i), 0.1 * static_cast<double>(i + 1)});
  }
  const auto words = decode::GroupWords(*tokenizer, ids, logprobs, spans);
  ASSERT_EQ(words.size(), 3u);
  EXPECT_EQ(words[0].word, "hello");
  EXPECT_EQ(words[2].word, "again");
  EXPECT_DOUBLE_EQ(words[0].start, 0.0);
  EXPECT_NEAR(words[2].end, 0.1 * static_cast<double>(ids.size()), 1e-9);
  for (const auto& w : words) {
    EXPECT_NEAR(w.confidence, 0.5, 1e-6) << w.word;
    EXPECT_LT(w.start, w.end);
  }
  EXPECT_THROW(decode::GroupWords(*tokenizer, ids, logprobs, {}), Error);
}

std::vector<WordTiming> Words(const std::vector<std::tuple<const char*, double, double>>& list) {
  std::vector<WordTiming> out;
  for (const auto& [w, s, e] : list) out.push_back({w, s, e, 0.9});
  return out;
}

TEST(Subtitles, CuesFollowTheConventions) {
  EXPECT_EQ(decode::SubtitleTime(3723.4567, ','), "01:02:03,457");
  EXPECT_EQ(decode::SubtitleTime(0.0, '.'), "00:00:00.000");
  // 30 words of 6 characters, 0.3 s each, no pauses: cues of at most 2 x 42 characters and 7 s.
  std::vector<WordTiming> many;
  for (int i = 0; i < 30; ++i) many.push_back({"abcdef", 0.3 * i, 0.3 * i + 0.25, 0.9});
  for (const auto& cue : decode::MakeCues(many)) {
    EXPECT_LE(cue.lines.size(), 2u);
    for (const auto& line : cue.lines) EXPECT_LE(line.size(), 42u) << line;
    EXPECT_LE(cue.end - cue.start, 7.0);
  }
  // A pause of 1 s starts a new cue.
  const auto cues = decode::MakeCues(Words({{"one", 0.0, 0.3}, {"two", 0.4, 0.7}, {"three", 1.7, 2.0}}));
  ASSERT_EQ(cues.size(), 2u);
  EXPECT_EQ(cues[0].lines, std::vector<std::string>{"one two"});
  const std::string srt = decode::ToSrt(cues);
  EXPECT_NE(srt.find("1\n00:00:00,000 --> 00:00:00,700\none two\n\n2\n00:00:01,700 --> 00:00:02,000\nthree\n"),
            std::string::npos)
      << srt;
  EXPECT_EQ(decode::ToVtt(cues).rfind("WEBVTT\n\n00:00:00.000 --> 00:00:00.700\n", 0), 0u);
  EXPECT_EQ(decode::ToCtm("spk/clip", Words({{"one", 0.1, 0.35}})), "spk/clip 1 0.100 0.250 one 0.900\n");
  EXPECT_EQ(decode::ToTrn("k", "a b"), "a b (k)\n");
}

// 16 kHz: `pattern` of (seconds, amplitude of a 300 Hz tone, 0 = silence) pieces, with faint noise everywhere.
at::Tensor Signal(const std::vector<std::pair<double, double>>& pattern) {
  std::vector<at::Tensor> parts;
  torch::manual_seed(1);
  for (const auto& [seconds, amplitude] : pattern) {
    const auto n = static_cast<int64_t>(seconds * 16000);
    const at::Tensor t = at::arange(n, at::kFloat) / 16000.0;
    parts.push_back(amplitude * at::sin(2 * M_PI * 300 * t) + 1e-4 * at::randn({n}));
  }
  return at::cat(parts);
}

TEST(Vad, NoSpeechGivesNoPieceAndPausesSeparatePieces) {
  EXPECT_TRUE(frontend::SplitAtPauses(at::zeros({16000 * 5}), 20).empty()) << "digital silence";
  torch::manual_seed(2);
  EXPECT_TRUE(frontend::SplitAtPauses(0.3 * at::randn({16000 * 5}), 20).empty()) << "steady noise";
  EXPECT_TRUE(frontend::SplitAtPauses(Signal({{5.0, 0.5}}), 20).empty()) << "a steady tone";
  // 3 bursts of 4 s with 1.5 s pauses, pieces of at most 6 s: each burst its own piece, cut inside the pauses.
  const at::Tensor bursts = Signal({{1.0, 0}, {4.0, 0.3}, {1.5, 0}, {4.0, 0.3}, {1.5, 0}, {4.0, 0.3}, {1.0, 0}});
  const auto pieces = frontend::SplitAtPauses(bursts, 6);
  ASSERT_EQ(pieces.size(), 3u);
  const double burst_starts[3] = {1.0, 6.5, 12.0};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_LE(pieces[i].begin / 16000.0, burst_starts[i] + 0.05) << i;
    EXPECT_GE(pieces[i].end / 16000.0, burst_starts[i] + 3.95) << i;
    EXPECT_LE(pieces[i].end - pieces[i].begin, 6 * 16000) << i;
    if (i > 0) {
      EXPECT_GE(pieces[i].begin, pieces[i - 1].end) << "no overlap";
    }
  }
  // 25 s of syllable-like sound without a pause is cut into pieces that cover it, none longer than the limit.
  const at::Tensor t = at::arange(25 * 16000, at::kFloat) / 16000.0;
  const at::Tensor syllables = 0.3 * (0.55 + 0.45 * at::sin(2 * M_PI * 3 * t)) * at::sin(2 * M_PI * 300 * t);
  const auto long_pieces = frontend::SplitAtPauses(at::cat({at::zeros({8000}), syllables, at::zeros({8000})}), 10);
  ASSERT_GE(long_pieces.size(), 3u);
  for (const auto& p : long_pieces) EXPECT_LE(p.end - p.begin, 10 * 16000);
  EXPECT_EQ(frontend::FixedWindows(60, 25).size(), 3u);
}

// A word's soft start (the closure and burst of a /p/) is below the level that starts speech: each piece keeps
// `lead_seconds` before the detected onset, so the recogniser hears it (PLACE read as LAY otherwise, issue 17).
TEST(Vad, APieceKeepsTheSoftStartBeforeTheDetectedOnset) {
  // 0.1 s at -57 dBFS (below the -50 dBFS a frame needs to start speech) at 1.0 s, then loud speech from 1.1 s.
  const at::Tensor speech = Signal({{1.0, 0}, {0.1, 0.002}, {2.0, 0.3}, {1.0, 0}});
  const auto pieces = frontend::SplitAtPauses(speech, 20);
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_LE(pieces[0].begin / 16000.0, 1.0) << "the soft start is kept";
  EXPECT_GE(pieces[0].begin / 16000.0, 0.9) << "and not much of the silence before it";
  frontend::VadOptions no_lead;
  no_lead.lead_seconds = 0;
  EXPECT_NEAR(frontend::SplitAtPauses(speech, 20, no_lead)[0].begin / 16000.0, 1.1, 0.021) << "the detected onset";
}

// Speech without a 0.3 s pause, longer than a piece, is cut where it is quiet longest, not at its one quietest frame:
// a 20 ms dropout inside a word (a stop's closure) against a 200 ms dip between two sentences.
TEST(Vad, LongSpeechIsCutInItsQuietestStretchNotAtAOneFrameDropout) {
  // Both in the second half of the first 4 s window, where the cut at the quietest frame used to look.
  const at::Tensor speech = Signal({{0.5, 0}, {2.2, 0.3}, {0.02, 0}, {0.6, 0.3}, {0.2, 0.03}, {2.0, 0.3}, {0.5, 0}});
  const auto pieces = frontend::SplitAtPauses(speech, 4.0);
  ASSERT_EQ(pieces.size(), 2u);
  const double cut = pieces[0].end / 16000.0, dip = 0.5 + 2.2 + 0.02 + 0.6;  // the dip spans [dip, dip + 0.2)
  EXPECT_GT(cut, dip) << "cut at " << cut;
  EXPECT_LT(cut, dip + 0.2) << "cut at " << cut;  // pieces cut inside speech meet at the cut (no margin)
  frontend::VadOptions one_frame;                 // what the cut used to be: the quietest single frame, inside the word
  one_frame.cut_seconds = one_frame.frame_seconds;
  const double frame_cut = frontend::SplitAtPauses(speech, 4.0, one_frame)[0].end / 16000.0;
  EXPECT_NEAR(frame_cut, 2.71, 0.011);
}

// A stretch without pauses offers its quietest runs to a CutChooser (what the Transcriber scores with the model):
// quietest first, at least 0.3 s apart, inside the window; the cut it picks is the one made; any other is refused.
TEST(Vad, ACutChooserIsOfferedTheQuietestRunsAndItsChoiceIsTheCut) {
  // Dips of 200 ms at 2.4 s (deepest), 3.3 s and 1.8 s (shallowest) in 5.5 s of speech; pieces of at most 4 s.
  const at::Tensor speech = Signal(
      {{0.5, 0}, {1.3, 0.3}, {0.2, 0.06}, {0.4, 0.3}, {0.2, 0.01}, {0.7, 0.3}, {0.2, 0.03}, {2.5, 0.3}, {0.5, 0}});
  std::vector<std::vector<int64_t>> offered;
  const frontend::CutChooser take_last = [&](const frontend::SampleSpan& stretch, const std::vector<int64_t>& cuts) {
    offered.push_back(cuts);
    EXPECT_GT(cuts.front(), stretch.begin);
    EXPECT_LT(cuts.back(), stretch.end);
    return cuts.back();
  };
  frontend::VadOptions three;
  three.cut_candidates = 3;
  const auto pieces = frontend::SplitAtPauses(speech, 4.0, three, take_last);
  ASSERT_GE(offered.size(), 1u);
  ASSERT_EQ(offered[0].size(), 3u);
  const double first = offered[0][0] / 16000.0, second = offered[0][1] / 16000.0, third = offered[0][2] / 16000.0;
  EXPECT_NEAR(first, 2.5, 0.03) << "the deepest dip first";
  EXPECT_NEAR(second, 3.4, 0.03);
  EXPECT_NEAR(third, 1.9, 0.03);
  EXPECT_EQ(pieces[0].end, offered[0][2]) << "the chooser's cut is the cut";
  EXPECT_EQ(pieces[1].begin, offered[0][2]);
  const frontend::CutChooser wrong = [](const frontend::SampleSpan&, const std::vector<int64_t>& cuts) {
    return cuts[0] + 1;
  };
  EXPECT_THROW(frontend::SplitAtPauses(speech, 4.0, three, wrong), Error);
  // Without a chooser the quietest run is the cut, as before.
  EXPECT_NEAR(frontend::SplitAtPauses(speech, 4.0, three)[0].end / 16000.0, 2.5, 0.03);
}

TEST(TimingScore, ErrorsOnCorrectWordsAndConfidenceAuc) {
  const std::vector<data::TimedWord> ref = {{"BIN", 0.0, 0.3}, {"BLUE", 0.4, 0.7}, {"AT", 0.8, 1.0}};
  std::vector<WordTiming> hyp = {
      {"bin", 0.05, 0.3, 0.9}, {"red", 0.4, 0.7, 0.2}, {"at", 0.95, 1.0, 0.8}, {"now", 1.1, 1.2, 0.1}};
  eval::TimingScore score;
  score.Add(ref, hyp);
  EXPECT_EQ(score.words_scored(), 2u);
  EXPECT_DOUBLE_EQ(score.ConfidenceAuc(), 1.0);  // both correct words above both wrong ones
  const auto j = nlohmann::json::parse(score.ToJson());
  EXPECT_NEAR(j["start_mean_ms"].get<double>(), 100.0, 1e-6);
  EXPECT_NEAR(j["start_within_100ms"].get<double>(), 0.5, 1e-9);  // 50 ms and 150 ms
  EXPECT_NEAR(j["start_within_200ms"].get<double>(), 1.0, 1e-9);
  EXPECT_EQ(eval::AlignHypothesisToReference({"a", "b", "c"}, {"a", "x", "c", "d"}),
            (std::vector<int64_t>{0, 1, 2, -1}));
}

TEST(PreparedCorpus, KeepsTheReferenceWordTable) {
  data::PreparedEntry e;
  e.key = "test/spk/1";
  e.text = "BIN BLUE";
  e.shard = "shards/000000.safetensors";
  e.audio = "0.audio";
  e.words = {{"BIN", 0.12, 0.4}, {"BLUE", 0.5, 0.9}};
  const auto back = data::PreparedEntryFromJson(data::PreparedEntryToJson(e), "line");
  ASSERT_EQ(back.words.size(), 2u);
  EXPECT_EQ(back.words[1].word, "BLUE");
  EXPECT_DOUBLE_EQ(back.words[0].start, 0.12);
  EXPECT_THROW(
      data::PreparedEntryFromJson(R"({"key":"k","text":"t","shard":"s","audio":"a","words":[["W",0.1]]})", "line"),
      Error);
}

TEST(ClipSet, AcceptsACorpusRootOrSaysWhatLayoutItExpects) {
  namespace fs = std::filesystem;
  const std::string root = ::testing::TempDir() + "/mome_clipset_" + std::to_string(::getpid());
  testing::RemoveTree(root);
  fs::create_directories(root + "/test/spk");
  fs::create_directories(root + "/train/spk");
  for (const char* split : {"test", "train"}) {
    std::ofstream(root + "/" + split + "/spk/00001.mp4") << "x";
    std::ofstream(root + "/" + split + "/spk/00001.txt") << "Text:  BIN BLUE\nConf:  5\n";
  }
  data::ClipSetRequest r;
  r.data = root;  // a corpus root: its test split by default
  EXPECT_EQ(data::ClipSet::Open(r).key(0), "test/spk/00001");
  r.split = "train";
  EXPECT_EQ(data::ClipSet::Open(r).key(0), "train/spk/00001");
  r.split = "nope";
  EXPECT_THROW(data::ClipSet::Open(r), Error);
  r.split.clear();
  r.data = root + "/test";  // a split folder itself
  EXPECT_EQ(data::ClipSet::Open(r).size(), 1u);
  fs::create_directories(root + "/empty/a/b");
  r.data = root + "/empty";  // folders but no clip anywhere it looks: the expected layout is named
  try {
    data::ClipSet::Open(r);
    ADD_FAILURE() << "an empty corpus was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("SPEAKER/CLIP.mp4"), std::string::npos) << e.what();
  }
  testing::RemoveTree(root);
}

}  // namespace
}  // namespace mome
