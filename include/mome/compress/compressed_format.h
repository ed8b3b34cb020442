// The on-disk form of a MoBE-compressed checkpoint (safetensors + metadata), and the runtime view of it.
//
// Tensors, per compressed layer l and factorised kind k (FactorStem: the kind's original expert names with the
// expert index replaced by "mobe", e.g. model.layers.3.mlp.experts.mobe.gate_proj.{a,b,logits,sigma}; for MoME
// adapters adapters.layer3_mome.mobe.down_weight.{a,b,logits,sigma}):
//   .a [n, p, r], .b [m, r, d], .logits [n, m] (float32), .sigma [1] (float64)
// The dense kind (down experts; MoME's up_weight) is stored under its original names, dtype and layout. Metadata:
// format = "mome.mobe.v1", arch, activation, rank, bases, steps, lr, seed, layers (comma list).
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
  std::vector<MobeFactors> factors;                          // one per naming.factorised kind, in that order
  std::vector<std::pair<std::string, torch::Tensor>> dense;  // naming.dense's tensors as stored, by name
};

// The name stem of a kind's factors in layer l.
std::string FactorStem(const ExpertNaming& naming, int64_t layer, const ExpertKind& kind);

// Appends one layer's tensors (for SaveSafetensors).
void AppendLayerTensors(const ExpertNaming& naming, const CompressedLayer& layer,
                        std::vector<std::pair<std::string, at::Tensor>>* out);

// Reads one layer back from a compressed file; throws kNotFound naming the missing tensor.
CompressedLayer ReadCompressedLayer(const io::SafetensorsFile& file, const ExpertNaming& naming, int64_t layer,
                                    Activation activation);

// How CompressedMoe gets an expert's gate/up product x·Ŵ_iᵀ:
//   kReconstructAtLoad:    every Ŵ_i once, at construction (dense memory, dense speed);
//   kReconstructPerExpert: Ŵ_i = σ A_i f(M_i) for each routed expert at each call, then x·Ŵ_iᵀ;
//   kFactored:             σ·(x·f(M_i)ᵀ)·A_iᵀ for each routed expert, never forming the p×d matrix — fewer
//                          operations than the dense product when r < p·d/(p+d) (bench/mobe_runtime_bench).
enum class MoeRuntime { kReconstructAtLoad, kReconstructPerExpert, kFactored };
const char* MoeRuntimeName(MoeRuntime runtime);

// A MoE expert block of SwiGLU experts (down(silu(gate x) ⊙ up x)) run from compressed weights: the layer must
// come from a per-expert architecture (factors {gate, up}, n dense down matrices [d, p]).
class CompressedMoe {
 public:
  // `options`: where the block runs and in which dtype (the dense down and any reconstruction are kept so; the
  // factors stay float32 on that device, since mixing and f are cheap and precision-sensitive).
  CompressedMoe(const CompressedLayer& layer, MoeRuntime runtime,
                const at::TensorOptions& options = at::TensorOptions().dtype(torch::kFloat32));
  // x [t, d] (d = hidden size); experts [t, k] (int64) and weights [t, k]: the router's top-k choice. Returns [t, d]
  // in x's dtype.
  torch::Tensor Forward(const torch::Tensor& x, const torch::Tensor& experts, const torch::Tensor& weights) const;
  int64_t num_experts() const { return down_.size(0); }
  // Bytes of expert weights held (factors, reconstructions, down), the memory side of the runtime choice.
  int64_t WeightBytes() const;

 private:
  // xt [h, d] → xt·Ŵ_eᵀ [h, p] for kind 0 (gate) or 1 (up).
  torch::Tensor Project(int kind, int64_t expert, const torch::Tensor& xt) const;
  MobeFactors factors_[2];
  torch::Tensor down_;  // [n, d, p]
  MoeRuntime runtime_;
  at::TensorOptions options_;
  torch::Tensor dense_[2];  // kReconstructAtLoad: gate and up [n, p, d]
};

}  // namespace mome::compress
