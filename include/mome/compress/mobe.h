// MoBE (SPEC.md §6): factorise a layer's stacked expert matrices W [n, p, d] as
//   Ŵ_i = σ · A_i · f(Σ_j softmax(w_i)_j B_j),  A_i ∈ R^{p×r}, B_j ∈ R^{r×d}, m bases,
// plus the two baselines the issue compares against at an equal parameter budget.
// Everything here works on one matrix kind (gate or up) of one layer, so memory is bounded by one layer.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>

namespace mome::compress {

enum class Activation { kSilu, kTanh };
Activation ParseActivation(const std::string& name);  // "silu" | "tanh", else mome::Error
const char* ActivationName(Activation a);
torch::Tensor ApplyActivation(const torch::Tensor& x, Activation a);

struct MobeOptions {
  int64_t rank = 0;   // r
  int64_t bases = 0;  // m
  Activation activation = Activation::kSilu;
  int64_t steps = 1000;
  double lr = 0.07;
  uint64_t seed = 0;
};

// One matrix kind (gate or up) of one layer, compressed.
struct MobeFactors {
  torch::Tensor a;       // [n, p, r]
  torch::Tensor b;       // [m, r, d]
  torch::Tensor logits;  // [n, m]
  double sigma = 1.0;
  Activation activation = Activation::kSilu;
  double best_mse = 0.0;  // MSE(Ŵ/σ, W/σ) of the kept iterate
  double init_mse = 0.0;  // the same for the grouped-SVD initialisation
};

// Parameters of one compressed matrix kind: n·p·r + m·r·d, plus n·m mixing logits when with_logits.
// A whole layer is then n·d·p (dense down) + 2·this, against 3·n·d·p dense.
int64_t MobeMatrixParams(int64_t n, int64_t p, int64_t d, int64_t r, int64_t m, bool with_logits = true);
int64_t MobeLayerParams(int64_t n, int64_t p, int64_t d, int64_t r, int64_t m, bool with_logits = true);

// Checks shapes (W must be [n, p, d], 1 ≤ r ≤ min(p, d), 1 ≤ m ≤ n); `what` names the tensor in errors.
void ValidateMobeProblem(const torch::Tensor& w, const MobeOptions& options, const std::string& what);

// Grouped-SVD initialisation followed by full-batch Adam on MSE(Ŵ/σ, W/σ); keeps the best iterate.
// Runs on w's device; deterministic for a fixed seed on a fixed device.
MobeFactors FitMobe(const torch::Tensor& w, const MobeOptions& options, const std::string& what = "W");

// Ŵ [n, p, d] from the factors, or Ŵ_i [p, d] for one expert (the on-the-fly path).
torch::Tensor ReconstructMobe(const MobeFactors& f);
torch::Tensor ReconstructMobeExpert(const MobeFactors& f, int64_t expert);

// Baselines at a parameter budget (counted like MobeMatrixParams). Each returns the reconstruction and the rank and
// parameter count it used.
struct BaselineResult {
  torch::Tensor reconstruction;  // [n, p, d]
  int64_t rank = 0;
  int64_t params = 0;
};
// Per-expert truncated SVD: rank k with n·k·(p+d) ≤ budget.
BaselineResult TruncatedSvdBaseline(const torch::Tensor& w, int64_t param_budget);
// MoLAE: W_i ≈ A_i B_group (linear, SVD of each stacked group): rank k with n·p·k + m·k·d ≤ budget.
BaselineResult MolaeBaseline(const torch::Tensor& w, int64_t groups, int64_t param_budget);

// Rank-k truncated SVD of x [rows, cols] (k ≤ min(rows, cols)): (U_k Σ_k [rows, k], V_kᵀ [k, cols]), V_k orthonormal,
// in x's dtype and on its device. kAuto takes the Gram route for matrices at least kGramAspect times longer than wide
// in either direction, a direct SVD otherwise. kGram: eigenvectors of the smaller Gram matrix (XᵀX or XXᵀ) in
// float64, so that a 12288×2048 stack of experts costs one GEMM and a 2048² eigh instead of a tall SVD (which LAPACK
// does not finish in minutes on two cores); float64 keeps the squared singular values accurate to well below float32
// rounding of the result.
enum class SvdMethod { kAuto, kGram, kDirect };
constexpr int64_t kGramAspect = 2;
std::pair<torch::Tensor, torch::Tensor> TruncatedSvd(const torch::Tensor& x, int64_t k,
                                                     SvdMethod method = SvdMethod::kAuto);

// ‖W − Ŵ‖² / ‖W‖².
double RelativeSquaredError(const torch::Tensor& w, const torch::Tensor& w_hat);

// Expert i of n belongs to group GroupOf(i, n, m) (contiguous, balanced).
int64_t GroupOf(int64_t expert, int64_t n, int64_t m);

}  // namespace mome::compress
