// Whisper front end and encoder against HF (fixtures: tests/fixtures/make_whisper_fixtures.py), and the WAV reader.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "mome/core/error.h"
#include "mome/encoders/whisper.h"
#include "mome/frontend/log_mel.h"
#include "mome/io/safetensors.h"
#include "mome/io/wav.h"
#include "test_helpers.h"

namespace {

using mome::testing::DataPath;

at::Tensor Wav(const std::string& name) {
  return mome::io::ReadWavMono(DataPath("whisper/" + name + ".wav"));
}

const mome::io::SafetensorsFile& MelRef() {
  static auto file = mome::io::SafetensorsFile::Open(DataPath("whisper/mel.safetensors"));
  return *file;
}

const mome::io::SafetensorsFile& EncRef() {
  static auto file = mome::io::SafetensorsFile::Open(DataPath("whisper/encoder.safetensors"));
  return *file;
}

double MaxAbs(const at::Tensor& a, const at::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a.to(torch::kDouble).cpu() - b.to(torch::kDouble).cpu()).abs().max().item<double>();
}

double RelErr(const at::Tensor& got, const at::Tensor& want) {
  return MaxAbs(got, want) / want.to(torch::kDouble).abs().max().item<double>();
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string Le(uint32_t v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  return s;
}

std::string WavBytes(uint16_t format, uint16_t channels, uint32_t rate, uint16_t bits, const std::string& pcm) {
  const uint16_t align = static_cast<uint16_t>(channels * bits / 8);
  std::string fmt = Le(format, 2) + Le(channels, 2) + Le(rate, 4) + Le(rate * align, 4) + Le(align, 2) + Le(bits, 2);
  std::string body =
      "WAVE" + std::string("fmt ") + Le(16, 4) + fmt + "data" + Le(static_cast<uint32_t>(pcm.size()), 4) + pcm;
  return "RIFF" + Le(static_cast<uint32_t>(body.size()), 4) + body;
}

const char* kWavs[] = {"speech", "tone"};

}  // namespace

TEST(WhisperLogMel, UnpaddedMatchesHF) {
  double worst = 0;
  for (int n_mels : {80, 128})
    for (bool norm : {false, true})
      for (const char* name : kWavs) {
        mome::frontend::LogMelOptions o;
        o.n_mels = n_mels;
        o.pad_to_30s = false;
        o.normalize = norm;
        const std::string tag = std::string(name) + "_" + std::to_string(n_mels) + (norm ? "_norm" : "");
        auto got = mome::frontend::LogMel(o)(Wav(name));
        const double err = MaxAbs(got, MelRef().Get(tag + "_unpadded"));
        EXPECT_LT(err, 1e-4) << tag;
        worst = std::max(worst, err);
      }
  std::printf("[whisper] log-mel unpadded: worst max abs diff vs HF %.3g\n", worst);
}

TEST(WhisperLogMel, PaddedMatchesHF) {
  double worst = 0;
  for (int n_mels : {80, 128})
    for (bool norm : {false, true})
      for (const char* name : kWavs) {
        mome::frontend::LogMelOptions o;
        o.n_mels = n_mels;
        o.normalize = norm;
        const std::string tag = std::string(name) + "_" + std::to_string(n_mels) + (norm ? "_norm" : "");
        auto got = mome::frontend::LogMel(o)(Wav(name));
        ASSERT_EQ(got.sizes(), (std::vector<int64_t>{n_mels, 3000}));
        auto head = MelRef().Get(tag + "_padded_head");
        const double err = MaxAbs(got.slice(1, 0, head.size(1)), head);
        EXPECT_LT(err, 1e-4) << tag;
        worst = std::max(worst, err);
        auto tail = got.slice(1, head.size(1)).to(torch::kDouble);
        auto stats = MelRef().Get(tag + "_padded_tail_stats");
        EXPECT_NEAR(tail.sum().item<double>(), stats[0].item<double>(), 1e-4 * static_cast<double>(tail.numel()))
            << tag;
        EXPECT_NEAR(tail.min().item<double>(), stats[1].item<double>(), 1e-4) << tag;
        EXPECT_NEAR(tail.max().item<double>(), stats[2].item<double>(), 1e-4) << tag;
      }
  std::printf("[whisper] log-mel padded (first 200 frames): worst max abs diff vs HF %.3g\n", worst);
}

