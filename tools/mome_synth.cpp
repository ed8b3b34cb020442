// mome_synth: a synthetic audio-visual corpus in the LRS3 layout, for tests and the demo (no download needed).
//   mome_synth --out DIR --count N [--voices v1,v2,...] [--seed S] [--split NAME] [--snr DB] [--threads N] [--face]
// GRID-grammar sentences spoken by espeak-ng voices, with a rendered mouth (96x96, as auto_avsr's crops) that
// follows the phonemes, encoded in-process (io::Mp4Writer) into 25 fps mp4 (h264 + aac) with an LRS3 transcript:
//   DIR/SPLIT/SPEAKER/NNNNN.mp4 + NNNNN.txt     (SPEAKER = the voice, '+' written as '_')
// With --face the video is a whole face (224x224, as raw LRS3 clips) carrying the same rendered mouth, plus
// NNNNN.landmarks.json (68 points per frame) for --roi landmarks.
// Same seed and arguments -> the same corpus. Test/val splits use held-out sentences (grid_grammar.h) and, by
// default, voices disjoint from the training ones. A re-run skips finished clips.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "mome/core/cli.h"
#include "mome/core/error.h"
#include "mome/core/progress.h"
#include "mome/io/media_writer.h"
#include "synth/face_renderer.h"
#include "synth/grid_grammar.h"
#include "synth/mouth_renderer.h"
#include "synth/speech.h"
#include "tool_main.h"

