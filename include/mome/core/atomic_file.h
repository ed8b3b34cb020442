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

// fsync of every file directly in `dir` and of `dir` itself: a folder written with ordinary streams (a checkpoint
// being assembled) is on disk before it is renamed into view. Throws mome::Error(kIo) naming the file.
void SyncFolder(const std::string& dir);

// fsync of the folder holding `path`, so that a rename or removal there survives a power cut.
void SyncParentFolder(const std::string& path);

// Puts the finished folder `ready` in place of `target`: atomically swapped when `target` exists (a reader sees the
// old folder or the new one, never neither), then the old one is deleted. Throws mome::Error(kIo).
void ReplaceFolder(const std::string& ready, const std::string& target);

// Deletes the temp files (NAME.tmp.PID) in `dir` whose writing process is gone: what a killed writer leaves. A
// process still running keeps its own. With `target_name`, only that file's temps (TARGET_NAME.tmp.PID). Returns how
// many were removed.
int RemoveDeadTempFiles(const std::string& dir, const std::string& target_name = "");

// Deletes a folder tree without a visible half-deleted state: renamed to `path`.removing first, then removed.
void RemoveFolderHidden(const std::string& path);

// Deletes a file or folder tree; a missing path is fine. (Not std::filesystem::remove_all: the PyTorch wheel's
// libtorch.so exports an older-ABI copy of it that crashes binaries built with g++ 13.)
void RemoveTree(const std::string& path);

}  // namespace mome
