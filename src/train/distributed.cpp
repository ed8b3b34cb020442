#include "mome/train/distributed.h"

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if __has_include(<gloo/rendezvous/store.h>)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#define MOME_HAS_GLOO 1
#endif
#if defined(MOME_WITH_CUDA) && __has_include(<torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#define MOME_HAS_NCCL 1
#endif

#include <chrono>
#include <cstdlib>

#include "mome/core/error.h"

namespace mome::train {
namespace {

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long long x = std::strtoll(v, &end, 10);
  MOME_CHECK(end && *end == '\0', ErrorCode::kInvalidArgument, "environment variable ", name, "='", v,
             "' is not an integer");
  return x;
}

template <typename Group>
class C10dSync : public GradientSync {
 public:
  C10dSync(c10::intrusive_ptr<Group> group, int64_t rank, int64_t world)
      : group_(std::move(group)), rank_(rank), world_(world) {}
  int64_t rank() const override { return rank_; }
  int64_t world_size() const override { return world_; }

  void AllReduceMean(const std::vector<at::Tensor>& grads) override {
    // Flat buckets: one collective per ~25 MB instead of one per tensor.
    constexpr int64_t kBucketBytes = 25 << 20;
    size_t begin = 0;
    while (begin < grads.size()) {
      size_t end = begin;
      int64_t bytes = 0;
      while (end < grads.size() && (end == begin || bytes + grads[end].nbytes() <= kBucketBytes))
        bytes += grads[end++].nbytes();
      std::vector<at::Tensor> pieces;
      for (size_t i = begin; i < end; ++i) pieces.push_back(grads[i].reshape({-1}));
      std::vector<at::Tensor> flat{at::cat(pieces)};
      group_->allreduce(flat)->wait();
      flat[0].div_(static_cast<double>(world_));
      int64_t offset = 0;
      for (size_t i = begin; i < end; ++i) {
        const int64_t n = grads[i].numel();
        grads[i].copy_(flat[0].narrow(0, offset, n).view_as(grads[i]));
        offset += n;
      }
      begin = end;
    }
  }

  void AllReduceSum(at::Tensor& values) override {
    std::vector<at::Tensor> t{values};
    group_->allreduce(t)->wait();
  }

  void Barrier() override { group_->barrier()->wait(); }

 private:
  c10::intrusive_ptr<Group> group_;
  int64_t rank_, world_;
};

}  // namespace

DistributedEnv DistributedEnv::FromEnvironment() {
  DistributedEnv env;
  env.world_size = EnvInt("WORLD_SIZE", 1);
  env.rank = EnvInt("RANK", 0);
  env.local_rank = EnvInt("LOCAL_RANK", env.rank);
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) env.master_addr = a;
  env.master_port = EnvInt("MASTER_PORT", 29500);
  MOME_CHECK(env.world_size >= 1 && env.rank >= 0 && env.rank < env.world_size, ErrorCode::kInvalidArgument,
             "RANK=", env.rank, " WORLD_SIZE=", env.world_size, ": the rank must be in [0, WORLD_SIZE)");
  return env;
}

std::shared_ptr<GradientSync> CreateGradientSync(const DistributedEnv& env, c10::Device device) {
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<uint16_t>(env.master_port);
  store_options.isServer = env.rank == 0;
  store_options.numWorkers = static_cast<size_t>(env.world_size);
  store_options.waitWorkers = true;
  store_options.timeout = std::chrono::seconds(300);
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
  } catch (const std::exception& e) {
    MOME_FAIL(ErrorCode::kIo, "c10d: cannot reach the rendezvous at ", env.master_addr, ":", env.master_port,
              " (rank ", env.rank, "): ", e.what());
  }
  if (device.is_cuda()) {
#ifdef MOME_HAS_NCCL
    auto options = c10d::ProcessGroupNCCL::Options::create();
    auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, static_cast<int>(env.rank),
                                                             static_cast<int>(env.world_size), options);
    return std::make_shared<C10dSync<c10d::ProcessGroupNCCL>>(group, env.rank, env.world_size);
#else
    MOME_FAIL(ErrorCode::kUnsupported, "data-parallel training on CUDA needs a LibTorch with NCCL");
#endif
  }
#ifdef MOME_HAS_GLOO
  auto options = c10d::ProcessGroupGloo::Options::create();
  options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(env.master_addr));
  auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, static_cast<int>(env.rank),
                                                           static_cast<int>(env.world_size), options);
  return std::make_shared<C10dSync<c10d::ProcessGroupGloo>>(group, env.rank, env.world_size);
#else
  MOME_FAIL(ErrorCode::kUnsupported, "data-parallel training on CPU needs LibTorch's Gloo headers (libgloo-dev)");
#endif
}

bool CpuDataParallelAvailable() {
#ifdef MOME_HAS_GLOO
  return true;
#else
  return false;
#endif
}

}  // namespace mome::train
