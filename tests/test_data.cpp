// LRS transcripts, segmentation and the batch sampler.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>

#include "mome/core/error.h"
#include "mome/data/augment.h"
#include "mome/data/batch_sampler.h"
#include "mome/data/clip_sequence.h"
#include "mome/data/lrs_transcript.h"
#include "mome/data/noise.h"

namespace mome {
namespace {

// In the exact LRS3 layout (two spaces after the colons, a blank line, the table header).
const char* kLrs3 =
    "Text:  WE ARE GOING  TO SEE\n"
    "Conf:  4\n"
    "\n"
    "WORD START END ASDSCORE\n"
    "WE 0.31 0.42 6.3\n"
    "ARE 0.42 0.55 7.1\n"
    "GOING 0.55 9.90 7.4\n"
    "TO 10.00 16.40 7.2\n"
    "SEE 16.50 17.00 6.8\n";

TEST(LrsTranscript, ParsesTheLrs3Format) {
  const auto t = data::ParseLrsTranscriptText(kLrs3, "x.txt");
  EXPECT_EQ(t.text, "WE ARE GOING TO SEE");
  EXPECT_EQ(t.confidence, 4);
  ASSERT_EQ(t.words.size(), 5u);
  EXPECT_EQ(t.words[2].word, "GOING");
  EXPECT_DOUBLE_EQ(t.words[3].start, 10.0);
}

TEST(LrsTranscript, ParsesLrs2MainClipsAndOddCharacters) {
  const auto t = data::ParseLrsTranscriptText("Text:  IT'S \"CAFÉ\", OK\nConf:  2\n", "lrs2.txt");
  EXPECT_EQ(t.text, "IT'S \"CAFÉ\", OK");
  EXPECT_TRUE(t.words.empty());
}

TEST(LrsTranscript, RejectsBadFiles) {
  auto message = [](const std::string& text) {
    try {
      data::ParseLrsTranscriptText(text, "bad.txt");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("").find("bad.txt"), std::string::npos);
  EXPECT_NE(message("Text:   \nConf:  1\n").find("empty transcript"), std::string::npos);
  EXPECT_NE(message("Hello\n").find("Text:"), std::string::npos);
  EXPECT_NE(message("Text:  A\n\nWORD START END\nA x y\n").find("bad.txt:4"), std::string::npos);
  EXPECT_THROW(data::ParseLrsTranscript("/no/such/transcript.txt"), Error);
}

TEST(LrsTranscript, SegmentsAtWordBoundariesWithinTheLimit) {
  const auto segments = data::SegmentByWords(data::ParseLrsTranscriptText(kLrs3, "x.txt"), 16.0);
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(segments[0].text, "WE ARE GOING");  // adding TO would span 0.31 .. 16.40 = 16.09 s
  EXPECT_DOUBLE_EQ(segments[0].end, 9.90);
  EXPECT_EQ(segments[1].text, "TO SEE");
  EXPECT_DOUBLE_EQ(segments[1].start, 10.0);
}

TEST(BatchSampler, EveryClipOnceAcrossRanksAndDeterministic) {
  std::vector<int64_t> frames;
  for (int i = 0; i < 257; ++i) frames.push_back(20 + (i * 37) % 300);
  for (int64_t world : {1, 2, 3}) {
    for (int64_t epoch : {0, 1}) {
      std::multiset<int64_t> seen;
      for (int64_t rank = 0; rank < world; ++rank) {
        data::BatchSampler sampler(frames, {1000, 42, true, rank, world});
        const auto batches = sampler.EpochBatches(epoch);
        EXPECT_EQ(batches, data::BatchSampler(frames, {1000, 42, true, rank, world}).EpochBatches(epoch));
        for (const auto& b : batches) {
          int64_t total = 0;
          for (int64_t i : b) total += frames[i], seen.insert(i);
          EXPECT_TRUE(total <= 1000 || b.size() == 1);
        }
      }
      EXPECT_EQ(seen.size(), frames.size()) << "world " << world;
      EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), frames.size()) << "duplicates, world " << world;
    }
  }
  data::BatchSampler a(frames, {1000, 1, true, 0, 1}), b(frames, {1000, 1, true, 0, 1});
  EXPECT_NE(a.EpochBatches(0), a.EpochBatches(1));  // a new order every epoch
}

TEST(BatchSampler, RestoredPositionContinuesExactly) {
  std::vector<int64_t> frames(50, 100);
  data::BatchSampler run(frames, {300, 7, true, 0, 1});
  std::vector<int64_t> batch;
  for (int i = 0; i < 23; ++i) run.Next(&batch);  // crosses an epoch boundary (17 batches per epoch)
  const auto saved = run.position();
  std::vector<std::vector<int64_t>> expected;
  for (int i = 0; i < 20; ++i) run.Next(&batch), expected.push_back(batch);
  data::BatchSampler resumed(frames, {300, 7, true, 0, 1});
  resumed.Restore(saved);
  for (const auto& want : expected) {
    resumed.Next(&batch);
    EXPECT_EQ(batch, want);
  }
  // The ranks of one step take consecutive batches of one global stream, as one process accumulating them would.
  data::BatchSampler one(frames, {300, 7, true, 0, 1});
  for (int step = 0; step < 12; ++step) {  // 3 ranks x 12 steps crosses two epoch boundaries
    for (int64_t rank = 0; rank < 3; ++rank) {
      std::vector<int64_t> want, got;
      one.Next(&want);
      data::BatchSampler r(frames, {300, 7, true, rank, 3});
      r.Restore({0, 0});
      for (int s = 0; s <= step; ++s) r.Next(&got);
      EXPECT_EQ(got, want) << "step " << step << " rank " << rank;
    }
  }
}

}  // namespace
}  // namespace mome

