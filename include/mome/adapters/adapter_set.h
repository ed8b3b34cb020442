// The adapters of a whole frozen Llama, plugged in through llm::LayerHooks: per layer either MoME (placement
// MHSA, FFN or LAYER) or LoRA on Q/V in a Matryoshka variant (MS: one shared by all scales; SS: one per scale;
// MSS: per scale + shared, summed). The set holds weights only: which Matryoshka scale a forward serves and where
// its router statistics go are bound per call (`At`), so one loaded set serves several threads at once.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

#include "mome/adapters/lora.h"
#include "mome/adapters/mome.h"
#include "mome/core/enum_names.h"
#include "mome/llm/layer_hooks.h"
#include "mome/llm/llama_config.h"

namespace mome::adapters {

enum class AdapterKind { kMoME, kLoRA, kNone };
enum class Placement { kMHSA, kFFN, kLayer };  // MoME next to the attention, the MLP, or the whole layer
enum class LoRAVariant { kMS, kSS, kMSS };     // one shared LoRA; one per scale; both, summed
inline constexpr EnumNames<AdapterKind, 3> kAdapterKindNames{
    {{AdapterKind::kMoME, "mome"}, {AdapterKind::kLoRA, "lora"}, {AdapterKind::kNone, "none"}}};
inline constexpr EnumNames<Placement, 3> kPlacementNames{
    {{Placement::kMHSA, "mhsa"}, {Placement::kFFN, "ffn"}, {Placement::kLayer, "layer"}}};
inline constexpr EnumNames<LoRAVariant, 3> kLoRAVariantNames{
    {{LoRAVariant::kMS, "ms"}, {LoRAVariant::kSS, "ss"}, {LoRAVariant::kMSS, "mss"}}};

struct AdapterOptions {
  AdapterKind kind = AdapterKind::kMoME;
  Placement placement = Placement::kLayer;  // MoME only
  std::vector<int64_t> layers;              // empty: every decoder layer
  MoMEOptions mome;                         // dim is filled from the LLM
  LoRAVariant lora_variant = LoRAVariant::kSS;
  int64_t lora_reduction = 32;
  double lora_alpha = 8.0;
  int64_t num_scales = 1;
};

class AdapterSetImpl;

// The adapters as one forward pass sees them: the Matryoshka scale it serves and where router statistics go
// (nullptr: nowhere). A small value made per call on the caller's side; the set must outlive it.
class BoundAdapters : public llm::LayerHooks {
 public:
  BoundAdapters(const AdapterSetImpl& set, int64_t scale, std::vector<RouterStats>* router_stats);

  at::Tensor QueryDelta(int64_t layer, const at::Tensor& x) const override;
  at::Tensor ValueDelta(int64_t layer, const at::Tensor& x) const override;
  at::Tensor AttentionParallel(int64_t layer, const at::Tensor& normed) const override;
  at::Tensor MlpParallel(int64_t layer, const at::Tensor& normed) const override;
  at::Tensor LayerParallel(int64_t layer, const at::Tensor& normed) const override;
  // Capturable unless router statistics are collected or a MoME routes by sorting (data-dependent shapes); the
  // key is the Matryoshka scale, which picks the router and top-k baked into a capture.
  bool GraphCapturable() const override;
  int64_t GraphKey() const override { return scale_; }
  int64_t scale() const { return scale_; }

 private:
  const AdapterSetImpl* set_;
  int64_t scale_;
  std::vector<RouterStats>* router_stats_;
};

class AdapterSetImpl : public torch::nn::Module {
 public:
  AdapterSetImpl(const AdapterOptions& options, const llm::LlamaConfig& llm, const at::TensorOptions& tensor_options,
                 at::Generator init = {});

  // The hooks of one forward at Matryoshka scale `scale` (checked); router statistics appended to `router_stats`
  // when given (the load-balancing loss reads them).
  BoundAdapters At(int64_t scale, std::vector<RouterStats>* router_stats = nullptr) const;
  int64_t num_scales() const { return options_.num_scales; }

  // Parameters active for one token at one scale (routed top-k + shared experts + routers; or the LoRAs used).
  int64_t ActiveParameters(int64_t scale) const;

 private:
  friend class BoundAdapters;
  at::Tensor MoMEAt(int64_t layer, const at::Tensor& x, int64_t scale, std::vector<RouterStats>* stats) const;
  at::Tensor LoRAAt(int64_t layer, const at::Tensor& x, bool value, int64_t scale) const;
  at::Tensor MoMEIf(Placement placement, int64_t layer, const at::Tensor& x, int64_t scale,
                    std::vector<RouterStats>* stats) const;
  bool AnySortedDispatch() const;
  int64_t SlotOf(int64_t layer) const;  // index into the per-layer lists, -1 when the layer has no adapter
  void AddLoRA(int64_t layer, const llm::LlamaConfig& llm, const at::TensorOptions& t, const at::Generator& init);

  AdapterOptions options_;
  std::vector<int64_t> slot_of_layer_;
  std::vector<MoMEAdapter> mome_;                   // per adapted layer
  std::vector<std::vector<LoRA>> lora_q_, lora_v_;  // per adapted layer: per-scale LoRAs, then the shared one
};
TORCH_MODULE(AdapterSet);

}  // namespace mome::adapters