namespace mome {
namespace {
namespace fs = std::filesystem;

// Default voices: training and evaluation speakers never overlap.
constexpr const char* kTrainVoices = "en-us+m1,en-us+f2,en+m3,en-us+m7,en-gb-x-rp+f4,en-029+m2";
constexpr const char* kTestVoices = "en-us+m4,en+f3";

bool IsEvalSplit(const std::string& split) {
  return split.rfind("test", 0) == 0 || split.rfind("val", 0) == 0 || split.rfind("dev", 0) == 0;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

struct Clip {
  std::string dir, id, voice;
  synth::GridSentence sentence;
  synth::Utterance speech;
  uint64_t seed = 0;
  bool face = false;
};

std::string Transcript(const Clip& c) {
  std::ostringstream t;
  std::string text;
  for (const auto& w : c.sentence.words) text += (text.empty() ? "" : " ") + w;
  t << "Text:  " << text << "\nConf:  5\n\nWORD START END ASDSCORE\n";
  const double seconds = static_cast<double>(c.speech.samples.size()) / c.speech.sample_rate;
  const auto& starts = c.speech.word_starts;
  if (starts.size() == c.sentence.words.size()) {
    t << std::fixed << std::setprecision(2);
    for (size_t i = 0; i < starts.size(); ++i)
      t << c.sentence.words[i] << ' ' << starts[i] << ' ' << (i + 1 < starts.size() ? starts[i + 1] : seconds)
        << " 5.0\n";
  }
  return t.str();
}

// --face: a whole face (synth/face_renderer.h) whose mouth is the rendered mouth crop, in a 224x224 frame (as raw
// LRS3 clips), placed per clip and drifting slowly, so that mouth crops must be found (--roi detect|landmarks).
constexpr int kFaceFrame = 224;

std::pair<synth::FacePose, synth::FaceLook> FaceAt(const Clip& c, const synth::FaceStyle& style, const synth::Viseme& v,
                                                   double seconds, const cv::Mat* mouth) {
  std::mt19937_64 rng(c.seed ^ 0xfaceULL);
  auto u = [&](double a, double b) { return a + (b - a) * static_cast<double>(rng() % 10000) / 10000.0; };
  synth::FacePose pose;
  const double drift = u(0, 6.28);
  pose.cx = u(96, 128) + 6 * std::sin(0.7 * seconds + drift);
  pose.cy = u(100, 120) + 3 * std::sin(0.5 * seconds + 2 * drift);
  pose.width = u(100, 125);
  pose.roll_degrees = u(-8, 8) + 2 * std::sin(0.4 * seconds + drift);
  synth::FaceLook look;
  look.skin = style.skin;
  look.background = u(40, 120);
  look.mouth_open = v.open;
  look.mouth_patch = mouth;
  look.patch_mouth_centre = cv::Point2d(style.cx, style.cy + 6.0 * v.open);
  look.patch_mouth_half_width = style.mouth_width;
  return {pose, look};
}

// Renders the mouth track and encodes it with the audio into DIR/ID.mp4 (io::Mp4Writer: in this process, temp file
// then rename), then writes the transcript.
void WriteClip(const Clip& c) {
  constexpr double kFps = 25.0;
  const std::string base = c.dir + "/" + c.id;
  const double seconds = static_cast<double>(c.speech.samples.size()) / c.speech.sample_rate;
  const auto track = synth::VisemeTrack(c.speech.phonemes, seconds, kFps);
  const auto style = synth::FaceStyle::ForSpeaker(std::hash<std::string>{}(c.voice));
  std::mt19937_64 rng(c.seed);
  io::Mp4Spec spec;
  spec.width = spec.height = c.face ? kFaceFrame : 96;
  spec.fps = kFps;
  spec.sample_rate = c.speech.sample_rate;
  const auto mp4 = io::Mp4Writer::Create(base + ".mp4", spec);
  mp4->WriteAudio(c.speech.samples.data(), static_cast<int64_t>(c.speech.samples.size()));
  nlohmann::json landmarks = nlohmann::json::array();
  for (size_t f = 0; f < track.size(); ++f) {
    const cv::Mat mouth = synth::RenderMouth(track[f], style, rng);
    if (!c.face) {
      mp4->WriteFrame(mouth.data);
      continue;
    }
    cv::Mat frame(kFaceFrame, kFaceFrame, CV_8UC1);
    const auto [pose, look] = FaceAt(c, style, track[f], static_cast<double>(f) / kFps, &mouth);
    frame.setTo(look.background);
    nlohmann::json points = nlohmann::json::array();
    for (const auto& p : synth::DrawFace(frame, pose, look))
      points.push_back({std::round(p.x * 100) / 100, std::round(p.y * 100) / 100});
    landmarks.push_back(points);
    mp4->WriteFrame(frame.data);
  }
  if (c.face)
    std::ofstream(base + ".landmarks.json") << nlohmann::json{{"fps", kFps}, {"frames", landmarks}}.dump() << "\n";
  mp4->Finish();
  std::ofstream(base + ".txt.tmp") << Transcript(c);
  fs::rename(base + ".txt.tmp", base + ".txt");  // last: marks the clip finished
}

void AddNoise(std::vector<int16_t>* samples, double snr_db, uint64_t seed) {
  double power = 0;
  for (int16_t s : *samples) power += static_cast<double>(s) * s;
  power /= std::max<size_t>(1, samples->size());
  const double sigma = std::sqrt(power / std::pow(10.0, snr_db / 10.0));
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, sigma);
  for (auto& s : *samples) s = static_cast<int16_t>(std::clamp(s + noise(rng), -32768.0, 32767.0));
}

// Writes one clip in a child process; returns its pid and the read end of a pipe carrying its error, if any.
std::pair<pid_t, int> StartClipProcess(const Clip& clip) {
  int fds[2];
  MOME_CHECK(pipe(fds) == 0, ErrorCode::kIo, "cannot create a pipe for a clip writer");
  std::cout.flush(), std::cerr.flush(), std::fflush(nullptr);  // nothing buffered is written twice
  const pid_t pid = fork();
  MOME_CHECK(pid >= 0, ErrorCode::kIo, "cannot start a clip writer process");
  if (pid == 0) {
    close(fds[0]);
    int code = 0;
    try {
      WriteClip(clip);
    } catch (const std::exception& e) {
      const std::string message = e.what();
      code = write(fds[1], message.data(), message.size()) >= 0 ? 1 : 2;
    }
    _exit(code);  // no exit handlers: they belong to the parent
  }
  close(fds[1]);
  return {pid, fds[0]};
}

// Waits for one clip process; returns its error ("" when it succeeded).
std::string FinishClipProcess(std::map<pid_t, int>* running) {
  int status = 0;
  const pid_t pid = waitpid(-1, &status, 0);
  MOME_CHECK(pid > 0 && running->count(pid), ErrorCode::kInternal, "lost track of a clip writer process");
  const int fd = (*running)[pid];
  running->erase(pid);
  std::string message(4096, '\0');
  const ssize_t n = read(fd, message.data(), message.size());
  close(fd);
  message.resize(static_cast<size_t>(std::max<ssize_t>(n, 0)));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return message.empty() ? "a clip writer process died (status " + std::to_string(status) + ")" : message;
}

// Writes `batch`, each clip in its own forked process, `jobs` at a time; the first error is thrown after all end.
// A process per clip (as the ffmpeg program was): with two encoding threads in one process, three runs of the same
// arguments gave three different corpora (identical frames coded differently); with a process per clip, runs with
// the same arguments give the same bytes. A clip re-made in another batch of processes (a re-run after a stop,
// another --threads or --count) can still differ in the coding of a B-frame or two — noise-level, cause not found.
// fork() costs far less than starting a program (no exec, no library loading); this process itself never encodes.
void WriteClips(const std::vector<Clip>& batch, int64_t jobs) {
  std::map<pid_t, int> running;
  std::string error;
  for (size_t next = 0; next < batch.size() || !running.empty();) {
    if (next < batch.size() && static_cast<int64_t>(running.size()) < jobs) {
      running.insert(StartClipProcess(batch[next++]));
      continue;
    }
    const std::string e = FinishClipProcess(&running);
    if (error.empty()) error = e;
  }
  MOME_CHECK(error.empty(), ErrorCode::kIo, error);
}

struct SynthSettings {
  std::string out, split;
  int64_t count = 0, threads = 2;
  std::vector<std::string> voices;
  uint64_t seed = 0;
  bool noisy = false, face = false;
  double snr = 0;
};

// Clip i's choices (voice, sentence, rate, pitch, seed), drawn from the corpus stream in order, so that skipping
// finished clips changes nothing.
Clip PlanClip(const SynthSettings& s, int64_t i, std::mt19937_64& rng, int* rate, int* pitch) {
  Clip c;
  c.voice = s.voices[static_cast<size_t>(i) % s.voices.size()];
  c.sentence = synth::GridSentenceAt(synth::SampleSentenceIndex(s.split, rng));
  *rate = 150 + static_cast<int>(rng() % 41);  // words per minute
  *pitch = 35 + static_cast<int>(rng() % 31);
  c.seed = rng();
  c.face = s.face;
  std::string speaker_dir = c.voice;
  std::replace(speaker_dir.begin(), speaker_dir.end(), '+', '_');
  char id[24];
  std::snprintf(id, sizeof id, "%05lld", static_cast<long long>(i));
  c.dir = s.out + "/" + s.split + "/" + speaker_dir;
  c.id = id;
  return c;
}

void Synthesise(const SynthSettings& s) {
  std::error_code ec;
  fs::create_directories(s.out + "/" + s.split, ec);
  MOME_CHECK(!ec, ErrorCode::kIo, s.out, ": cannot create the output folder (", ec.message(), ")");
  synth::Speaker speaker;
  for (const auto& v : s.voices) speaker.Say("test", v, 175, 50);  // a bad voice name fails before any work
  ProgressBar bar("synth", s.count, "clips");
  std::mt19937_64 corpus_rng(s.seed * 1000003ULL + std::hash<std::string>{}(s.split));
  std::vector<Clip> batch;
  int64_t done = 0;
  auto flush = [&] {
    WriteClips(batch, s.threads);
    done += static_cast<int64_t>(batch.size());
    bar.Update(done);
    batch.clear();
  };
  for (int64_t i = 0; i < s.count; ++i) {
    int rate = 0, pitch = 0;
    Clip c = PlanClip(s, i, corpus_rng, &rate, &pitch);
    // Spoken even when the clip exists: espeak-ng carries state from one utterance to the next, so a re-run must
    // say every earlier sentence again (2 ms each) for the missing clips to sound as in an uninterrupted run.
    std::string text;
    for (const auto& w : c.sentence.spoken) text += (text.empty() ? "" : " ") + w;
    c.speech = speaker.Say(text, c.voice, rate, pitch);
    if (fs::exists(c.dir + "/" + c.id + ".txt")) {
      bar.Update(++done);
      continue;
    }
    fs::create_directories(c.dir, ec);
    MOME_CHECK(!ec, ErrorCode::kIo, c.dir, ": cannot create (", ec.message(), ")");
    MOME_CHECK(!c.speech.samples.empty(), ErrorCode::kInternal, "espeak-ng produced no audio for '", text, "'");
    if (s.noisy) AddNoise(&c.speech.samples, s.snr, c.seed ^ 0x5eedULL);
    batch.push_back(std::move(c));
    if (static_cast<int64_t>(batch.size()) >= 8 * s.threads) flush();
  }
  flush();
}

int Main(int argc, char** argv) {
  CliParser cli("mome_synth", "Synthesises a GRID-grammar audio-visual corpus in the LRS3 layout.");
  cli.AddRequired("--out", "DIR", "corpus root (clips go to DIR/SPLIT/SPEAKER/)")
      .AddRequired("--count", "N", "clips to synthesise")
      .AddOption("--voices", "LIST",
                 std::string("espeak-ng voices with variants; default train: ") + kTrainVoices +
                     "; test/val splits: " + kTestVoices,
                 "")
      .AddOption("--seed", "S", "random seed (sentences, speaking rate and pitch, video noise)", "0")
      .AddOption("--split", "NAME", "split folder; test*/val*/dev* use held-out sentences and test voices", "trainval")
      .AddOption("--snr", "DB", "add white noise to the audio at this SNR (default: clean)", "")
      .AddOption("--threads", "N", "clips rendered and encoded in parallel (one process each)", "2")
      .AddFlag("--face",
               "whole faces in 224x224 frames (plus ID.landmarks.json) instead of 96x96 mouth crops; prepare them "
               "with mome_prepare --roi detect or --roi landmarks");
  if (!cli.Parse(argc, argv)) return 0;
  SynthSettings s;
  s.out = cli.GetString("--out");
  s.split = cli.GetString("--split");
  s.count = cli.GetInt("--count");
  MOME_CHECK(s.count > 0, ErrorCode::kInvalidArgument, "--count must be positive");
  MOME_CHECK(!s.split.empty() && s.split.find('/') == std::string::npos, ErrorCode::kInvalidArgument,
             "--split must be a plain folder name");
  s.voices = cli.Has("--voices") ? SplitList(cli.GetString("--voices")) : std::vector<std::string>{};
  if (s.voices.empty()) s.voices = SplitList(IsEvalSplit(s.split) ? kTestVoices : kTrainVoices);
  s.seed = static_cast<uint64_t>(cli.GetInt("--seed"));
  s.noisy = cli.Has("--snr");
  s.snr = s.noisy ? cli.GetDouble("--snr") : 0.0;
  s.threads = cli.GetInt("--threads");
  MOME_CHECK(s.threads >= 1 && s.threads <= 256, ErrorCode::kInvalidArgument, "--threads must be in [1, 256]");
  s.face = cli.GetFlag("--face");
  Synthesise(s);
  std::cerr << "mome_synth: " << s.count << " clips in " << s.out << "/" << s.split << " (" << s.voices.size()
            << " voices)" << std::endl;
  return 0;
}

}  // namespace
}  // namespace mome

int main(int argc, char** argv) {
  return mome::tools::RunTool("mome_synth", [&] { return mome::Main(argc, argv); });
}
