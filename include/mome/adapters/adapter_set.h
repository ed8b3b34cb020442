// The adapters of a whole frozen Llama, plugged in through llm::LayerHooks: per layer either MoME (placement
// MHSA, FFN or LAYER) or LoRA on Q/V in a Matryoshka variant (MS: one shared by all scales; SS: one per scale;
// MSS: per scale + shared, summed). The active Matryoshka scale is chosen before each forward.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

#include "mome/adapters/lora.h"
#include "mome/adapters/mome.h"
#include "mome/llm/layer_hooks.h"
#include "mome/llm/llama_config.h"

namespace mome::adapters {

struct AdapterOptions {
  std::string kind = "mome";         // mome | lora | none
  std::string placement = "layer";   // MoME: mhsa | ffn | layer
  std::vector<int64_t> layers;       // empty: every decoder layer
  MoMEOptions mome;                  // dim is filled from the LLM
  std::string lora_variant = "ss";   // ms | ss | mss
  int64_t lora_reduction = 32;
  double lora_alpha = 8.0;
  int64_t num_scales = 1;
};

class AdapterSetImpl : public torch::nn::Module, public llm::LayerHooks {
 public:
  AdapterSetImpl(const AdapterOptions& options, const llm::LlamaConfig& llm, const at::TensorOptions& tensor_options);

  void SetScale(int64_t scale);  // which Matryoshka scale the next forward serves
  int64_t scale() const { return scale_; }
  // Router statistics of the forwards since the last ClearStats (for the load-balancing loss).
  const std::vector<RouterStats>& router_stats() const { return stats_; }
  void ClearStats() { stats_.clear(); }
  void set_collect_stats(bool collect) { collect_stats_ = collect; }
  bool collect_stats() const { return collect_stats_; }

  // Parameters active for one token at one scale (routed top-k + shared experts + routers; or the LoRAs used).
  int64_t ActiveParameters(int64_t scale) const;

  at::Tensor QueryDelta(int64_t layer, const at::Tensor& x) const override;
  at::Tensor ValueDelta(int64_t layer, const at::Tensor& x) const override;
  at::Tensor AttentionParallel(int64_t layer, const at::Tensor& normed) const override;
  at::Tensor MlpParallel(int64_t layer, const at::Tensor& normed) const override;
  at::Tensor LayerParallel(int64_t layer, const at::Tensor& normed) const override;
  // Capturable unless router statistics are being collected or a MoME routes by sorting (data-dependent
  // shapes); the key is the Matryoshka scale, which picks the router and top-k baked into a capture.
  bool GraphCapturable() const override;
  int64_t GraphKey() const override { return scale_; }

 private:
  at::Tensor MoMEAt(int64_t layer, const at::Tensor& x) const;
  at::Tensor LoRAAt(int64_t layer, const at::Tensor& x, bool value) const;
  int64_t SlotOf(int64_t layer) const;  // index into the per-layer lists, -1 when the layer has no adapter

  AdapterOptions options_;
  std::vector<int64_t> slot_of_layer_;
  std::vector<MoMEAdapter> mome_;               // per adapted layer
  std::vector<std::vector<LoRA>> lora_q_, lora_v_;  // per adapted layer: per-scale LoRAs, then the shared one
  int64_t scale_ = 0;
  bool collect_stats_ = true;
  mutable std::vector<RouterStats> stats_;
};
TORCH_MODULE(AdapterSet);

}  // namespace mome::adapters