#include <filesystem>

#include "mome/data/corpus.h"
#include "test_helpers.h"

namespace mome {
namespace {

namespace fs = std::filesystem;

void Touch(const fs::path& p, const std::string& contents = "") {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << contents;
}

TEST(Corpus, ListsLrs3AndReportsUnusableClips) {
  const fs::path root = fs::path(::testing::TempDir()) / "lrs3_root";
  testing::RemoveTree(root.string());
  Touch(root / "test/spkB/00002.mp4");
  Touch(root / "test/spkB/00002.txt", "Text:  SECOND CLIP\nConf:  3\n");
  Touch(root / "test/spkA/00001.mp4");
  Touch(root / "test/spkA/00001.txt", "Text:  HELLO, \"WORLD\" CAFÉ\nConf:  4\n");
  Touch(root / "test/spkA/00003.mp4");  // no transcript
  Touch(root / "test/spkA/00004.mp4");
  Touch(root / "test/spkA/00004.txt", "Text:   \n");  // empty transcript
  const auto listing = data::ListLrs3(root.string(), "test");
  ASSERT_EQ(listing.items.size(), 2u);
  EXPECT_EQ(listing.items[0].key, "test/spkA/00001");
  EXPECT_EQ(listing.items[0].text, "HELLO, \"WORLD\" CAFÉ");
  EXPECT_EQ(listing.items[1].key, "test/spkB/00002");
  ASSERT_EQ(listing.problems.size(), 2u);
  EXPECT_NE(listing.problems[0].reason.find("no transcript"), std::string::npos);
  EXPECT_NE(listing.problems[1].reason.find("empty transcript"), std::string::npos);
  EXPECT_THROW(data::ListLrs3((root / "nope").string(), "test"), Error);
}

TEST(Corpus, ListsLrs2FromItsSplitLists) {
  const fs::path root = fs::path(::testing::TempDir()) / "lrs2_root";
  testing::RemoveTree(root.string());
  Touch(root / "test.txt", "6330311066473698535/00011 NF\n6330311066473698535/00018 MV\n\n");
  Touch(root / "main/6330311066473698535/00011.mp4");
  Touch(root / "main/6330311066473698535/00011.txt", "Text:  ONE\nConf:  1\n");
  const auto listing = data::ListLrs2(root.string(), "test");
  ASSERT_EQ(listing.items.size(), 1u);
  EXPECT_EQ(listing.items[0].key, "test/6330311066473698535/00011");
  EXPECT_EQ(listing.problems.size(), 1u);  // 00018 has no video
  EXPECT_THROW(data::ListLrs2(root.string(), "val"), Error);
}

TEST(Corpus, ReadsAutoAvsrCsvAndManifests) {
  const fs::path dir = fs::path(::testing::TempDir()) / "prepared";
  testing::RemoveTree(dir.string());
  Touch(dir / "labels.csv",
        "lrs3,lrs3_video_seg24s/test/spk/00001.mp4,75,12 40 7,hello, world\n"
        "lrs3,lrs3_video_seg24s/test/spk/00002.mp4,x,1\n"
        "short,line\n"
        "lrs3,../../etc/00003.mp4,75,1,escapes the root\n");
  const auto csv = data::ListAutoAvsr("/data", (dir / "labels.csv").string());
  ASSERT_EQ(csv.items.size(), 1u);
  EXPECT_EQ(csv.items[0].video, "/data/lrs3/lrs3_video_seg24s/test/spk/00001.mp4");
  EXPECT_EQ(csv.items[0].audio, "/data/lrs3/lrs3_video_seg24s/test/spk/00001.wav");
  EXPECT_EQ(csv.items[0].n_frames, 75);
  EXPECT_EQ(csv.items[0].token_ids, (std::vector<int64_t>{12, 40, 7}));
  EXPECT_EQ(csv.items[0].text, "hello, world");
  EXPECT_EQ(csv.problems.size(), 3u);

  Touch(dir / "manifest.jsonl",
        "{\"key\": \"a\", \"video\": \"clips/a.mp4\", \"text\": \"hi\"}\n"
        "{\"key\": \"b\", \"audio\": \"/abs/b.wav\", \"text\": \"yo\", \"landmarks\": \"lm/b.json\"}\n"
        "not json\n{\"key\": \"c\"}\n");
  // An absolute path leaves the manifest's folder: a problem unless allowed.
  const auto strict = data::ListManifest((dir / "manifest.jsonl").string());
  ASSERT_EQ(strict.items.size(), 1u);
  EXPECT_TRUE(std::any_of(strict.problems.begin(), strict.problems.end(),
                          [](const auto& p) { return p.reason.find("outside the data root") != std::string::npos; }));
  Touch(dir / "escape.jsonl", "{\"key\": \"e\", \"audio\": \"clips/../../x.wav\", \"text\": \"hi\"}\n");
  EXPECT_EQ(data::ListManifest((dir / "escape.jsonl").string()).items.size(), 0u);
  EXPECT_EQ(data::ListManifest((dir / "escape.jsonl").string(), true).items.size(), 1u);
  const auto manifest = data::ListManifest((dir / "manifest.jsonl").string(), true);
  ASSERT_EQ(manifest.items.size(), 2u);
  EXPECT_EQ(manifest.items[0].video, (dir / "clips/a.mp4").string());
  EXPECT_EQ(manifest.items[1].audio, "/abs/b.wav");
  EXPECT_EQ(manifest.items[1].landmarks, (dir / "lm/b.json").string());
  EXPECT_EQ(manifest.problems.size(), 2u);
}

}  // namespace
}  // namespace mome

