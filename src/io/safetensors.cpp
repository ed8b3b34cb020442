#include "mome/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "mome/core/atomic_file.h"
#include "mome/core/error.h"
#include "mome/io/json.h"

namespace mome::io {

// Owns one read-only (copy-on-write) mapping of a whole file.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    MOME_CHECK(fd_ >= 0, errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo, path,
               ": cannot open: ", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      MOME_FAIL(ErrorCode::kIo, path, ": not a regular file");
    }
    size_ = static_cast<uint64_t>(st.st_size);
    if (size_ > 0) {
      void* data = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd_, 0);
      if (data == MAP_FAILED) {
        ::close(fd_);
        MOME_FAIL(ErrorCode::kIo, path, ": mmap failed: ", std::strerror(errno));
      }
      data_ = static_cast<uint8_t*>(data);
    }
  }
  ~MappedFile() {
    if (data_) ::munmap(data_, size_);
    if (fd_ >= 0) ::close(fd_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  int fd_ = -1;
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // the format's own limit is 100 MB

struct DtypeEntry {
  const char* name;
  c10::ScalarType type;
};
constexpr DtypeEntry kDtypes[] = {
    {"F64", c10::kDouble}, {"F32", c10::kFloat}, {"F16", c10::kHalf}, {"BF16", c10::kBFloat16}, {"I64", c10::kLong},
    {"I32", c10::kInt},    {"I16", c10::kShort}, {"I8", c10::kChar},  {"U8", c10::kByte},       {"BOOL", c10::kBool},
};

TensorInfo ParseTensorEntry(const std::string& path, const std::string& name, const nlohmann::json& entry,
                            uint64_t data_size) {
  MOME_CHECK(entry.is_object() && entry.contains("dtype") && entry.contains("shape") && entry.contains("data_offsets"),
             ErrorCode::kCorruptFile, path, ": tensor '", name, "' lacks dtype/shape/data_offsets");
  const auto& dtype = entry["dtype"];
  const auto& shape = entry["shape"];
  const auto& offsets = entry["data_offsets"];
  MOME_CHECK(dtype.is_string(), ErrorCode::kCorruptFile, path, ": tensor '", name, "' has a non-string dtype");
  MOME_CHECK(shape.is_array(), ErrorCode::kCorruptFile, path, ": tensor '", name, "' has a non-array shape");
  MOME_CHECK(
      offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() && offsets[1].is_number_unsigned(),
      ErrorCode::kCorruptFile, path, ": tensor '", name, "' has malformed data_offsets");
  TensorInfo info;
  info.name = name;
  try {
    info.dtype = SafetensorsDtype(dtype.get<std::string>());
  } catch (const Error& e) {
    MOME_FAIL(ErrorCode::kUnsupported, path, ": tensor '", name, "': ", e.what());
  }
  uint64_t elements = 1;
  for (const auto& dim : shape) {
    MOME_CHECK(dim.is_number_unsigned(), ErrorCode::kCorruptFile, path, ": tensor '", name,
               "' has a negative or non-integer dimension");
    const uint64_t d = dim.get<uint64_t>();
    MOME_CHECK(d == 0 || elements <= std::numeric_limits<uint64_t>::max() / d, ErrorCode::kCorruptFile, path,
               ": tensor '", name, "' has an absurd shape");
    elements *= d;
    info.shape.push_back(static_cast<int64_t>(d));
  }
  info.begin = offsets[0].get<uint64_t>();
  info.end = offsets[1].get<uint64_t>();
  MOME_CHECK(info.begin <= info.end && info.end <= data_size, ErrorCode::kCorruptFile, path, ": tensor '", name,
             "' data_offsets [", info.begin, ", ", info.end, ") lie outside the file's ", data_size,
             " data bytes (truncated file?)");
  const uint64_t element_size = c10::elementSize(info.dtype);
  MOME_CHECK(elements <= std::numeric_limits<uint64_t>::max() / element_size &&
                 elements * element_size == info.end - info.begin,
             ErrorCode::kCorruptFile, path, ": tensor '", name, "' has ", info.end - info.begin,
             " bytes but its shape and dtype need ", elements * element_size);
  return info;
}

}  // namespace

c10::ScalarType SafetensorsDtype(const std::string& name) {
  for (const auto& entry : kDtypes)
    if (name == entry.name) return entry.type;
  MOME_FAIL(ErrorCode::kUnsupported, "safetensors dtype '", name, "' is not supported");
}

std::string SafetensorsDtypeName(c10::ScalarType dtype) {
  for (const auto& entry : kDtypes)
    if (dtype == entry.type) return entry.name;
  MOME_FAIL(ErrorCode::kUnsupported, "dtype ", c10::toString(dtype), " cannot be stored in safetensors");
}

std::shared_ptr<const SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->mapping_ = std::make_shared<MappedFile>(path);
  const uint64_t size = file->mapping_->size();
  MOME_CHECK(size >= 8, ErrorCode::kCorruptFile, path, ": too short for a safetensors file (", size, " bytes)");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | file->mapping_->data()[i];
  MOME_CHECK(header_len <= size - 8, ErrorCode::kCorruptFile, path, ": header length ", header_len,
             " exceeds the file size ", size, " (truncated or not a safetensors file)");
  MOME_CHECK(header_len <= kMaxHeaderBytes, ErrorCode::kCorruptFile, path, ": header length ", header_len,
             " is over the 100 MB limit");
  file->data_start_ = 8 + header_len;
  const uint64_t data_size = size - file->data_start_;

  const char* begin = reinterpret_cast<const char*>(file->mapping_->data() + 8);
  const nlohmann::json header = io::ParseJson(std::string(begin, begin + header_len), path + " (header)");
  MOME_CHECK(header.is_object(), ErrorCode::kCorruptFile, path, ": header is not a JSON object");
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      MOME_CHECK(it->is_object(), ErrorCode::kCorruptFile, path, ": __metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        MOME_CHECK(m->is_string(), ErrorCode::kCorruptFile, path, ": __metadata__ value '", m.key(),
                   "' is not a string");
        file->metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    file->infos_[it.key()] = ParseTensorEntry(path, it.key(), *it, data_size);
  }
  return file;
}