TEST(WhisperLogMel, BatchedLongestMatchesHF) {
  for (int n_mels : {80, 128}) {
    mome::frontend::LogMelOptions o;
    o.n_mels = n_mels;
    o.pad_to_30s = false;
    auto got = mome::frontend::LogMel(o)({Wav("speech"), Wav("tone")});
    EXPECT_LT(MaxAbs(got, MelRef().Get("batch_" + std::to_string(n_mels) + "_unpadded")), 1e-4) << n_mels;
  }
}

TEST(WhisperLogMel, RejectsBadOptions) {
  mome::frontend::LogMelOptions o;
  o.n_mels = 64;
  EXPECT_THROW(mome::frontend::LogMel{o}, mome::Error);
}

TEST(WhisperEncoder, MatchesHFPaddedAndTrueLength) {
  for (const char* model : {"tiny80", "tiny128"}) {
    auto encoder =
        mome::encoders::LoadWhisperEncoder(DataPath(std::string("whisper/") + model), torch::kCPU, torch::kFloat);
    for (const char* name : kWavs) {
      const std::string tag = std::string(model) + "_" + name;
      mome::encoders::WhisperAudioOptions padded;
      auto full = [&] {
        torch::NoGradGuard g;
        mome::frontend::LogMelOptions o;
        o.n_mels = encoder->config().num_mel_bins;
        return encoder->forward(mome::frontend::LogMel(o)(Wav(name)).unsqueeze(0))[0];
      }();
      const double err_padded = RelErr(full, EncRef().Get(tag + "_padded"));
      EXPECT_LT(err_padded, 1e-4) << tag;
      mome::encoders::WhisperAudioOptions true_length;
      true_length.pad_to_30s = false;
      std::vector<int64_t> lens;
      auto got = mome::encoders::EncodeWaveforms(encoder, {Wav(name)}, true_length, &lens);
      auto want = EncRef().Get(tag + "_true");
      ASSERT_EQ(lens[0], want.size(0)) << tag;
      const double err_true = RelErr(got[0], want);
      EXPECT_LT(err_true, 1e-4) << tag;
      // Reference mode: padded, then cut to max(int(seconds * 50), 25).
      auto cut = mome::encoders::EncodeWaveforms(encoder, {Wav(name)}, padded, &lens);
      EXPECT_EQ(lens[0], mome::encoders::WhisperCutLength(Wav(name).size(0)));
      EXPECT_LT(RelErr(cut[0], EncRef().Get(tag + "_padded").slice(0, 0, lens[0])), 1e-4) << tag;
      std::printf("[whisper] %s rel err padded %.3g, true length %.3g\n", tag.c_str(), err_padded, err_true);
    }
  }
}

TEST(WhisperEncoder, CutLengthRule) {
  EXPECT_EQ(mome::encoders::WhisperCutLength(23378), 73);  // 1.461 s -> int(73.06)
  EXPECT_EQ(mome::encoders::WhisperCutLength(11680), 36);
  EXPECT_EQ(mome::encoders::WhisperCutLength(100), 25);  // floor of 25 tokens
  EXPECT_EQ(mome::encoders::WhisperCutLength(16000 * 40), 1500);
  EXPECT_EQ(mome::encoders::WhisperCutLength(16000 * 10), 500);
}

TEST(WhisperEncoder, MissingTensorsAndConfig) {
  EXPECT_THROW(mome::encoders::LoadWhisperEncoder(DataPath("whisper/no_such_dir"), torch::kCPU, torch::kFloat),
               mome::Error);
  auto encoder = mome::encoders::LoadWhisperEncoder(DataPath("whisper/tiny80"), torch::kCPU, torch::kFloat);
  EXPECT_THROW(encoder->forward(torch::zeros({1, 128, 100})), mome::Error);
}

TEST(WhisperEncoder, CudaAgreesWithCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA";
  auto cpu = mome::encoders::LoadWhisperEncoder(DataPath("whisper/tiny80"), torch::kCPU, torch::kFloat);
  auto gpu = mome::encoders::LoadWhisperEncoder(DataPath("whisper/tiny80"), torch::kCUDA, torch::kFloat);
  mome::frontend::LogMelOptions o;
  auto mel_cpu = mome::frontend::LogMel(o)(Wav("speech"));
  auto mel_gpu = mome::frontend::LogMel(o)(Wav("speech").cuda());
  EXPECT_LT(MaxAbs(mel_gpu, mel_cpu), 1e-4);
  torch::NoGradGuard g;
  auto a = cpu->forward(mel_cpu.unsqueeze(0));
  auto b = gpu->forward(mel_cpu.unsqueeze(0).cuda());
  EXPECT_LT(RelErr(b, a), 1e-3);
  auto bf16 = mome::encoders::LoadWhisperEncoder(DataPath("whisper/tiny80"), torch::kCUDA, torch::kBFloat16);
  EXPECT_LT(RelErr(bf16->forward(mel_cpu.unsqueeze(0).cuda()).to(torch::kFloat), a), 5e-2);
}

