// Data-parallel training across processes through c10d: Gloo on CPU, NCCL on CUDA (when LibTorch has it).
// Processes find each other with torchrun's environment variables: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT (rank 0 hosts the TCP store). Gradients are averaged in flat buckets of ~25 MB.
#pragma once

#include <memory>

#include "mome/train/trainer.h"

namespace mome::train {

struct DistributedEnv {
  int64_t rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  // Reads the variables; world_size 1 (or unset) means single process. Malformed values throw naming them.
  static DistributedEnv FromEnvironment();
};

// Whether this build can run data parallel on the CPU (Gloo; the PyTorch wheel ships no Gloo headers).
bool CpuDataParallelAvailable();

// A GradientSync for `env` on `device` (Gloo for CPU, NCCL for CUDA). Blocks until all processes joined.
std::shared_ptr<GradientSync> CreateGradientSync(const DistributedEnv& env, c10::Device device);

}  // namespace mome::train