namespace mome {
namespace {

data::PreparedClip ToneClip(const std::string& key, const std::string& text, int64_t frames, int64_t samples,
                            float level) {
  data::PreparedClip c;
  c.key = key;
  c.text = text;
  c.words = {{text, 0.04, 0.04 * static_cast<double>(frames)}};
  c.video = torch::full({frames, 4, 4}, level * 100, torch::kByte);
  c.video[frames - 1].fill_(static_cast<uint8_t>(level * 100 + 1));  // the edge frame a pause must hold
  c.audio = torch::full({samples}, level);
  return c;
}

TEST(Augment, JoinedAndPaddedClipsKeepAudioVideoAndWordTimesInStep) {
  // a: 5 frames with 3,000 samples (short of 5 x 640: padded to the frame), b: 3 frames, a 2-frame pause.
  const auto a = ToneClip("s/a", "bin blue", 5, 3000, 0.5f), b = ToneClip("s/b", "set red", 3, 1920, 0.25f);
  const auto j = data::JoinClips(a, b, 2);
  EXPECT_EQ(j.text, "bin blue set red");
  ASSERT_EQ(j.video.size(0), 10);
  ASSERT_EQ(j.audio.numel(), 10 * 640);
  EXPECT_EQ(j.audio[2999].item<float>(), 0.5f);
  EXPECT_EQ(j.audio[3000].item<float>(), 0.0f);      // a's audio padded to its last frame, then the pause
  EXPECT_EQ(j.audio[7 * 640].item<float>(), 0.25f);  // b starts with its first video frame (frame 7)
  EXPECT_EQ(j.audio[7 * 640 - 1].item<float>(), 0.0f);
  EXPECT_TRUE(torch::equal(j.video[5], a.video[4]));  // the pause holds a's last frame
  EXPECT_TRUE(torch::equal(j.video[7], b.video[0]));
  ASSERT_EQ(j.words.size(), 2u);
  EXPECT_NEAR(j.words[1].start, 0.04 + 7 * 0.04, 1e-9);
  const auto p = data::PadClip(b, 3, 1);
  ASSERT_EQ(p.video.size(0), 7);
  ASSERT_EQ(p.audio.numel(), 7 * 640);
  EXPECT_EQ(p.audio.narrow(0, 0, 3 * 640).abs().max().item<float>(), 0.0f);
  EXPECT_EQ(p.audio[3 * 640].item<float>(), 0.25f);
  EXPECT_TRUE(torch::equal(p.video[0], b.video[0]));
  EXPECT_TRUE(torch::equal(p.video[6], b.video[2]));
  EXPECT_NEAR(p.words[0].start, 0.04 + 3 * 0.04, 1e-9);
  // Audio-only clips join by their samples' frames.
  auto audio_only = a;
  audio_only.video = at::Tensor();
  EXPECT_EQ(data::JoinClips(audio_only, audio_only, 1).audio.numel(), 5 * 640 + 640 + 3000);
}

TEST(Augment, SequencesAreSeededAndOffByDefault) {
  const std::vector<data::PreparedClip> batch = {ToneClip("s/a", "a", 5, 3200, 0.5f),
                                                 ToneClip("s/b", "b", 4, 2560, 0.3f)};
  auto other = [](std::mt19937_64& pick) { return ToneClip("s/o" + std::to_string(pick() % 3), "o", 2, 1280, 0.1f); };
  data::SequenceOptions o;
  EXPECT_FALSE(o.any());
  o.join_prob = 1.0;
  o.pause_max_seconds = 0.2;
  o.pad_max_seconds = 0.2;
  auto run = [&](uint64_t seed) {
    auto clips = batch;
    std::mt19937_64 rng(seed);
    data::AugmentSequences(&clips, o, other, rng);
    return clips;
  };
  const auto x = run(7), y = run(7);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(x[i].key, y[i].key);
    EXPECT_TRUE(torch::equal(x[i].audio, y[i].audio));
    EXPECT_EQ(x[i].text, batch[i].text + " o");  // join_prob 1: every clip is followed by another
    EXPECT_EQ(x[i].audio.numel(), x[i].video.size(0) * 640);
    EXPECT_LE(x[i].video.size(0), batch[i].video.size(0) + 2 + 5 + 5 + 5);  // + other, pause and pads <= 0.2 s
  }
  bool differs = false;  // another seed draws other pauses or pads somewhere in a few tries
  for (uint64_t seed = 8; seed < 16 && !differs; ++seed) differs = run(seed)[0].audio.numel() != x[0].audio.numel();
  EXPECT_TRUE(differs);
}

// Chains (long-form segments hold many sentences): with join_max_seconds, a joined clip grows clip after clip up to
// a drawn length, never past join_max_seconds; lengths spread over the range; without it, pairs exactly as before.
TEST(Augment, JoinedClipsGrowIntoChainsWithinTheDrawnLength) {
  const std::vector<data::PreparedClip> batch(64, ToneClip("s/a", "a", 10, 6400, 0.5f));  // 0.4 s each
  auto other = [](std::mt19937_64&) { return ToneClip("s/o", "o", 10, 6400, 0.1f); };
  data::SequenceOptions o;
  o.join_prob = 1.0;
  o.pause_max_seconds = 0.2;
  auto run = [&](double max_seconds) {
    auto clips = batch;
    o.join_max_seconds = max_seconds;
    std::mt19937_64 rng(3);
    data::AugmentSequences(&clips, o, other, rng);
    return clips;
  };
  const auto pairs = run(0), chains = run(6);
  size_t longest = 0, shortest = 1000;
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ(pairs[i].text, "a o");
    const size_t words = chains[i].words.size();
    longest = std::max(longest, words);
    shortest = std::min(shortest, words);
    EXPECT_EQ(chains[i].text.size(), 2 * words - 1) << chains[i].text;  // "a o o ...": one word per clip
    EXPECT_LE(chains[i].video.size(0), std::max<int64_t>(25 + 5 + 10, 6.0 / 0.04)) << "past join_max_seconds";
    EXPECT_EQ(chains[i].audio.numel(), chains[i].video.size(0) * 640);
    for (size_t w = 1; w < words; ++w) EXPECT_GT(chains[i].words[w].start, chains[i].words[w - 1].end);
    // The pair part is drawn as before: the chain starts with the same two clips and pause.
    EXPECT_TRUE(torch::equal(chains[i].audio.narrow(0, 0, pairs[i].audio.numel()), pairs[i].audio));
  }
  EXPECT_EQ(shortest, 2u);  // a drawn length below the pair's keeps the pair
  EXPECT_GE(longest, 8u);   // 6 s holds up to 15 clips of 0.4 s with pauses
}

