// Hostile and nonsensical inputs get one clear error (mome::Error), never a crash, a huge allocation or a silent
// acceptance (issue 19's classes, each tested on its general form).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "mome/core/atomic_file.h"
#include "mome/core/cli.h"
#include "mome/core/config.h"
#include "mome/core/error.h"
#include "mome/data/corpus.h"
#include "mome/decode/generate.h"
#include "mome/eval/wer.h"
#include "mome/frontend/landmarks.h"
#include "mome/io/checkpoint.h"
#include "mome/io/json.h"
#include "mome/io/media.h"
#include "mome/llm/llama_config.h"
#include "mome/llm/llama_loader.h"
#include "mome/model/model_config.h"
#include "mome/text/tokenizer.h"
#if MOME_WITH_SERVE
#include "mome/serve/http_server.h"
#endif
#include "mome/train/train_config.h"
#include "test_helpers.h"

namespace mome {
namespace {
namespace fs = std::filesystem;

std::string Deep(int depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

std::string Scratch(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/mome_hostile_" + std::to_string(::getpid());
  fs::create_directories(dir);
  return dir + "/" + name;
}

TEST(Hostile, DeeplyNestedJsonIsAnErrorNotAStackOverflow) {
  const std::string deep = R"({"vocab_size": )" + Deep(200000) + "}";
  EXPECT_THROW(llm::LlamaConfig::FromJsonString(deep, "config.json"), Error);
  EXPECT_THROW(io::ParseJson(Deep(100), "x"), Error);
  EXPECT_NO_THROW(io::ParseJson(Deep(10), "x"));
  EXPECT_EQ(io::JsonNestingDepth(R"({"a": "[[[[", "b": [1, {"c": 2}]})"), 3);  // brackets in strings do not count
  const std::string tokenizer = Scratch("tokenizer.json");
  std::ofstream(tokenizer) << R"({"model": {"type": "BPE", "merges": )" << Deep(100000) << "}}";
  EXPECT_THROW(text::LoadTokenizer(tokenizer), Error);
  const std::string landmarks = Scratch("clip.landmarks.json");
  std::ofstream(landmarks) << Deep(100000);
  EXPECT_THROW(frontend::ReadLandmarks(landmarks), Error);
}

llm::LlamaConfig Tiny() {
  return llm::LlamaConfig::FromJsonString(
      R"({"vocab_size": 32, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2,
          "num_attention_heads": 2, "max_position_embeddings": 64})",
      "tiny");
}

TEST(Hostile, SizesFromFilesAreBoundedBeforeAnyAllocation) {
  EXPECT_NO_THROW(Tiny());
  for (const char* bad :
       {R"("num_hidden_layers": 4611686018427387904)", R"("vocab_size": 1099511627776)", R"("hidden_size": -16)",
        R"("rope_theta": -1)", R"("rope_theta": "fast")", R"("rms_norm_eps": 0)"}) {
    const std::string json = std::string(R"({"vocab_size": 32, "hidden_size": 16, "intermediate_size": 32,
        "num_hidden_layers": 2, "num_attention_heads": 2, )") +
                             bad + "}";
    // A later duplicate key wins in nlohmann::json, so the bad value is the one read.
    EXPECT_THROW(llm::LlamaConfig::FromJsonString(json, "config.json"), Error) << bad;
  }
  // Generation limits: new tokens beyond the model's positions, absurd beams.
  auto model = llm::LoadLlama(testing::DataPath("llama/gqa_llama3_rope"), c10::kCPU, at::kFloat);
  decode::GenerateOptions o;
  o.max_new_tokens = 1000000000;
  EXPECT_THROW(decode::Generator(*model, o), Error);
  o.max_new_tokens = 8;
  o.beam_size = 100000;
  EXPECT_THROW(decode::Generator(*model, o), Error);
}

TEST(Hostile, NonsenseSettingsAreRefusedNotQuietlyReplaced) {
  const std::string base =
      "llm: {preset: llama-3.2-1b}\naudio_encoder: {preset: whisper-tiny}\n"
      "video_encoder: {preset: avhubert-tiny}\ntrain: {data: x}\n";
  EXPECT_NO_THROW(LoadConfigString<train::TrainConfig>(base, "ok.yaml"));
  for (const char* bad : {"train.lr=.inf",
                          "train.lr=.nan",
                          "train.min_lr=1",
                          "train.warmup_steps=-5",
                          "train.grad_clip=-1",
                          "train.threads=-2",
                          "audio_encoder.dim=-64",
                          "train.betas=[0.9, 1.5]",
                          "train.noise_prob=2",
                          "train.eval_beam_size=100000",
                          "loss.load_balancing=-1",
                          "loss.decorrelation=.nan",
                          "loss.decorrelation_layers=[0]",
                          "train.join_prob=1.5",
                          "train.pause_max_seconds=-1",
                          "train.pad_max_seconds=.nan",
                          "train.pad_max_seconds=60",
                          "train.join_max_seconds=-1",
                          "train.join_max_seconds=31",
                          "video_encoder.roi_pool=3",
                          "video_encoder.roi_pool=0"})
    EXPECT_THROW(LoadConfigString<train::TrainConfig>(base, "bad.yaml", {bad}), Error) << bad;
  // Joins within the batch pair clips; they cannot also grow chains.
  EXPECT_THROW(
      LoadConfigString<train::TrainConfig>(base, "bad.yaml", {"train.join_in_batch=true", "train.join_max_seconds=5"}),
      Error);
  // An encoder the modality uses needs a preset, in --dry-run and training alike.
  EXPECT_THROW(LoadConfigString<train::TrainConfig>(base, "x.yaml", {"audio_encoder.preset="}), Error);
  EXPECT_NO_THROW(LoadConfigString<train::TrainConfig>(
      base, "x.yaml", {"model.modality=asr", "model.video_rates=[]", "video_encoder.preset="}));
  // Modality dropout: a probability, and only where the lips are left when the audio is silenced.
  EXPECT_THROW(LoadConfigString<train::TrainConfig>(base, "x.yaml", {"train.audio_drop_prob=1.5"}), Error);
  const std::vector<std::string> asr = {"model.modality=asr", "model.video_rates=[]",
                                        "video_encoder.preset=", "train.audio_drop_prob=0.2"};
  EXPECT_THROW(LoadConfigString<train::TrainConfig>(base, "x.yaml", asr), Error);
  EXPECT_NO_THROW(LoadConfigString<train::TrainConfig>(base, "x.yaml", {"train.audio_drop_prob=0.2"}));
  CliParser cli("t", "t");
  cli.AddOption("--snr", "DB", "snr");
  for (const char* bad : {"10dB", "nan", "inf", ""}) {
    ASSERT_TRUE(cli.Parse(std::vector<std::string>{"--snr", bad}));
    EXPECT_THROW(cli.GetDouble("--snr"), Error) << bad;
  }
}

TEST(Hostile, ManifestsAndLabelFilesRefuseDuplicatesAndNegativeCounts) {
  const std::string manifest = Scratch("m.jsonl");
  std::ofstream(manifest) << R"({"key": "a", "audio": "a.wav", "text": "x"})"
                          << "\n"
                          << R"({"key": "a", "audio": "b.wav", "text": "y"})"
                          << "\n"
                          << Deep(1000) << "\n";
  const auto listing = data::ListManifest(manifest);
  ASSERT_EQ(listing.items.size(), 1u);
  EXPECT_EQ(listing.items[0].audio.substr(listing.items[0].audio.size() - 5), "a.wav");
  EXPECT_EQ(listing.problems.size(), 2u);  // the duplicate and the nested line
  const std::string csv = Scratch("labels.csv");
  std::ofstream(csv) << "lrs3,a/1.mp4,-5,1 2 3\nlrs3,a/2.mp4,12abc,1 2\nlrs3,a/3.mp4,10,1 x\nlrs3,a/4.mp4,10,4 5\n";
  const auto labels = data::ListAutoAvsr(fs::path(csv).parent_path().string(), csv);
  EXPECT_EQ(labels.items.size(), 1u);
  EXPECT_EQ(labels.problems.size(), 3u);
}

TEST(Hostile, WerRefusesFoldersBinaryAndNonTextFields) {
  const std::string dir = Scratch("wer_dir");
  fs::create_directories(dir);
  EXPECT_THROW(eval::ReadTranscripts(dir), Error);
  const std::string binary = Scratch("bytes.txt");
  std::ofstream(binary, std::ios::binary) << std::string("k \xff\xfe\x00\x01 x", 8);
  EXPECT_THROW(eval::ReadTranscripts(binary), Error);
  const std::string numeric = Scratch("numeric.jsonl");
  std::ofstream(numeric) << R"({"key": "a", "text": 5})"
                         << "\n";
  EXPECT_THROW(eval::ReadTranscripts(numeric), Error);
  const std::string no_text = Scratch("no_text.jsonl");
  std::ofstream(no_text) << R"({"key": "a", "words": "x"})"
                         << "\n";
  EXPECT_THROW(eval::ReadTranscripts(no_text), Error);
  const std::string ok = Scratch("ok.jsonl");
  std::ofstream(ok) << R"({"key": "a", "error": "unreadable"})"
                    << "\n"
                    << "b some words\n";
  EXPECT_EQ(eval::ReadTranscripts(ok).size(), 2u);
}

TEST(Hostile, MakeTinyLeavesNoStaleTokenizerBehind) {
  const std::string out = Scratch("tiny_llm");
  fs::create_directories(out);
  std::ofstream(out + "/tokenizer.model") << "an old SentencePiece model that would win over tokenizer.json";
  const auto made = testing::RunCommand(std::string(MOME_TOOL_DIR) + "/mome_make_tiny --config " + MOME_SOURCE_DIR +
                                        "/configs/tiny_llama.yaml --out " + out +
                                        " --set tokenizer=" + MOME_SOURCE_DIR + "/tests/data/tokenizer/tokenizer.json");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_TRUE(fs::exists(out + "/tokenizer.json"));
  EXPECT_FALSE(fs::exists(out + "/tokenizer.model"));
}

}  // namespace
}  // namespace mome

namespace mome {
namespace {

TEST(Hostile, CheckpointFoldersAreSwappedWholeAndLeftoversRemoved) {
  const std::string run = Scratch("swap_run");
  RemoveTree(run);
  const std::string step = run + "/checkpoints/step-00000002";
  fs::create_directories(step);
  std::ofstream(step + "/checkpoint.json") << "old";
  const std::string ready = step + ".tmp.99999999";
  fs::create_directories(ready);
  std::ofstream(ready + "/checkpoint.json") << "new";
  ReplaceFolder(ready, step);
  EXPECT_EQ(testing::ReadFile(step + "/checkpoint.json"), "new");
  EXPECT_FALSE(fs::exists(ready));
  // What a killed writer leaves: never listed as checkpoints, removed when a run starts.
  for (const char* left : {"/checkpoints/step-00000004.tmp.123", "/checkpoints/step-00000002.old.123",
                           "/checkpoints/step-00000001.removing", "/best.tmp.77"})
    fs::create_directories(run + left);
  EXPECT_EQ(io::CheckpointsOf(run), std::vector<std::string>{step});
  io::RemoveCheckpointLeftovers(run);
  EXPECT_EQ(std::distance(fs::directory_iterator(run + "/checkpoints"), fs::directory_iterator()), 1);
  EXPECT_FALSE(fs::exists(run + "/best.tmp.77"));
  RemoveFolderHidden(step);
  EXPECT_FALSE(fs::exists(step));
  EXPECT_FALSE(fs::exists(step + ".removing"));
}

#if MOME_WITH_MEDIA
TEST(Hostile, MediaLimitsStopAFileWhileItDecodes) {
  const std::string flac = Scratch("long_silence.flac"), video = Scratch("two_streams.mp4");
  ASSERT_EQ(
      testing::RunCommand("ffmpeg -nostdin -v error -y -f lavfi -i anullsrc=r=16000:cl=mono -t 30 " + flac).exit_code,
      0);
  ASSERT_EQ(testing::RunCommand("ffmpeg -nostdin -v error -y -f lavfi -i testsrc=s=64x48:r=25:d=0.4 -f lavfi -i "
                                "sine=r=16000:d=0.4 -c:v mpeg4 -c:a aac -shortest " +
                                video)
                .exit_code,
            0);
  io::MediaDecodeOptions limited;
  limited.max_seconds = 5;  // 30 s of silence compresses to a few kB: the limit must act before the samples exist
  try {
    io::DecodeMedia(flac, limited);
    ADD_FAILURE() << "30 s decoded under a 5 s limit";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("limit of 5 s"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(io::DecodeMedia(flac));
  io::MediaDecodeOptions small_frames;
  small_frames.max_frame_pixels = 1000;
  EXPECT_THROW(io::DecodeMedia(video, small_frames), Error);
  io::MediaDecodeOptions one_stream;
  one_stream.max_streams = 1;
  EXPECT_THROW(io::DecodeMedia(video, one_stream), Error);
  EXPECT_NO_THROW(io::DecodeMedia(video));
}
#endif

#if MOME_WITH_SERVE
// The status code of a raw HTTP response, and whether its body is an OpenAI error object.
std::pair<int, bool> StatusAndError(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0) return {0, false};
  const int status = std::stoi(response.substr(9, 3));
  const auto body = response.find("\r\n\r\n");
  const std::string text = body == std::string::npos ? "" : response.substr(body + 4);
  const auto json = nlohmann::json::parse(text, nullptr, false);
  return {status, !json.is_discarded() && json.contains("error") && json["error"].contains("message")};
}

std::string Multipart(const std::string& fields, const std::string& auth = "Authorization: Bearer k\r\n") {
  return "POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\n" + auth +
         "Content-Type: multipart/form-data; boundary=B\r\nContent-Length: " + std::to_string(fields.size()) +
         "\r\n\r\n" + fields;
}

std::string Part(const std::string& name, const std::string& value) {
  return "--B\r\nContent-Disposition: form-data; name=\"" + name + "\"; filename=\"f\"\r\n\r\n" + value + "\r\n";
}

TEST(Hostile, ServerAnswersBrokenRequestsWithStatusAndJsonError) {
  serve::HttpOptions options;
  options.port = 0;
  options.api_key = "k";
  options.max_upload_mb = 1;
  serve::HttpServer server(options);
  const std::string form = Part("file", "RIFF") + "--B--\r\n";
  const std::vector<std::pair<std::string, std::pair<int, bool>>> cases = {
      {"GET /v1/models HTTP/1.1\r\n\r\n", {401, true}},                               // no key
      {"GET /metrics HTTP/1.1\r\nAuthorization: Bearer wrong\r\n\r\n", {401, true}},  // wrong key
      {"GET /health HTTP/1.1\r\n\r\n", {503, false}},                                 // loading, no key needed
      {Multipart(form), {503, true}},                                                 // valid, model loading
      {Multipart(Part("fiel", "x") + "--B--\r\n"), {400, true}},                      // unknown field
      {Multipart(form, ""), {401, true}},                                             // form without a key
      {"POST /v1/audio/transcriptions HTTP/1.1\r\nAuthorization: Bearer k\r\nContent-Type: text/plain\r\n"
       "Content-Length: 2\r\n\r\nhi",
       {415, true}},
      {"POST /v1/audio/transcriptions HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", {413, true}},  // too large
      {"GARBAGE\r\n\r\n", {400, true}},
      {"GET /../../etc/passwd HTTP/1.1\r\n\r\n", {404, true}},
  };
  for (const auto& [request, expected] : cases) {
    const auto got = StatusAndError(server.ProcessRaw(request));
    EXPECT_EQ(got.first, expected.first) << request;
    if (expected.second) {
      EXPECT_TRUE(got.second) << request;
    }
  }
  // A truncated upload (fewer bytes than Content-Length) is answered or dropped, never crashes the server.
  const std::string truncated = Multipart(form);
  EXPECT_NO_THROW(server.ProcessRaw(truncated.substr(0, truncated.size() - 10)));
}
#endif

}  // namespace
}  // namespace mome

namespace mome {
namespace {

// One hostile command line: what a new user or an attacker might type. `keep` names an output that already holds
// good results before the run and must be unchanged after it (a file, or a folder's marker file).
struct CliCase {
  CliCase(std::string a, std::string k = "") : args(std::move(a)), keep(std::move(k)) {}
  std::string args;
  std::string keep;
};

// The files the cases point at, in one scratch folder.
std::string MakeHostileFiles() {
  const std::string s = Scratch("cli");
  RemoveTree(s);
  fs::create_directories(s + "/dir");
  fs::create_directories(s + "/model_badcfg");
  fs::create_directories(s + "/keep_dir");
  std::ofstream(s + "/garbage.bin", std::ios::binary) << std::string("\x00\x01\xff garbage \x80\x81", 14);
  std::ofstream(s + "/empty");
  std::ofstream(s + "/deep.json") << Deep(100000);
  std::string huge_header(8, '\xff');
  std::ofstream(s + "/bad_header.safetensors", std::ios::binary) << huge_header << "{}";
  std::ofstream(s + "/trunc.safetensors", std::ios::binary)
      << std::string("\x40\x00\x00\x00\x00\x00\x00\x00", 8)
      << R"({"w": {"dtype": "F32", "shape": [1000, 1000], "data_offsets": [0, 4000000]}}   )";
  std::ofstream(s + "/model_badcfg/config.json") << R"({"vocab_size": -1, "hidden_size": 16})";
  std::ofstream(s + "/model_badcfg/model.safetensors") << "not tensors";
  std::ofstream(s + "/bad.yaml") << "llm: [unclosed\n  : : :\n";
  std::ofstream(s + "/notext.jsonl") << "{\"key\": \"a\", \"text\": 5}\n";
  std::ofstream(s + "/tok_bad.json") << R"({"model": 5})";
  for (const char* keep : {"/keep.txt", "/keep.safetensors", "/keep_dir/marker"}) std::ofstream(s + keep) << "GOOD";
  return s;
}

std::vector<CliCase> HostileCliCases(const std::string& s) {
  const std::string tok = std::string(MOME_TEST_DATA_DIR) + "/tokenizer/tokenizer.json";
  const std::string cfg = std::string(MOME_SOURCE_DIR) + "/configs/";
  const std::string tone = std::string(MOME_TEST_DATA_DIR) + "/whisper/tone.wav";
  const std::string compress = " --arch mixtral --rank 2 --bases 2 --activation silu --out " + s + "/keep.safetensors";
  return {
      {"mome_lm --model " + s + "/nonexistent --ids 1"},
      {"mome_lm --model " + s + "/model_badcfg --ids 1"},
      {"mome_lm --model " + s + "/dir --ids 1"},
      {"mome_lm --model " + s + "/model_badcfg"},
      {"mome_lm --no-such-flag"},
      {"mome_tokenize --tokenizer " + s + "/garbage.bin --text hi"},
      {"mome_tokenize --tokenizer " + s + "/deep.json --text hi"},
      {"mome_tokenize --tokenizer " + s + "/tok_bad.json --text hi"},
      {"mome_tokenize --tokenizer " + s + "/empty --decode 1,2"},
      {"mome_tokenize --tokenizer " + tok + " --decode 1,x"},
      {"mome_tokenize --tokenizer " + tok},
      {"mome_tokenize --tokenizer " + tok + " --decode 99999999"},
      {"mome_make_tiny --config " + s + "/bad.yaml --out " + s + "/keep_dir", s + "/keep_dir/marker"},
      {"mome_make_tiny --config " + cfg + "tiny_llama.yaml --out " + s + "/mt --set model.hidden_size=-5"},
      {"mome_make_tiny --config " + cfg + "tiny_llama.yaml --out " + s + "/mt --set nosuch.key=1"},
      {"mome_make_tiny --config " + s + "/nonexistent.yaml --out " + s + "/mt"},
      {"mome_train --config " + s + "/bad.yaml --out " + s + "/run"},
      {"mome_train --config " + s + "/deep.json --out " + s + "/run"},
      {"mome_train --config " + cfg + "tiny_avsr.yaml --dry-run --set train.lr=inf"},
      {"mome_train --config " + cfg + "tiny_avsr.yaml --dry-run --set model.audio_rates=[0]"},
      {"mome_train --config " + cfg + "tiny_avsr.yaml --dry-run --set train.batch_size=abc"},
      {"mome_train --config " + cfg + "tiny_avsr.yaml --out " + s + "/run --nproc 0"},
      {"mome_decode --model " + s + "/nonexistent --prepared " + s + "/dir"},
      {"mome_decode --model " + s + "/dir --prepared " + s + "/dir --output " + s + "/keep.txt", s + "/keep.txt"},
      {"mome_decode --model " + s + "/model_badcfg"},
      {"mome_decode --model " + s + "/dir --prepared " + s + "/dir --beam-size 0"},
      {"mome_decode --model " + s + "/dir --prepared " + s + "/dir --max-new-tokens -1"},
      {"mome_prepare --corpus nosuch --root " + s + "/dir --out " + s + "/keep_dir", s + "/keep_dir/marker"},
      {"mome_prepare --corpus lrs3 --root " + s + "/nonexistent --out " + s + "/prep"},
      {"mome_prepare --corpus lrs3 --root " + s + "/dir --out " + s + "/prep --threads 0"},
      {"mome_prepare --corpus lrs3 --root " + s + "/dir --out " + s + "/prep --shard-size 0"},
      {"mome_wer --ref " + s + "/garbage.bin --hyp " + s + "/garbage.bin"},
      {"mome_wer --ref " + s + "/dir --hyp " + s + "/dir"},
      {"mome_wer --ref " + s + "/nonexistent --hyp " + s + "/empty"},
      {"mome_wer --ref " + s + "/notext.jsonl --hyp " + s + "/notext.jsonl"},
      {"mome_compress --input " + s + "/garbage.bin" + compress, s + "/keep.safetensors"},
      {"mome_compress --input " + s + "/trunc.safetensors" + compress, s + "/keep.safetensors"},
      {"mome_compress --input " + s + "/bad_header.safetensors" + compress, s + "/keep.safetensors"},
      {"mome_compress --input " + s + "/trunc.safetensors --arch nosuch --rank 2 --bases 2 --activation silu --out " +
       s + "/c.safetensors"},
      {"mome_compress --input " + s + "/trunc.safetensors --arch mixtral --rank 0 --bases 2 --activation silu --out " +
       s + "/c.safetensors"},
      {"mome_align --model " + s + "/nonexistent --prepared " + s + "/dir --select-heads"},
      {"mome_align --model " + s + "/dir --prepared " + s + "/dir --select-heads"},
      {"mome_analyze --model " + s + "/nonexistent --ids 1 --out " + s + "/keep_dir", s + "/keep_dir/marker"},
      {"mome_analyze --model " + s + "/model_badcfg --text hi --out " + s + "/an"},
      {"mome_encode --wav " + s + "/garbage.bin --dump " + s + "/keep.safetensors", s + "/keep.safetensors"},
      {"mome_encode --wav " + s + "/empty --dump " + s + "/e.safetensors"},
      {"mome_encode --clip " + s + "/garbage.bin --dump " + s + "/e.safetensors"},
      {"mome_encode --wav " + tone + " --n-mels 81 --dump " + s + "/keep.safetensors", s + "/keep.safetensors"},
      {"mome_encode --wav " + tone + " --whisper " + s + "/model_badcfg --dump " + s + "/e.safetensors"},
      {"mome_serve --model " + s + "/nonexistent --port 18089"},
      {"mome_serve --model " + s + "/dir --host 0.0.0.0 --port 18089"},
      {"mome_serve --model " + s + "/dir --port 70000"},
      {"mome_serve --model " + s + "/dir --port 18089 --max-upload-mb 0"},
      {"mome_synth --out " + s + "/syn --count 0"},
      {"mome_synth --out " + s + "/syn --count -3"},
      {"mome_synth --out " + s + "/syn --count 2 --voices nosuchvoice"},
  };
}

TEST(Hostile, EveryCliAnswersHostileInputWithOneLineAndLosesNothing) {
  const std::string s = MakeHostileFiles();
  const auto cases = HostileCliCases(s);
  EXPECT_GE(cases.size(), 50u);
  for (const auto& c : cases) {
    const auto r = testing::RunCommand(std::string(MOME_TOOL_DIR) + "/" + c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.err;
    EXPECT_EQ(testing::CountErrorLines(r.err), 1) << c.args << "\n" << r.err;
    for (const char* crash : {"frame #", "terminate called", "Aborted", "Segmentation", "AddressSanitizer"})
      EXPECT_EQ(r.err.find(crash), std::string::npos) << c.args << "\n" << r.err;
    if (!c.keep.empty()) {
      EXPECT_EQ(testing::ReadFile(c.keep), "GOOD") << c.args << " changed " << c.keep;
    }
  }
}

}  // namespace
}  // namespace mome

namespace mome {
namespace {

TEST(Hostile, LandmarkConverterRefusesPicklesThatWouldRunCode) {
  const std::string evil = Scratch("evil.pkl"), marker = Scratch("pwned");
  // A pickle that calls os.system when loaded by pickle.load.
  const auto made = testing::RunCommand(
      "python3 -c \"import os, pickle\nclass E:\n    def __reduce__(self): return (os.system, ('touch " + marker +
      "',))\npickle.dump([E()], open('" + evil + "', 'wb'))\"");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const auto r = testing::RunCommand("python3 " + std::string(MOME_SOURCE_DIR) + "/tools/convert_landmarks.py " + evil +
                                     " " + Scratch("out.json"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("refusing to load"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(marker)) << "the pickle ran code";
  EXPECT_FALSE(fs::exists(Scratch("out.json")));
}

}  // namespace
}  // namespace mome

namespace mome {
namespace {

// Every input a fuzz target ever found a problem with (fuzz/regressions/TARGET/) gets a clear mome::Error now. The
// fuzz targets replay them too (tools/fuzz.sh), under the sanitizers; this runs them in the ordinary build.
TEST(Hostile, EveryFuzzFindingIsAnErrorNow) {
  const std::map<std::string, std::function<void(const std::string&)>> parsers = {
      {"media",
       [](const std::string& bytes) {
         io::DecodeMediaFromMemory(std::make_shared<const std::string>(bytes), "finding");
       }},
      {"hf_config",  // the first byte picks the reader, as in fuzz/fuzz_hf_config.cpp
       [](const std::string& bytes) {
         ASSERT_EQ(bytes.at(0), '\0') << "only Llama findings so far";
         llm::LlamaConfig::FromJsonString(bytes.substr(1), "finding");
       }},
  };
  const fs::path root = fs::path(MOME_SOURCE_DIR) / "fuzz" / "regressions";
  int checked = 0;
  for (const auto& target : fs::directory_iterator(root)) {
    const auto parser = parsers.find(target.path().filename().string());
    ASSERT_NE(parser, parsers.end()) << "no parser for the findings in " << target.path();
    for (const auto& input : fs::directory_iterator(target.path())) {
      EXPECT_THROW(parser->second(testing::ReadFile(input.path().string())), Error) << input.path();
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace mome

namespace mome {
namespace {

TEST(Hostile, AddedTokensBeyondTheVocabularyAndRopeOfTheWrongTypeAreRefused) {
  const std::string tok = Scratch("tok_gap.json");
  std::ofstream(tok) << R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []},
      "added_tokens": [{"id": 999999, "content": "<x>", "special": true}]})";
  try {
    text::LoadTokenizer(tok);
    ADD_FAILURE() << "an added token id far past the vocabulary was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("999999"), std::string::npos) << e.what();
  }
  std::ofstream(tok) << R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []},
      "added_tokens": [{"id": 2, "content": "<x>", "special": true}]})";
  EXPECT_NO_THROW(text::LoadTokenizer(tok));  // right after the vocabulary, as HF appends them
  for (const char* rope : {R"("rope_scaling": 5)", R"("rope_parameters": "llama3")", R"("rope_scaling": [1])"}) {
    const std::string config = std::string(R"({"vocab_size": 32, "hidden_size": 16, "intermediate_size": 32,
        "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": 64, )") +
                               rope + "}";
    EXPECT_THROW(llm::LlamaConfig::FromJsonString(config, "config.json"), Error) << rope;
  }
}

}  // namespace
}  // namespace mome
