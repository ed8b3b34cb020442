// CPU builds: no CUDA graphs; IncrementalDecoder runs every step eagerly.
#include "decode/graphed_step.h"

namespace mome::decode {

std::unique_ptr<GraphedDecodeStep> GraphedDecodeStep::Create(const llm::LlamaForCausalLMImpl&, llm::KVCache&,
                                                             const at::Tensor&, const llm::LayerHooks*) {
  return nullptr;
}

}  // namespace mome::decode