// join_in_batch (cheap joins): with probability join_prob the whole batch is joined two by two, a+b, c+d, e; the
// rows keep the batch's frames (plus pauses and pads) and word times move with the second clip.
TEST(Augment, JoinInBatchPairsTheBatchsOwnClips) {
  const std::vector<data::PreparedClip> batch = {
      ToneClip("s/a", "a", 5, 3200, 0.5f), ToneClip("s/b", "b", 4, 2560, 0.3f), ToneClip("s/c", "c", 6, 3840, 0.2f),
      ToneClip("s/d", "d", 3, 1920, 0.1f), ToneClip("s/e", "e", 2, 1280, 0.4f)};
  auto never = [](std::mt19937_64&) -> data::PreparedClip { throw std::logic_error("no corpus clip is drawn"); };
  data::SequenceOptions o;
  o.join_in_batch = true;
  o.pause_max_seconds = 0.2;
  auto run = [&](double prob, uint64_t seed) {
    auto clips = batch;
    o.join_prob = prob;
    std::mt19937_64 rng(seed);
    data::AugmentSequences(&clips, o, never, rng);
    return clips;
  };
  const auto joined = run(1.0, 5);
  ASSERT_EQ(joined.size(), 3u);
  EXPECT_EQ(joined[0].text, "a b");
  EXPECT_EQ(joined[1].text, "c d");
  EXPECT_EQ(joined[2].text, "e");
  for (const auto& row : joined) EXPECT_EQ(row.audio.numel(), row.video.size(0) * 640);
  EXPECT_GE(joined[0].video.size(0), 9);
  EXPECT_LE(joined[0].video.size(0), 9 + 5);  // + a pause of at most 0.2 s
  EXPECT_GT(joined[0].words[1].start, joined[0].words[0].end);
  const auto single = run(0.0, 5);
  ASSERT_EQ(single.size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) EXPECT_TRUE(torch::equal(single[i].audio, batch[i].audio));
  int whole = 0;  // join_prob 0.5: some batches joined, some not, never half of one
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const size_t rows = run(0.5, seed).size();
    EXPECT_TRUE(rows == 3 || rows == 5) << rows;
    whole += rows == 3;
  }
  EXPECT_GT(whole, 2);
  EXPECT_LT(whole, 18);
}

