// safetensors reading/writing, including the malformed files a user might hand us.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include <sys/wait.h>
#include <unistd.h>

#include "mome/core/atomic_file.h"
#include "mome/core/error.h"
#include "mome/io/safetensors.h"
#include "test_helpers.h"

namespace mome {
namespace {

namespace fs = std::filesystem;

std::string TempFile(const std::string& name) {
  return ::testing::TempDir() + "/" + name;
}

void WriteRaw(const std::string& path, const std::string& header, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header << data;
}

// Expects Open to throw a mome::Error whose message names the file and contains `what`.
void ExpectOpenError(const std::string& path, const std::string& what) {
  try {
    io::SafetensorsFile::Open(path);
    FAIL() << "no error for " << path;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(Safetensors, RoundTripsEveryDtype) {
  const std::string path = TempFile("all.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"f32", torch::randn({3, 4})},
      {"f16", torch::randn({5}).to(torch::kHalf)},
      {"bf16", torch::randn({2, 2}).to(torch::kBFloat16)},
      {"f64", torch::randn({2}, torch::kDouble)},
      {"i64", torch::arange(6).view({2, 3})},
      {"i32", torch::arange(4, torch::kInt)},
      {"i16", torch::arange(3, torch::kShort)},
      {"i8", torch::arange(-2, 2, torch::kChar)},
      {"u8", torch::arange(7, torch::kByte)},
      {"bool", torch::tensor({true, false, true})},
      {"scalar", torch::tensor(3.5f)},
      {"empty", torch::zeros({0, 4})},
      {"strided", torch::randn({4, 6}).t()},
  };
  io::SaveSafetensors(path, tensors, {{"format", "pt"}});
  const auto file = io::SafetensorsFile::Open(path);
  EXPECT_EQ(file->Metadata().at("format"), "pt");
  for (const auto& [name, tensor] : tensors) {
    const at::Tensor loaded = file->Get(name);
    EXPECT_EQ(loaded.scalar_type(), tensor.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(loaded, tensor)) << name;
  }
  for (const auto& entry : fs::directory_iterator(::testing::TempDir()))
    EXPECT_EQ(entry.path().string().find("all.safetensors.tmp"), std::string::npos) << "temp file left behind";
}

TEST(Safetensors, LoadedTensorsOutliveTheFileObjectAndNeverWriteTheFile) {
  const std::string path = TempFile("cow.safetensors");
  io::SaveSafetensors(path, {{"x", torch::ones({4})}});
  at::Tensor x = io::SafetensorsFile::Open(path)->Get("x");
  x.fill_(7);  // copy-on-write mapping: the file must stay unchanged
  EXPECT_TRUE(torch::equal(io::SafetensorsFile::Open(path)->Get("x"), torch::ones({4})));
}

TEST(Safetensors, RejectsMalformedFiles) {
  const std::string path = TempFile("bad.safetensors");
  { std::ofstream(path) << "abc"; }
  ExpectOpenError(path, "too short");
  WriteRaw(path, R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "");
  ExpectOpenError(path, "outside");  // offsets beyond the (empty) data section
  {
    std::ofstream out(path, std::ios::binary);
    uint64_t huge = 1ull << 40;
    out.write(reinterpret_cast<const char*>(&huge), 8);
    out << "{}";
  }
  ExpectOpenError(path, "header length");
  WriteRaw(path, R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", std::string(8, '\0'));
  ExpectOpenError(path, "JSON");
  WriteRaw(path, R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0'));
  ExpectOpenError(path, "need 12");
  WriteRaw(path, R"({"x":{"dtype":"F8_E9","shape":[2],"data_offsets":[0,2]}})", std::string(2, '\0'));
  ExpectOpenError(path, "not supported");
  WriteRaw(path, R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", std::string(8, '\0'));
  ExpectOpenError(path, "negative");
  WriteRaw(path, R"({"x":{"dtype":"F32","shape":[2]}})", std::string(8, '\0'));
  ExpectOpenError(path, "data_offsets");
  WriteRaw(path, R"({"x":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})",
           std::string(8, '\0'));
  ExpectOpenError(path, "shape");
  ExpectOpenError(TempFile("does_not_exist.safetensors"), "cannot open");
}

TEST(Safetensors, TruncatedRealCheckpointIsRejected) {
  const std::string src = testing::DataPath("llama/gqa_llama3_rope/model.safetensors");
  const std::string path = TempFile("truncated.safetensors");
  fs::copy_file(src, path, fs::copy_options::overwrite_existing);
  fs::resize_file(path, fs::file_size(src) / 2);
  ExpectOpenError(path, "outside");
}

TEST(CheckpointReader, ReadsShardedCheckpoints) {
  const auto reader = io::CheckpointReader::Open(testing::DataPath("llama/tied_bf16_sharded"));
  EXPECT_TRUE(reader.Has("model.embed_tokens.weight"));
  EXPECT_TRUE(reader.Has("model.layers.1.mlp.down_proj.weight"));
  EXPECT_EQ(reader.Get("model.norm.weight").scalar_type(), torch::kBFloat16);
  EXPECT_NE(reader.FileOf("model.embed_tokens.weight"), reader.FileOf("model.norm.weight"));
  EXPECT_THROW(reader.Get("nope"), Error);
}

TEST(CheckpointReader, ReportsMissingShardsAndFolders) {
  const std::string dir = TempFile("sharded_missing");
  fs::create_directories(dir);
  std::ofstream(dir + "/model.safetensors.index.json") << R"({"weight_map": {"a": "model-1.safetensors"}})";
  EXPECT_THROW(io::CheckpointReader::Open(dir), Error);
  EXPECT_THROW(io::CheckpointReader::Open(TempFile("no_such_folder")), Error);
}

TEST(AtomicFile, LeavesOldContentUntilCommit) {
  const std::string path = TempFile("atomic.txt");
  WriteFileAtomic(path, "old");
  {
    AtomicFile file(path);
    file.Write(std::string("new"));
    // destroyed without Commit: as if the process died mid-write
  }
  std::ifstream in(path);
  std::string content((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(content, "old");
  EXPECT_THROW(WriteFileAtomic("/nonexistent_dir/x.txt", "x"), Error);
}

// A writer SIGKILLed before its rename leaves PATH.tmp.PID; a rerun removes it (and only it: other files' temps,
// and temps of writers still running, stay).
TEST(AtomicFile, DeadWritersTempOfOneFileIsRemovedAndNothingElse) {
  const std::string dir = TempFile("atomic_dead");
  fs::remove_all(dir);  // an earlier run's temps would count too
  fs::create_directories(dir);
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);  // reaped: its pid names no process now
  const std::string dead = std::to_string(child), live = std::to_string(::getppid());
  for (const auto* name : {"out.bin.tmp.", "other.bin.tmp."}) std::ofstream(dir + "/" + name + dead) << "half";
  std::ofstream(dir + "/out.bin.tmp." + live) << "a writer still running";
  EXPECT_EQ(RemoveDeadTempFiles(dir, "out.bin"), 1);
  EXPECT_FALSE(fs::exists(dir + "/out.bin.tmp." + dead));
  EXPECT_TRUE(fs::exists(dir + "/other.bin.tmp." + dead));
  EXPECT_TRUE(fs::exists(dir + "/out.bin.tmp." + live));
  EXPECT_EQ(RemoveDeadTempFiles(dir, "out"), 0);  // a prefix of the name is not the name
}

}  // namespace
}  // namespace mome
