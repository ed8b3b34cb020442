#include "mome/nn/init.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

namespace mome::nn {

at::Tensor UniformInit(at::IntArrayRef sizes, double bound, const at::TensorOptions& options,
                       const at::Generator& generator) {
  if (!generator.defined()) return at::empty(sizes, options).uniform_(-bound, bound);
  const at::Tensor cpu = at::empty(sizes, options.device(c10::kCPU)).uniform_(-bound, bound, generator);
  return options.device().is_cpu() ? cpu : cpu.to(options.device());
}

at::Generator SeededGenerator(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

}  // namespace mome::nn
