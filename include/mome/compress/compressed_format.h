// The on-disk form of a MoBE-compressed checkpoint (safetensors + metadata), and the runtime view of it.
//
// Tensors, per compressed layer l and kind k ∈ {gate, up} (the kind's original expert names with the expert index
// replaced by "mobe", e.g. model.layers.3.mlp.experts.mobe.gate_proj.{a,b,logits,sigma}):
//   .a [n, p, r], .b [m, r, d], .logits [n, m] (float32), .sigma [1] (float64)
// down experts are stored dense under their original names and dtype. Metadata: format = "mome.mobe.v1", arch,
// activation, rank, bases, layers (comma list).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "mome/compress/expert_source.h"
#include "mome/compress/mobe.h"

namespace mome::compress {

struct CompressedLayer {
  int64_t layer = 0;
  MobeFactors gate, up;
  torch::Tensor down;  // [n, d, p] as stored in the input checkpoint
};

// The name stem of a kind's factors: model.layers.{l}.<infix>.experts.mobe<suffix without ".weight">.
std::string FactorStem(const ExpertNaming& naming, int64_t layer, const std::string& kind_suffix);

// Appends one layer's tensors (for SaveSafetensors).
void AppendLayerTensors(const ExpertNaming& naming, const CompressedLayer& layer,
                        std::vector<std::pair<std::string, at::Tensor>>* out);

// Reads one layer back from a compressed file; throws kNotFound naming the missing tensor.
CompressedLayer ReadCompressedLayer(const io::SafetensorsFile& file, const ExpertNaming& naming, int64_t layer,
                                    Activation activation);

// A MoE expert block (SwiGLU experts: down(silu(gate x) ⊙ up x)) run from compressed weights, either with every
// expert reconstructed once at construction or with each routed expert reconstructed when used.
class CompressedMoe {
 public:
  CompressedMoe(CompressedLayer layer, bool reconstruct_at_load);
  // x [t, d] (d = hidden size); experts [t, k] (int64) and weights [t, k]: the router's top-k choice. Returns [t, d].
  torch::Tensor Forward(const torch::Tensor& x, const torch::Tensor& experts, const torch::Tensor& weights) const;
  int64_t num_experts() const { return layer_.down.size(0); }

 private:
  std::pair<torch::Tensor, torch::Tensor> GateUp(int64_t expert) const;
  CompressedLayer layer_;
  torch::Tensor gate_dense_, up_dense_;  // set when reconstructed at load
};

}  // namespace mome::compress
