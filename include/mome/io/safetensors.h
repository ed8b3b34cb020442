// safetensors reading (memory-mapped, bounds-checked before anything is allocated) and atomic writing.
// Format: 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}},
// then the raw data; offsets are relative to the end of the header.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mome::io {

struct TensorInfo {
  std::string name;
  c10::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
};

class MappedFile;

class SafetensorsFile {
 public:
  // Throws mome::Error naming the path on a missing, truncated or malformed file.
  static std::shared_ptr<const SafetensorsFile> Open(const std::string& path);

  const std::string& path() const { return path_; }
  bool Has(const std::string& name) const { return infos_.count(name) > 0; }
  const TensorInfo& Info(const std::string& name) const;
  std::vector<std::string> Names() const;
  const std::map<std::string, std::string>& Metadata() const { return metadata_; }
  // A CPU tensor viewing the mapped bytes (copy-on-write mapping: writing to it never touches the file).
  // The tensor keeps the mapping alive.
  at::Tensor Get(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  std::shared_ptr<MappedFile> mapping_;
  uint64_t data_start_ = 0;
  std::map<std::string, TensorInfo> infos_;
  std::map<std::string, std::string> metadata_;
};

// A checkpoint: one .safetensors file, a folder with model.safetensors, or a folder with
// model.safetensors.index.json naming shards.
class CheckpointReader {
 public:
  static CheckpointReader Open(const std::string& path);

  const std::string& path() const { return path_; }
  bool Has(const std::string& name) const { return file_of_.count(name) > 0; }
  const TensorInfo& Info(const std::string& name) const;
  at::Tensor Get(const std::string& name) const;
  std::vector<std::string> Names() const;
  const std::string& FileOf(const std::string& name) const;

 private:
  std::string path_;
  std::map<std::string, std::shared_ptr<const SafetensorsFile>> files_;  // by file path
  std::map<std::string, std::string> file_of_;                           // tensor name -> file path
};

// Writes tensors (any device, any layout) to `path` atomically: temp file + fsync + rename.
void SaveSafetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                     const std::map<std::string, std::string>& metadata = {});

// "F32" <-> kFloat etc.; unknown names throw mome::Error(kUnsupported).
c10::ScalarType SafetensorsDtype(const std::string& name);
std::string SafetensorsDtypeName(c10::ScalarType dtype);

}  // namespace mome::io
