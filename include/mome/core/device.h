// Device and dtype selection: CPU runs in fp32 by default, CUDA in bf16.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace mome {

// "cpu", "cuda" or "cuda:N". Asking for CUDA where there is none is an error, not a silent CPU run.
c10::Device ParseDevice(const std::string& name);
// "f32"/"fp32"/"float32", "bf16"/"bfloat16", "f16"/"fp16"/"float16"; "auto" picks DefaultDtype(device).
c10::ScalarType ParseDtype(const std::string& name, c10::Device device);
c10::ScalarType DefaultDtype(c10::Device device);
std::string DtypeName(c10::ScalarType dtype);
bool CudaAvailable();

}  // namespace mome
