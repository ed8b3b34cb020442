#include "mome/core/atomic_file.h"

#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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
