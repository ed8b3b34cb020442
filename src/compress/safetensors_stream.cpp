// Streaming safetensors writer (see the header for why it lives next to compression).
#include "mome/compress/safetensors_stream.h"

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include "mome/core/error.h"
#include "mome/io/safetensors.h"

namespace mome::compress {

SafetensorsStreamWriter::SafetensorsStreamWriter(const std::string& path, std::vector<PlannedTensor> plan,
                                                 const std::map<std::string, std::string>& metadata)
    : path_(path), plan_(std::move(plan)), file_(path) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : plan_) {
    MOME_CHECK(t.name != "__metadata__" && !header.contains(t.name), ErrorCode::kInvalidArgument, path,
               ": duplicate or reserved tensor name '", t.name, "'");
    int64_t numel = 1;
    for (int64_t s : t.shape) numel *= s;
    const uint64_t bytes = static_cast<uint64_t>(numel) * c10::elementSize(t.dtype);
    header[t.name] = {
        {"dtype", io::SafetensorsDtypeName(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned, as io::SaveSafetensors does
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  file_.Write(length, 8);
  file_.Write(text);
}

const std::string& SafetensorsStreamWriter::next_name() const {
  static const std::string kNone;
  return next_ < plan_.size() ? plan_[next_].name : kNone;
}

void SafetensorsStreamWriter::Write(const std::string& name, const at::Tensor& tensor) {
  MOME_CHECK(next_ < plan_.size(), ErrorCode::kInternal, path_, ": tensor '", name, "' written after the planned ",
             plan_.size());
  const PlannedTensor& want = plan_[next_];
  MOME_CHECK(name == want.name && tensor.scalar_type() == want.dtype && tensor.sizes().vec() == want.shape,
             ErrorCode::kInternal, path_, ": expected tensor '", want.name, "' ", io::SafetensorsDtypeName(want.dtype),
             " ", c10::IntArrayRef(want.shape), ", got '", name, "' ", tensor.scalar_type(), " ", tensor.sizes());
  const at::Tensor cpu = tensor.detach().to(at::kCPU).contiguous();
  file_.Write(cpu.data_ptr(), cpu.numel() * cpu.element_size());
  ++next_;
}

void SafetensorsStreamWriter::Commit() {
  MOME_CHECK(next_ == plan_.size(), ErrorCode::kInternal, path_, ": only ", next_, " of ", plan_.size(),
             " planned tensors were written");
  file_.Commit();
}

}  // namespace mome::compress
