// Random initialisation from a generator the caller owns, so that building a model never touches the process's
// global random state (two threads may build models at once; an application's own seeding is left alone).
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

namespace mome::nn {

// U(-bound, bound) of `sizes` with `options`. With a generator (a CPU one), drawn on the CPU and then moved, so
// the values do not depend on the device; without one, from the global generator of the device (tests that
// seed it themselves).
at::Tensor UniformInit(at::IntArrayRef sizes, double bound, const at::TensorOptions& options,
                       const at::Generator& generator);

// A CPU generator seeded with `seed` (the same stream as torch::manual_seed(seed) gives the CPU).
at::Generator SeededGenerator(uint64_t seed);

}  // namespace mome::nn
