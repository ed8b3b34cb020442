// CUDA builds: capture LlamaModel::ForwardStatic (+ the LM head and the position/slot increments) once,
// then each token is one graph replay.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "decode/graphed_step.h"
#include "mome/core/error.h"

namespace mome::decode {
namespace {

class CudaGraphedStep : public GraphedDecodeStep {
 public:
  CudaGraphedStep(const llm::LlamaForCausalLMImpl& lm, llm::KVCache& cache, const at::Tensor& next_position,
                  const llm::LayerHooks* hooks)
      : lm_(lm), cache_(cache), hooks_(hooks) {
    const auto long_options = next_position.options().dtype(at::kLong);
    tokens_ = at::zeros({cache.batch()}, long_options);
    positions_ = next_position.to(at::kLong).clone();
    slot_ = at::full({1}, cache.length(), long_options);
    Capture();
  }

  at::Tensor Step(const at::Tensor& tokens) override {
    MOME_CHECK(cache_.length() < cache_.capacity(), ErrorCode::kInvalidArgument, "KV cache overflow: capacity ",
               cache_.capacity(), " reached");
    tokens_.copy_(tokens);
    graph_.replay();
    cache_.EndStep(1);
    return logits_;
  }

  void Reorder(const at::Tensor& index) override { positions_.copy_(positions_.index_select(0, index)); }

  void Reset(const at::Tensor& next_position, int64_t next_slot) override {
    positions_.copy_(next_position);
    slot_.fill_(next_slot);
  }

 private:
  at::Tensor Run() {
    const at::Tensor embeds = lm_.model->Embed(tokens_.unsqueeze(1));
    const at::Tensor hidden = lm_.model->ForwardStatic(embeds, positions_.unsqueeze(1), slot_, cache_, hooks_);
    return lm_.LogitsFp32(hidden.select(1, 0));
  }

  void Capture() {
    c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
    c10::cuda::CUDAStream previous = c10::cuda::getCurrentCUDAStream();
    side.synchronize();
    previous.synchronize();
    {
      c10::cuda::CUDAStreamGuard guard(side);
      // Warm-up on the capture stream (cuBLAS handles, kernel selection). It writes the current slot, which
      // the first real step overwrites, and leaves positions/slot alone.
      for (int i = 0; i < 2; ++i) Run();
      side.synchronize();
      graph_.capture_begin();
      logits_ = Run();
      positions_.add_(1);
      slot_.add_(1);
      graph_.capture_end();
      side.synchronize();
    }
  }

  const llm::LlamaForCausalLMImpl& lm_;
  llm::KVCache& cache_;
  const llm::LayerHooks* hooks_;
  at::Tensor tokens_, positions_, slot_, logits_;
  at::cuda::CUDAGraph graph_;
};

}  // namespace

std::unique_ptr<GraphedDecodeStep> GraphedDecodeStep::Create(const llm::LlamaForCausalLMImpl& lm, llm::KVCache& cache,
                                                             const at::Tensor& next_position,
                                                             const llm::LayerHooks* hooks) {
  if (!next_position.is_cuda()) return nullptr;
  return std::make_unique<CudaGraphedStep>(lm, cache, next_position, hooks);
}

}  // namespace mome::decode
