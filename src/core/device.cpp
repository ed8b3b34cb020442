#include "mome/core/device.h"

#include <torch/cuda.h>

#include "mome/core/error.h"

namespace mome {

bool CudaAvailable() {
  return torch::cuda::is_available();
}

c10::Device ParseDevice(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    MOME_CHECK(CudaAvailable(), ErrorCode::kUnsupported, "device '", name,
               "' requested but this libmome/LibTorch has no usable CUDA device");
    try {
      c10::Device device(name);
      MOME_CHECK(!device.has_index() || device.index() < static_cast<int>(torch::cuda::device_count()),
                 ErrorCode::kInvalidArgument, "device '", name, "' does not exist (", torch::cuda::device_count(),
                 " CUDA devices)");
      return device;
    } catch (const c10::Error&) {
    }
  }
  MOME_FAIL(ErrorCode::kInvalidArgument, "device '", name, "' is not one of cpu, cuda, cuda:N");
}

c10::ScalarType DefaultDtype(c10::Device device) {
  return device.is_cuda() ? c10::kBFloat16 : c10::kFloat;
}

c10::ScalarType ParseDtype(const std::string& name, c10::Device device) {
  if (name == "auto" || name.empty()) return DefaultDtype(device);
  if (name == "f32" || name == "fp32" || name == "float32") return c10::kFloat;
  if (name == "bf16" || name == "bfloat16") return c10::kBFloat16;
  if (name == "f16" || name == "fp16" || name == "float16") return c10::kHalf;
  MOME_FAIL(ErrorCode::kInvalidArgument, "dtype '", name, "' is not one of f32, bf16, f16, auto");
}

std::string DtypeName(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kFloat: return "f32";
    case c10::kBFloat16: return "bf16";
    case c10::kHalf: return "f16";
    case c10::kDouble: return "f64";
    default: return c10::toString(dtype);
  }
}

}  // namespace mome
