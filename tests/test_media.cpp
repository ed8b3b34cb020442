// Media decoding (FFmpeg), the synthetic corpus (mome_synth) and mome_prepare over it. Test media are made by the
// ffmpeg program from its lavfi sources, so the expected content is known: a 30 fps video with a frame counter
// in brightness, a 440 Hz stereo tone at 44.1 kHz.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "mome/core/error.h"
#include "mome/data/prepared.h"
#include "mome/io/media.h"
#include "mome/io/media_writer.h"
#include "mome/io/safetensors.h"
#include "test_helpers.h"

namespace mome {
namespace {
namespace fs = std::filesystem;

class Media : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/mome_media_" + std::to_string(::getpid());
    testing::RemoveTree(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { testing::RemoveTree(dir_); }
  void Ffmpeg(const std::string& args) {
    const auto r = testing::RunCommand("ffmpeg -nostdin -v error -y " + args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::string dir_;
};

#ifdef MOME_WITH_MEDIA

double DominantHz(const at::Tensor& audio, int64_t rate) {
  const auto spectrum = torch::fft::rfft(audio).abs();
  return static_cast<double>(spectrum.argmax().item<int64_t>()) * rate / audio.numel();
}

TEST_F(Media, ResamplesAudioAndVideoToTheModelRates) {
  // 2 s: 30 fps gray ramp whose brightness is the frame number x 4; stereo 440 Hz at 44.1 kHz.
  Ffmpeg(
      "-f lavfi -i \"color=c=black:s=64x48:r=30:d=2,geq=lum='N*4':cb=128:cr=128\" -f lavfi -i "
      "\"sine=frequency=440:sample_rate=44100:duration=2\" -ac 2 -c:v libx264 -qp 0 -pix_fmt yuv444p -c:a flac "
      "-shortest " +
      dir_ + "/clip.mkv");
  const auto m = io::DecodeMedia(dir_ + "/clip.mkv");
  ASSERT_TRUE(m.video.defined());
  EXPECT_EQ(m.video.size(1), 48);
  EXPECT_EQ(m.video.size(2), 64);
  EXPECT_NEAR(m.video.size(0), 50, 1);  // 2 s at 25 fps
  EXPECT_NEAR(m.source_fps, 30.0, 1e-6);
  // Output frame n shows the source frame on screen at n / 25 s: source index floor-ish of n * 30 / 25.
  for (int64_t n : {0, 5, 10, 24, 40}) {
    const double brightness = m.video[n].to(torch::kFloat).mean().item<double>();
    const double source = std::llround(n * 30.0 / 25.0);
    // FFmpeg maps the stream's limited-range luma (16..235) to full-range gray.
    const double expected = std::clamp((4.0 * source - 16.0) * 255.0 / 219.0, 0.0, 255.0);
    EXPECT_NEAR(brightness, expected, 3.0) << "frame " << n;
  }
  EXPECT_NEAR(static_cast<double>(m.audio.numel()), 32000, 400);  // 16 kHz
  EXPECT_NEAR(DominantHz(m.audio, 16000), 440.0, 2.0);
  EXPECT_LE(m.audio.abs().max().item<float>(), 1.0f);
  EXPECT_EQ(m.frame_times.size(), static_cast<size_t>(m.video.size(0)));
  EXPECT_DOUBLE_EQ(m.frame_times[25], 1.0);

  io::MediaDecodeOptions audio_only;
  audio_only.video = false;
  audio_only.sample_rate = 8000;
  const auto a = io::DecodeMedia(dir_ + "/clip.mkv", audio_only);
  EXPECT_FALSE(a.video.defined());
  EXPECT_NEAR(static_cast<double>(a.audio.numel()), 16000, 200);
  EXPECT_NEAR(DominantHz(a.audio, 8000), 440.0, 2.0);
}

TEST_F(Media, BadFilesGiveOneLineNamingThem) {
  std::ofstream(dir_ + "/junk.mp4") << "this is not a video";
  Ffmpeg("-f lavfi -i \"sine=frequency=300:duration=1\" " + dir_ + "/tone.wav");
  auto expect_error = [](const std::string& path, const io::MediaDecodeOptions& o, const std::string& what) {
    try {
      io::DecodeMedia(path, o);
      ADD_FAILURE() << "no error for " << path;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      EXPECT_NE(msg.find(what), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  };
  expect_error(dir_ + "/junk.mp4", {}, "cannot");
  expect_error(dir_ + "/missing.mp4", {}, "cannot open");
  io::MediaDecodeOptions need_video;
  need_video.require_video = true;
  expect_error(dir_ + "/tone.wav", need_video, "no video stream");
  EXPECT_NEAR(DominantHz(io::DecodeMedia(dir_ + "/tone.wav").audio, 16000), 300.0, 2.0);

  std::ofstream(dir_ + "/empty.mp4").close();  // zero bytes
  expect_error(dir_ + "/empty.mp4", {}, "cannot");
  // A video-only file where audio is needed; an mp4 cut in half (its index, written last, is gone).
  Ffmpeg("-f lavfi -i testsrc=size=64x48:rate=25:duration=2 -c:v libx264 " + dir_ + "/silent.mp4");
  io::MediaDecodeOptions need_audio;
  need_audio.require_audio = true;
  expect_error(dir_ + "/silent.mp4", need_audio, "no audio stream");
  const auto size = fs::file_size(dir_ + "/silent.mp4");
  fs::copy_file(dir_ + "/silent.mp4", dir_ + "/cut.mp4");
  fs::resize_file(dir_ + "/cut.mp4", size / 2);
  expect_error(dir_ + "/cut.mp4", {}, "cut.mp4");
}

TEST_F(Media, PrepareNamesAMissingRootOrAnUnwritableOutput) {
  const std::string prepare = std::string(MOME_TOOL_DIR) + "/mome_prepare --corpus lrs3 --split test ";
  const auto missing = testing::RunCommand(prepare + "--root " + dir_ + "/no_corpus --out " + dir_ + "/out");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no_corpus"), std::string::npos) << missing.err;
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
  fs::create_directories(dir_ + "/corpus/test/spk");
  std::ofstream(dir_ + "/corpus/test/spk/00001.txt") << "Text:  HELLO\nConf:  5\n";
  // /proc refuses new folders even to root, so this holds on CI machines running as root too.
  const auto unwritable = testing::RunCommand(prepare + "--root " + dir_ + "/corpus --out /proc/mome_out");
  EXPECT_EQ(unwritable.exit_code, 1);
  EXPECT_NE(unwritable.err.find("/proc/mome_out"), std::string::npos) << unwritable.err;
}

TEST_F(Media, DecodingFromMemoryEqualsDecodingTheFile) {
  Ffmpeg(
      "-f lavfi -i testsrc=size=64x48:rate=25:duration=2 -f lavfi -i \"sine=frequency=440:sample_rate=22050:"
      "duration=2\" -c:v libx264 -qp 0 -c:a aac -shortest " +
      dir_ + "/upload.mp4");
  const auto bytes = std::make_shared<const std::string>(testing::ReadFile(dir_ + "/upload.mp4"));
  const auto from_file = io::DecodeMedia(dir_ + "/upload.mp4");
  const auto from_memory = io::DecodeMediaFromMemory(bytes, "upload.mp4");
  EXPECT_TRUE(at::equal(from_file.audio, from_memory.audio));
  EXPECT_TRUE(at::equal(from_file.video, from_memory.video));
  for (const std::string& junk : {std::string("not media at all"), bytes->substr(0, bytes->size() / 3)}) {
    try {
      io::DecodeMediaFromMemory(std::make_shared<const std::string>(junk), "upload.bin");
      ADD_FAILURE() << "junk decoded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("upload.bin"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(io::DecodeMediaFromMemory(std::make_shared<const std::string>(), "empty"), Error);
}

TEST_F(Media, StreamingReaderChunksConcatenateToTheWholeDecode) {
  // 12 s: 30 fps test pattern, 44.1 kHz stereo tone; read back in 2.5 s chunks.
  Ffmpeg(
      "-f lavfi -i testsrc=size=64x48:rate=30:duration=12 -f lavfi -i "
      "\"sine=frequency=300:sample_rate=44100:duration=12\" -ac 2 -c:v libx264 -qp 0 -c:a flac -shortest " +
      dir_ + "/long.mkv");
  const auto whole = io::DecodeMedia(dir_ + "/long.mkv");
  auto reader = io::MediaReader::Open(dir_ + "/long.mkv");
  std::vector<at::Tensor> audio, video;
  std::vector<double> times;
  int chunks = 0;
  while (!reader->done()) {
    const auto part = reader->Read(2.5);
    ASSERT_LE(part.video.size(0), 63);  // 62.5 frames a chunk, rounded at the accumulated end
    ASSERT_LE(part.audio.numel(), 40000 + 640);
    audio.push_back(part.audio);
    video.push_back(part.video);
    times.insert(times.end(), part.frame_times.begin(), part.frame_times.end());
    ASSERT_LT(++chunks, 20) << "the reader never finished";
  }
  EXPECT_GE(chunks, 5);
  EXPECT_TRUE(at::equal(at::cat(audio), whole.audio));
  EXPECT_TRUE(at::equal(at::cat(video), whole.video));
  EXPECT_EQ(times, whole.frame_times);
  EXPECT_EQ(reader->Read(1.0).audio.numel(), 0);  // after the end: empty
}

TEST_F(Media, VariableFrameRateSourcesAreResampledByTimestamp) {
  // 60 source frames with brightness 4 x index: the first 30 at 30 fps (1 s), the next 30 at 15 fps (2 s).
  Ffmpeg(
      "-f lavfi -i \"color=c=black:s=64x48:r=30:d=2,geq=lum='N*4':cb=128:cr=128\" -vf "
      "\"setpts='if(lt(N,30),N,30+(N-30)*2)/(30*TB)'\" -fps_mode vfr -c:v libx264 -qp 0 -pix_fmt yuv444p " +
      dir_ + "/vfr.mkv");
  const auto m = io::DecodeMedia(dir_ + "/vfr.mkv");
  ASSERT_TRUE(m.video.defined());
  EXPECT_NEAR(m.video.size(0), 75, 1);  // 3 s at 25 fps
  std::vector<double> starts;           // source frame start times
  for (int k = 0; k < 60; ++k) starts.push_back(k < 30 ? k / 30.0 : 1.0 + (k - 30) / 15.0);
  int checked = 0;
  for (int64_t n = 0; n < m.video.size(0); ++n) {
    // The decoder's rule: slot n shows the last source frame whose start rounds to a slot <= n. Skip slots where
    // a start lies within 2 ms of the rounding boundary (the container stores milliseconds).
    int64_t k = 0;
    bool ambiguous = false;
    for (int64_t j = 0; j < 60; ++j) {
      const double slot = starts[j] * 25.0;
      if (std::abs(slot - (n + 0.5)) < 0.05) ambiguous = true;
      if (slot < n + 0.5) k = j;
    }
    if (ambiguous) continue;
    const double brightness = m.video[n].to(torch::kFloat).mean().item<double>();
    const double expected = std::clamp((4.0 * k - 16.0) * 255.0 / 219.0, 0.0, 255.0);
    EXPECT_NEAR(brightness, expected, 3.0) << "output frame " << n << " should show source frame " << k;
    ++checked;
  }
  EXPECT_GT(checked, 20);
}

TEST_F(Media, SynthCorpusIsDeterministicAndPrepares) {
  const std::string tools = MOME_TOOL_DIR;
  // Two processes at a time, then one, then a re-run after two clips were lost: the same speech and transcripts to
  // the sample (espeak-ng's state is replayed on a re-run) and the same video up to libx264's coding of a B-frame or
  // two (a clip re-made in another batch of processes can differ there: noise-level, cause not found).
  auto synth = [&](const std::string& name, const std::string& threads) {
    const auto r = testing::RunCommand(tools + "/mome_synth --out " + dir_ + "/" + name +
                                       " --count 4 --split test --seed 5 --threads " + threads);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  synth("a", "2");
  synth("b", "1");
  for (const char* lost : {"/b/test/en-us_m4/00000", "/b/test/en_f3/00003"})
    for (const char* ext : {".mp4", ".txt"}) fs::remove(dir_ + lost + ext);
  synth("b", "2");
  // LRS3 layout, test voices, held-out sentences; the same audio and video from the same seed.
  std::vector<std::string> clips;
  for (const auto& e : fs::recursive_directory_iterator(dir_ + "/a"))
    if (e.path().extension() == ".mp4") clips.push_back(fs::relative(e.path(), dir_ + "/a").string());
  ASSERT_EQ(clips.size(), 4u);
  for (const auto& c : clips) {
    EXPECT_EQ(c.rfind("test/en", 0), 0u) << c;  // the default test voices
    const auto m = io::DecodeMedia(dir_ + "/a/" + c), again = io::DecodeMedia(dir_ + "/b/" + c);
    ASSERT_EQ(m.video.sizes(), again.video.sizes()) << c;
    EXPECT_LT((m.video.to(torch::kFloat) - again.video.to(torch::kFloat)).abs().mean().item<double>(), 1.0) << c;
    EXPECT_TRUE(torch::equal(m.audio, again.audio)) << c;
    const std::string text = c.substr(0, c.size() - 4) + ".txt";
    EXPECT_EQ(testing::ReadFile(dir_ + "/a/" + text), testing::ReadFile(dir_ + "/b/" + text)) << c;
    EXPECT_EQ(m.video.size(1), 96);
    EXPECT_NEAR(static_cast<double>(m.audio.numel()) / 640.0, static_cast<double>(m.video.size(0)), 2.0);
  }
  // A corrupt clip is skipped and listed; the others are prepared; a re-run keeps the shards.
  const std::string bad = dir_ + "/a/test/en-us_m4/99999";
  std::ofstream(bad + ".mp4") << "broken";
  std::ofstream(bad + ".txt") << "Text:  BIN BLUE AT A ONE NOW\nConf:  5\n";
  // Good media with a transcript that is not UTF-8: skipped and listed too, never fatal to the run.
  const std::string garbled = dir_ + "/a/test/en-us_m4/99998";
  for (const auto& e : fs::directory_iterator(dir_ + "/a/test/en-us_m4"))
    if (e.path().extension() == ".mp4" && e.path().stem() != "99999") {
      fs::copy_file(e.path(), garbled + ".mp4");
      break;
    }
  std::ofstream(garbled + ".txt") << "Text:  BIN \xff\xfe BLUE\nConf:  5\n";
  const std::string prepare = tools + "/mome_prepare --corpus lrs3 --root " + dir_ + "/a --split test --out " + dir_ +
                              "/prepared --shard-size 2";
  const auto p1 = testing::RunCommand(prepare);
  ASSERT_EQ(p1.exit_code, 0) << p1.err;
  EXPECT_NE(p1.err.find("99999"), std::string::npos) << p1.err;
  const auto corpus = data::PreparedCorpus::Open(dir_ + "/prepared");
  EXPECT_EQ(corpus.size(), 4u);
  const auto clip = corpus.Load(0);
  EXPECT_EQ(clip.video.size(1), 96);
  EXPECT_FALSE(clip.text.empty());
  std::ifstream problems(dir_ + "/prepared/problems.jsonl");
  std::string keys, line;
  while (std::getline(problems, line)) keys += nlohmann::json::parse(line)["key"].get<std::string>() + " ";
  EXPECT_NE(keys.find("99999"), std::string::npos) << keys;
  EXPECT_NE(keys.find("99998"), std::string::npos) << keys;
  const auto p2 = testing::RunCommand(prepare);
  ASSERT_EQ(p2.exit_code, 0) << p2.err;
  EXPECT_NE(p2.err.find("3 from an earlier run"), std::string::npos) << p2.err;
}

TEST_F(Media, Mp4WriterRoundTripsFramesAndAudioAndLeavesNothingHalfWritten) {
  // 40 frames of 64x48: a left-right ramp (2 levels a column) brightening 2 levels a frame; 1.6 s of 440 Hz at 22.05
  // kHz.
  io::Mp4Spec spec;
  spec.width = 64, spec.height = 48, spec.sample_rate = 22050;
  const std::string path = dir_ + "/clip.mp4";
  auto writer = io::Mp4Writer::Create(path, spec);
  std::vector<int16_t> tone(35280);
  for (size_t i = 0; i < tone.size(); ++i)
    tone[i] = static_cast<int16_t>(8000 * std::sin(2 * M_PI * 440 * i / 22050.0));
  writer->WriteAudio(tone.data(), 1000);  // fed in uneven pieces, as a caller streams it
  writer->WriteAudio(tone.data() + 1000, static_cast<int64_t>(tone.size()) - 1000);
  std::vector<uint8_t> frame(64 * 48);
  for (int f = 0; f < 40; ++f) {
    for (int y = 0; y < 48; ++y)
      for (int x = 0; x < 64; ++x) frame[y * 64 + x] = static_cast<uint8_t>(20 + 2 * f + 2 * x);
    writer->WriteFrame(frame.data());
  }
  EXPECT_FALSE(fs::exists(path));  // nothing in place before Finish
  writer->Finish();
  writer.reset();
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);  // no temp file left
  const auto m = io::DecodeMedia(path, {});
  ASSERT_EQ(m.video.size(0), 40);
  EXPECT_EQ(m.video.size(1), 48);
  EXPECT_EQ(m.video.size(2), 64);
  const auto expected = 2 * torch::arange(64).view({1, 1, 64}) + 20 + 2 * torch::arange(40).view({40, 1, 1});
  EXPECT_LT((m.video.to(torch::kFloat) - expected).abs().mean().item<double>(), 2.0);  // crf 18: near lossless
  EXPECT_NEAR(static_cast<double>(m.audio.numel()), 1.6 * 16000, 1024);                // AAC pads to whole frames
  EXPECT_NEAR(DominantHz(m.audio, 16000), 440, 2);
  // Abandoned before Finish: no file, no temp; bad specs and folders are refused naming the path.
  auto abandoned = io::Mp4Writer::Create(dir_ + "/abandoned.mp4", spec);
  abandoned->WriteFrame(frame.data());
  abandoned.reset();
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
  auto expect_refused = [&](const std::string& target, const std::string& what) {
    try {
      io::Mp4Writer::Create(target, spec);
      ADD_FAILURE() << "no error for " << target;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(target), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  spec.width = 63;
  expect_refused(dir_ + "/odd.mp4", "even");
  spec.width = 64;
  expect_refused(dir_ + "/no/such/folder/x.mp4", "creating the file");
}

TEST_F(Media, SynthNamesAClipItCannotWriteInOneLine) {
  // A folder where clip 00000's mp4 must go: its writer process fails at the rename and the error comes back to the
  // parent, which names the file and exits 1 after the other clips are written.
  fs::create_directories(dir_ + "/c/test/en-us_m4/00000.mp4");
  const auto r = testing::RunCommand(std::string(MOME_TOOL_DIR) + "/mome_synth --out " + dir_ +
                                     "/c --count 2 --split test --seed 5 --threads 2");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(testing::CountErrorLines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("00000.mp4"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ + "/c/test/en-us_m4/00000.txt"));  // not marked finished
  EXPECT_TRUE(fs::exists(dir_ + "/c/test/en_f3/00001.txt"));
}

// Every file of a prepared folder (manifest, shard lists, shards, problems), by name.
std::map<std::string, std::string> PreparedFiles(const std::string& dir) {
  std::map<std::string, std::string> files;
  if (!fs::exists(dir)) return files;  // killed before it made the folder
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files[fs::relative(e.path(), dir).string()] = testing::ReadFile(e.path().string());
  return files;
}

TEST_F(Media, PrepareKilledAtRandomMomentsThenRerunEqualsAnUninterruptedRun) {
  const std::string tools = MOME_TOOL_DIR;
  ASSERT_EQ(testing::RunCommand(tools + "/mome_synth --out " + dir_ + "/c --count 6 --split test --seed 8").exit_code,
            0);
  auto argv = [&](const std::string& out) {
    return std::vector<std::string>{
        tools + "/mome_prepare", "--corpus", "lrs3",      "--root", dir_ + "/c", "--split", "test", "--out", out,
        "--shard-size",          "1",        "--threads", "1"};
  };
  auto command = [](const std::vector<std::string>& a) {
    std::string c;
    for (const auto& part : a) c += part + " ";
    return c;
  };
  const auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(testing::RunCommand(command(argv(dir_ + "/full"))).exit_code, 0);
  const double run_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> moment(0.1, 0.9);
  for (int kill = 1; kill <= 8; ++kill) {
    testing::KillAfter(testing::SpawnQuiet(argv(dir_ + "/killed")), static_cast<int64_t>(moment(rng) * run_ms));
    // Whatever a reader can see is whole: every finished shard list names a shard that loads.
    for (const auto& [name, text] : PreparedFiles(dir_ + "/killed")) {
      if (name.size() < 6 || name.compare(name.size() - 6, 6, ".jsonl") != 0 || name == "manifest.jsonl" ||
          name == "problems.jsonl")
        continue;
      std::istringstream lines(text);
      for (std::string line; std::getline(lines, line);) {
        const auto entry = data::PreparedEntryFromJson(line, name);
        EXPECT_NO_THROW(io::SafetensorsFile::Open(dir_ + "/killed/" + entry.shard)->Get(entry.audio))
            << "after kill " << kill << ": " << name;
      }
    }
  }
  const auto rerun = testing::RunCommand(command(argv(dir_ + "/killed")));
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  const auto a = PreparedFiles(dir_ + "/full"), b = PreparedFiles(dir_ + "/killed");
  for (const auto& [name, bytes] : a) EXPECT_TRUE(b.count(name) && b.at(name) == bytes) << name;
  for (const auto& [name, bytes] : b) EXPECT_TRUE(a.count(name)) << "left behind: " << name;
}

TEST_F(Media, PrepareOnAFullDiskFailsInOneLineAndLeavesNoShardThatLooksComplete) {
  const std::string tools = MOME_TOOL_DIR;
  ASSERT_EQ(testing::RunCommand(tools + "/mome_synth --out " + dir_ + "/d --count 4 --split test --seed 9").exit_code,
            0);
  testing::SmallDisk disk(dir_ + "/disk", 96 * 1024);  // less than one shard of two clips
  if (!disk.mounted()) GTEST_SKIP() << disk.why();
  const auto r = testing::RunCommand(tools + "/mome_prepare --corpus lrs3 --root " + dir_ + "/d --split test --out " +
                                     dir_ + "/disk/prepared --shard-size 2 --threads 1");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(testing::CountErrorLines(r.err), 1) << r.err;
  for (const auto& [name, bytes] : PreparedFiles(dir_ + "/disk/prepared")) {
    EXPECT_EQ(name.find(".tmp."), std::string::npos) << "left behind: " << name;
    EXPECT_TRUE(name.find(".jsonl") == std::string::npos) << name << " marks a shard or corpus complete";
  }
}

#else

TEST_F(Media, WithoutFfmpegOnlyWavDecodes) {
  EXPECT_FALSE(io::MediaDecodingAvailable());
  EXPECT_THROW(io::DecodeMedia(dir_ + "/clip.mp4"), Error);
}

#endif

}  // namespace
}  // namespace mome
