// Crash-safe file writing: data goes to a temp file in the target's folder, is fsync'ed, then renamed over
// the target. A reader sees the old file or the complete new one, never half of one.
#pragma once

#include <cstddef>
#include <string>

namespace mome {

class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);  // throws mome::Error(kIo) naming the path
  ~AtomicFile();                                 // removes the temp file unless Commit() ran
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void Write(const void* data, size_t size);
  void Write(const std::string& text) { Write(text.data(), text.size()); }
  void Commit();  // fsync + rename + fsync of the folder

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

void WriteFileAtomic(const std::string& path, const std::string& contents);

// Deletes a file or folder tree; a missing path is fine. (Not std::filesystem::remove_all: the PyTorch wheel's
// libtorch.so exports an older-ABI copy of it that crashes binaries built with g++ 13.)
void RemoveTree(const std::string& path);

}  // namespace mome