TEST(Wav, ReadsFormatsAndMixesDown) {
  const std::string dir = ::testing::TempDir();
  // 24-bit stereo: frames (L, R) = (0.5, -0.25), (-1, 1).
  std::string pcm24 = Le(0x400000, 3) + Le(0xE00000, 3) + Le(0x800000, 3) + Le(0x7FFFFF, 3);
  WriteBytes(dir + "/s24.wav", WavBytes(1, 2, 16000, 24, pcm24));
  auto w = mome::io::ReadWav(dir + "/s24.wav");
  EXPECT_EQ(w.channels, 2);
  ASSERT_EQ(w.samples.size(0), 2);
  EXPECT_NEAR(w.samples[0].item<float>(), 0.125f, 1e-6);
  EXPECT_NEAR(w.samples[1].item<float>(), 0.0f, 1e-6);
  // 32-bit float mono at 44.1 kHz: read, but ReadWavMono refuses the rate.
  float f[2] = {0.25f, -0.75f};
  WriteBytes(dir + "/f32.wav", WavBytes(3, 1, 44100, 32, std::string(reinterpret_cast<char*>(f), sizeof f)));
  auto g = mome::io::ReadWav(dir + "/f32.wav");
  EXPECT_EQ(g.sample_rate, 44100);
  EXPECT_FLOAT_EQ(g.samples[1].item<float>(), -0.75f);
  EXPECT_THROW(mome::io::ReadWavMono(dir + "/f32.wav"), mome::Error);
  // 32-bit int.
  WriteBytes(dir + "/s32.wav", WavBytes(1, 1, 16000, 32, Le(0xC0000000u, 4)));
  EXPECT_FLOAT_EQ(mome::io::ReadWavMono(dir + "/s32.wav")[0].item<float>(), -0.5f);
  EXPECT_EQ(Wav("speech").size(0), 23378);
}

TEST(Wav, BadInputsGiveOneLineNamingTheFile) {
  const std::string dir = ::testing::TempDir();
  std::string random_bytes;
  for (int i = 0; i < 1000; ++i) random_bytes.push_back(static_cast<char>((i * 7919 + 13) & 0xFF));
  std::ifstream in(DataPath("whisper/speech.wav"), std::ios::binary);
  std::string good((std::istreambuf_iterator<char>(in)), {});
  const std::vector<std::pair<std::string, std::string>> cases = {{"zero.wav", ""},
                                                                  {"random.wav", random_bytes},
                                                                  {"truncated.wav", good.substr(0, 1000)},
                                                                  {"header_only.wav", good.substr(0, 20)},
                                                                  {"pcm8.wav", WavBytes(1, 1, 16000, 8, "ab")}};
  for (const auto& [name, bytes] : cases) {
    const std::string path = dir + "/" + name;
    WriteBytes(path, bytes);
    try {
      mome::io::ReadWav(path);
      ADD_FAILURE() << name << " was accepted";
    } catch (const mome::Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
  EXPECT_THROW(mome::io::ReadWav(dir + "/does_not_exist.wav"), mome::Error);
}

// mome_encode (a contract CLI): the dumped mel and encoder output equal the HF fixtures.
TEST(MomeEncode, DumpsMelAndEncoderOutputEqualToTransformers) {
  const std::string out = ::testing::TempDir() + "/mome_encode_" + std::to_string(::getpid()) + ".safetensors";
  const auto r =
      mome::testing::RunCommand(std::string(MOME_TOOL_DIR) + "/mome_encode --wav " + DataPath("whisper/speech.wav") +
                                " --whisper " + DataPath("whisper/tiny80") + " --no-pad --dump " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto dump = mome::io::SafetensorsFile::Open(out);
  EXPECT_LT(MaxAbs(dump->Get("mel"), MelRef().Get("speech_80_unpadded")), 1e-4);
  EXPECT_LT(RelErr(dump->Get("encoder_out"), EncRef().Get("tiny80_speech_true")), 1e-4);
  const auto bad = mome::testing::RunCommand(std::string(MOME_TOOL_DIR) + "/mome_encode --wav " +
                                             DataPath("whisper/speech.wav") + " --n-mels 64 --dump " + out);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--n-mels"), std::string::npos) << bad.err;
  std::remove(out.c_str());
}