TEST(Augment, SeededNoiseAtTheDrawnSnrAndTimeMasks) {
  torch::manual_seed(0);
  const auto speech = torch::randn({16000}) * 0.1;
  const std::vector<at::Tensor> pool = {torch::randn({8000}), torch::randn({12000}) * 3, torch::randn({20000})};
  data::AugmentOptions o;
  o.noise_prob = 1.0;
  o.snr_min = o.snr_max = 5.0;
  std::mt19937_64 a(7), b(7), c(8);
  const auto x = data::AugmentAudio(speech, o, pool, false, a);
  EXPECT_TRUE(torch::equal(x, data::AugmentAudio(speech, o, pool, false, b)));  // same seed, same result
  EXPECT_FALSE(torch::equal(x, data::AugmentAudio(speech, o, pool, false, c)));
  EXPECT_NEAR(data::MeasureSnr(speech, x), 5.0, 0.5);
  EXPECT_TRUE(torch::equal(speech, speech.clone()));  // input untouched

  data::AugmentOptions masks;
  masks.audio_masks = 2;
  masks.audio_mask_max_seconds = 0.1;
  masks.video_masks = 1;
  masks.video_mask_max_frames = 3;
  std::mt19937_64 r(3);
  const auto y = data::AugmentAudio(speech, masks, {}, false, r);
  const int64_t zeros = (y == 0).sum().item<int64_t>();
  EXPECT_GT(zeros, 0);
  EXPECT_LE(zeros, 2 * 1600);
  const auto video = torch::randn({20, 88, 88}) + 5;
  const auto v = data::AugmentVideo(video, masks, r);
  const int64_t masked = (v.abs().sum({1, 2}) == 0).sum().item<int64_t>();
  EXPECT_GE(masked, 0);
  EXPECT_LE(masked, 3);
  data::AugmentOptions none;
  EXPECT_FALSE(none.any());
}