const TensorInfo& SafetensorsFile::Info(const std::string& name) const {
  const auto it = infos_.find(name);
  MOME_CHECK(it != infos_.end(), ErrorCode::kNotFound, path_, ": no tensor named '", name, "'");
  return it->second;
}

std::vector<std::string> SafetensorsFile::Names() const {
  std::vector<std::string> names;
  for (const auto& entry : infos_) names.push_back(entry.first);
  return names;
}

at::Tensor SafetensorsFile::Get(const std::string& name) const {
  const TensorInfo& info = Info(name);
  uint8_t* data = mapping_->data() + data_start_ + info.begin;
  const auto options = at::TensorOptions().dtype(info.dtype).device(at::kCPU);
  if (info.end == info.begin) return at::empty(info.shape, options);
  if (reinterpret_cast<uintptr_t>(data) % c10::elementSize(info.dtype) != 0) {
    // Misaligned data (legal in the format): copy rather than hand kernels an unaligned pointer.
    at::Tensor copy = at::empty(info.shape, options);
    std::memcpy(copy.data_ptr(), data, info.end - info.begin);
    return copy;
  }
  auto keep_alive = mapping_;
  return at::from_blob(
      data, info.shape, [keep_alive](void*) {}, options);
}

CheckpointReader CheckpointReader::Open(const std::string& path) {
  namespace fs = std::filesystem;
  CheckpointReader reader;
  reader.path_ = path;
  std::error_code ec;
  MOME_CHECK(fs::exists(path, ec), ErrorCode::kNotFound, path, ": no such file or folder");
  std::vector<std::string> shard_paths;
  if (!fs::is_directory(path, ec)) {
    shard_paths.push_back(path);
  } else {
    const fs::path index = fs::path(path) / "model.safetensors.index.json";
    const fs::path single = fs::path(path) / "model.safetensors";
    if (fs::exists(single, ec)) {
      shard_paths.push_back(single.string());
    } else if (fs::exists(index, ec)) {
      const nlohmann::json json = io::ReadJsonFile(index.string());
      MOME_CHECK(json.is_object() && json.contains("weight_map") && json["weight_map"].is_object(),
                 ErrorCode::kCorruptFile, index.string(), ": has no 'weight_map' object");
      std::map<std::string, std::string> wanted;  // tensor -> shard
      for (auto it = json["weight_map"].begin(); it != json["weight_map"].end(); ++it) {
        MOME_CHECK(it->is_string(), ErrorCode::kCorruptFile, index.string(), ": weight_map entry '", it.key(),
                   "' is not a file name");
        const std::string shard = (fs::path(path) / it->get<std::string>()).string();
        wanted[it.key()] = shard;
        if (!reader.files_.count(shard)) reader.files_[shard] = SafetensorsFile::Open(shard);
      }
      for (const auto& [name, shard] : wanted) {
        MOME_CHECK(reader.files_[shard]->Has(name), ErrorCode::kCorruptFile, index.string(), ": says '", name,
                   "' is in ", shard, " but that shard lacks it");
        reader.file_of_[name] = shard;
      }
      return reader;
    } else {
      MOME_FAIL(ErrorCode::kNotFound, path, ": holds neither model.safetensors nor model.safetensors.index.json");
    }
  }
  for (const auto& shard : shard_paths) {
    auto file = SafetensorsFile::Open(shard);
    for (const auto& name : file->Names()) reader.file_of_[name] = shard;
    reader.files_[shard] = file;
  }
  return reader;
}

const std::string& CheckpointReader::FileOf(const std::string& name) const {
  const auto it = file_of_.find(name);
  MOME_CHECK(it != file_of_.end(), ErrorCode::kNotFound, path_, ": checkpoint has no tensor named '", name, "'");
  return it->second;
}

const TensorInfo& CheckpointReader::Info(const std::string& name) const {
  return files_.at(FileOf(name))->Info(name);
}

at::Tensor CheckpointReader::Get(const std::string& name) const {
  return files_.at(FileOf(name))->Get(name);
}

std::vector<std::string> CheckpointReader::Names() const {
  std::vector<std::string> names;
  for (const auto& entry : file_of_) names.push_back(entry.first);
  return names;
}

void SaveSafetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                     const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> contiguous;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    MOME_CHECK(name != "__metadata__" && !header.contains(name), ErrorCode::kInvalidArgument, path,
               ": duplicate or reserved tensor name '", name, "'");
    at::Tensor cpu = tensor.detach().to(at::kCPU).contiguous();
    const uint64_t bytes = cpu.numel() * cpu.element_size();
    header[name] = {{"dtype", SafetensorsDtypeName(cpu.scalar_type())},
                    {"shape", cpu.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(cpu);
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned
  uint8_t length_bytes[8];
  uint64_t length = header_text.size();
  for (int i = 0; i < 8; ++i) length_bytes[i] = static_cast<uint8_t>(length >> (8 * i));

  AtomicFile file(path);
  file.Write(length_bytes, 8);
  file.Write(header_text);
  for (const auto& tensor : contiguous) file.Write(tensor.data_ptr(), tensor.numel() * tensor.element_size());
  file.Commit();
}

}  // namespace mome::io
