#include "mome/io/module_loader.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <set>

#include "mome/core/error.h"

namespace mome::io {

LoadReport LoadModuleWeights(torch::nn::Module& module, const CheckpointReader& reader, const std::string& prefix,
                             c10::optional<c10::ScalarType> expected_dtype) {
  torch::NoGradGuard no_grad;
  LoadReport report;
  std::set<std::string> taken;
  for (auto& item : module.named_parameters(/*recurse=*/true)) {
    const std::string name = prefix + item.key();
    MOME_CHECK(reader.Has(name), ErrorCode::kNotFound, reader.path(), ": missing tensor '", name, "'");
    const TensorInfo& info = reader.Info(name);
    at::Tensor& param = item.value();
    MOME_CHECK(info.shape == param.sizes().vec(), ErrorCode::kShapeMismatch, reader.FileOf(name), ": tensor '", name,
               "' has shape ", at::IntArrayRef(info.shape), " but the config expects ", param.sizes());
    MOME_CHECK(at::isFloatingType(info.dtype) || !at::isFloatingType(param.scalar_type()), ErrorCode::kShapeMismatch,
               reader.FileOf(name), ": tensor '", name, "' is stored as ", SafetensorsDtypeName(info.dtype),
               ", not a floating-point type");
    if (expected_dtype)
      MOME_CHECK(info.dtype == *expected_dtype, ErrorCode::kShapeMismatch, reader.FileOf(name), ": tensor '", name,
                 "' is stored as ", SafetensorsDtypeName(info.dtype), " but config.json declares ",
                 SafetensorsDtypeName(*expected_dtype));
    param.copy_(reader.Get(name));
    taken.insert(name);
    ++report.loaded;
  }
  for (const auto& name : reader.Names())
    if (name.rfind(prefix, 0) == 0 && !taken.count(name)) report.unused.push_back(name);
  return report;
}

}  // namespace mome::io
