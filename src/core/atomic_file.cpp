#include "mome/core/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "mome/core/error.h"

namespace mome {
namespace {

std::string ParentDir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  temp_path_ = path + ".tmp." + std::to_string(::getpid());
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  MOME_CHECK(fd_ >= 0, ErrorCode::kIo, path, ": cannot create temp file for writing: ", std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

void AtomicFile::Write(const void* data, size_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, bytes, size);
    if (n < 0 && errno == EINTR) continue;
    MOME_CHECK(n > 0, ErrorCode::kIo, path_, ": write failed: ", std::strerror(errno));
    bytes += n;
    size -= static_cast<size_t>(n);
  }
}

void AtomicFile::Commit() {
  MOME_CHECK(::fsync(fd_) == 0, ErrorCode::kIo, path_, ": fsync failed: ", std::strerror(errno));
  MOME_CHECK(::close(fd_) == 0, ErrorCode::kIo, path_, ": close failed: ", std::strerror(errno));
  fd_ = -1;
  MOME_CHECK(::rename(temp_path_.c_str(), path_.c_str()) == 0, ErrorCode::kIo, path_,
             ": rename from temp file failed: ", std::strerror(errno));
  committed_ = true;
  // Make the rename itself durable.
  const int dir_fd = ::open(ParentDir(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

namespace {

void SyncPath(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  MOME_CHECK(fd >= 0, ErrorCode::kIo, path, ": cannot open to sync: ", std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  MOME_CHECK(rc == 0, ErrorCode::kIo, path, ": fsync failed: ", std::strerror(err));
}

}  // namespace

void SyncFolder(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  MOME_CHECK(d != nullptr, ErrorCode::kIo, dir, ": cannot list to sync: ", std::strerror(errno));
  std::vector<std::string> files;
  while (const dirent* e = ::readdir(d)) {
    struct stat st {};
    const std::string p = dir + "/" + e->d_name;
    if (::lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) files.push_back(p);
  }
  ::closedir(d);
  for (const auto& f : files) SyncPath(f, O_RDONLY);
  SyncPath(dir, O_RDONLY | O_DIRECTORY);
}

void SyncParentFolder(const std::string& path) {
  SyncPath(ParentDir(path), O_RDONLY | O_DIRECTORY);
}

void ReplaceFolder(const std::string& ready, const std::string& target) {
  SyncFolder(ready);
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0) {
    MOME_CHECK(::rename(ready.c_str(), target.c_str()) == 0, ErrorCode::kIo, target,
               ": cannot move the finished folder into place: ", std::strerror(errno));
  } else {
    // RENAME_EXCHANGE: both names stay valid throughout; `ready` then names the old folder.
    MOME_CHECK(::renameat2(AT_FDCWD, ready.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0, ErrorCode::kIo,
               target, ": cannot swap in the finished folder: ", std::strerror(errno));
    RemoveFolderHidden(ready);
  }
  SyncParentFolder(target);
}

int RemoveDeadTempFiles(const std::string& dir, const std::string& target_name) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  std::vector<std::string> dead;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    const auto at = name.rfind(".tmp.");
    if (at == std::string::npos || at + 5 >= name.size()) continue;
    if (!target_name.empty() && name.compare(0, at, target_name) != 0) continue;  // another file's temp
    const std::string pid = name.substr(at + 5);
    if (pid.find_first_not_of("0123456789") != std::string::npos || pid.size() > 9) continue;
    if (::kill(static_cast<pid_t>(std::stol(pid)), 0) != 0 && errno == ESRCH) dead.push_back(dir + "/" + name);
  }
  ::closedir(d);
  for (const auto& path : dead) RemoveTree(path);
  return static_cast<int>(dead.size());
}

void RemoveFolderHidden(const std::string& path) {
  const std::string hidden = path + ".removing";
  RemoveTree(hidden);
  if (::rename(path.c_str(), hidden.c_str()) == 0) RemoveTree(hidden);
}

void RemoveTree(const std::string& path) {
  ::nftw(
      path.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
      FTW_DEPTH | FTW_PHYS);
}

void WriteFileAtomic(const std::string& path, const std::string& contents) {
  AtomicFile file(path);
  file.Write(contents);
  file.Commit();
}

}  // namespace mome