TEST(Augment, AudioDropoutSilencesAboutItsShareOfClipsAndLeavesTheOthersAlone) {
  torch::manual_seed(1);
  const auto speech = torch::randn({4000}) * 0.1;
  data::AugmentOptions o;
  o.audio_drop_prob = 0.25;
  EXPECT_TRUE(o.any());
  std::mt19937_64 rng(5);
  int silenced = 0;
  for (int i = 0; i < 400; ++i) {
    const auto y = data::AugmentAudio(speech, o, {}, false, rng);
    const bool silent = y.abs().max().item<float>() == 0.0f;
    silenced += silent;
    if (!silent) {
      ASSERT_TRUE(torch::equal(y, speech));
    }
  }
  EXPECT_NEAR(silenced / 400.0, 0.25, 0.06);
  // Without dropout the draws are what they were: the same seed gives the same noise as before the option existed.
  data::AugmentOptions noise;
  noise.noise_prob = 1.0;
  const std::vector<at::Tensor> pool = {torch::randn({8000})};
  std::mt19937_64 a(9), b(9);
  auto with_drop = noise;
  with_drop.audio_drop_prob = 1e-9;
  EXPECT_TRUE(torch::equal(data::AugmentAudio(speech, noise, pool, false, a),
                           data::AugmentAudio(speech, with_drop, pool, false, b)));
}

}  // namespace
}  // namespace mome
