// MoBE (SPEC.md §6): parameter counts, quality against equal-budget baselines on structured experts, determinism,
// the per-expert reconstruction path and input validation. Sizes are tiny so the whole suite stays fast.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <functional>
#include <string>
#include <vector>

#include "mome/compress/compressed_format.h"
#include "mome/compress/expert_source.h"
#include "mome/compress/mobe.h"
#include "mome/core/error.h"
#include "mome/io/safetensors.h"
#include "test_helpers.h"

namespace mome {
namespace {

using compress::Activation;
using compress::FitMobe;
using compress::MobeOptions;

// Experts that truly share structure: W_i = A_i · silu(Σ_j softmax(w_i)_j B_j) + small noise.
torch::Tensor SyntheticExperts(int64_t n, int64_t p, int64_t d, int64_t r, int64_t m, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto a = at::randn({n, p, r}, gen);
  auto b = at::randn({m, r, d}, gen);
  auto logits = at::randn({n, m}, gen) * 2.0;
  auto mixed = torch::einsum("nm,mrd->nrd", {torch::softmax(logits, 1), b});
  return torch::bmm(a, torch::silu(mixed)) + 0.01 * at::randn({n, p, d}, gen);
}

TEST(Compress, ParameterCountFormula) {
  // One matrix kind: n·p·r + m·r·d (+ n·m logits); a layer: n·d·p dense down + 2 of those.
  EXPECT_EQ(compress::MobeMatrixParams(128, 768, 2048, 64, 8, false), 128 * 768 * 64 + 8 * 64 * 2048);
  EXPECT_EQ(compress::MobeMatrixParams(128, 768, 2048, 64, 8, true), 128 * 768 * 64 + 8 * 64 * 2048 + 128 * 8);
  EXPECT_EQ(compress::MobeLayerParams(4, 3, 5, 2, 2, false), 4 * 5 * 3 + 2 * 4 * 3 * 2 + 2 * 2 * 2 * 5);
}

TEST(Compress, MobeBeatsBaselinesAtEqualBudgetOnSharedStructure) {
  const int64_t n = 8, p = 16, d = 24, r = 4, m = 2;
  auto w = SyntheticExperts(n, p, d, r, m, 7);
  MobeOptions o;
  o.rank = r;
  o.bases = m;
  o.activation = Activation::kSilu;
  o.steps = 1500;
  auto f = FitMobe(w, o);
  EXPECT_LE(f.best_mse, f.init_mse);
  const double mobe = compress::RelativeSquaredError(w, compress::ReconstructMobe(f));
  const int64_t budget = compress::MobeMatrixParams(n, p, d, r, m, true);
  auto svd = compress::TruncatedSvdBaseline(w, budget);
  auto molae = compress::MolaeBaseline(w, m, budget);
  EXPECT_LE(svd.params, budget);
  EXPECT_LE(molae.params, budget);
  const double e_svd = compress::RelativeSquaredError(w, svd.reconstruction);
  const double e_molae = compress::RelativeSquaredError(w, molae.reconstruction);
  std::fprintf(stderr, "rel. sq. error: MoBE %.4g, per-expert SVD %.4g (rank %lld), MoLAE %.4g (rank %lld)\n", mobe,
               e_svd, static_cast<long long>(svd.rank), e_molae, static_cast<long long>(molae.rank));
  EXPECT_LE(mobe, 0.5 * e_svd);
  EXPECT_LE(mobe, 0.5 * e_molae);
}

TEST(Compress, InitReproducesGroupedSvdForBothActivations) {
  // With zero steps the kept iterate is the init; with rank = min(p, d) the grouped SVD is exact, so the init
  // reconstruction must be too — this checks the f⁻¹ trick for a nonlinear f.
  auto w = SyntheticExperts(4, 6, 5, 2, 2, 3);
  for (auto act : {Activation::kSilu, Activation::kTanh}) {
    MobeOptions o;
    o.rank = 5;
    o.bases = 4;  // one expert per group
    o.activation = act;
    o.steps = 0;
    auto f = FitMobe(w, o);
    EXPECT_LT(compress::RelativeSquaredError(w, compress::ReconstructMobe(f)), 1e-6) << compress::ActivationName(act);
  }
}

TEST(Compress, DeterministicForAFixedSeedAndPerExpertPathMatches) {
  auto w = SyntheticExperts(6, 8, 10, 3, 3, 11);
  MobeOptions o;
  o.rank = 3;
  o.bases = 3;
  o.activation = Activation::kTanh;
  o.steps = 40;
  o.seed = 5;
  auto f1 = FitMobe(w, o), f2 = FitMobe(w, o);
  EXPECT_TRUE(torch::equal(f1.a, f2.a));
  EXPECT_TRUE(torch::equal(f1.b, f2.b));
  EXPECT_TRUE(torch::equal(f1.logits, f2.logits));
  auto all = compress::ReconstructMobe(f1);
  for (int64_t i = 0; i < 6; ++i) EXPECT_TRUE(torch::allclose(all[i], compress::ReconstructMobeExpert(f1, i), 1e-5, 1e-6));
}

std::string ErrorOf(const torch::Tensor& w, MobeOptions o) {
  try {
    FitMobe(w, o, "model.layers.0.mlp.experts.*.gate_proj.weight");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Compress, BadProblemsGiveClearErrors) {
  MobeOptions o;
  o.rank = 9;
  o.bases = 2;
  const auto rank_err = ErrorOf(torch::randn({4, 6, 8}), o);
  EXPECT_NE(rank_err.find("rank 9"), std::string::npos) << rank_err;
  EXPECT_NE(rank_err.find("gate_proj"), std::string::npos) << rank_err;
  o.rank = 2;
  o.bases = 5;
  EXPECT_NE(ErrorOf(torch::randn({4, 6, 8}), o).find("bases 5"), std::string::npos);
  o.bases = 2;
  EXPECT_NE(ErrorOf(torch::randn({6, 8}), o).find("[n, p, d]"), std::string::npos);
  EXPECT_THROW(compress::ParseActivation("relu"), Error);
}

// A tiny checkpoint with `n` experts in each of layers 1 and 3 under the given architecture's naming.
std::string WriteExperts(const std::string& file, const std::string& arch, int64_t n, bool bad_shape = false) {
  const auto naming = compress::NamingFor(arch);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (int64_t l : {1, 3})
    for (int64_t i = 0; i < n; ++i) {
      const int64_t p = (bad_shape && l == 3 && i == n - 1) ? 5 : 4;
      tensors.emplace_back(naming.GateName(l, i), torch::randn({p, 6}));
      tensors.emplace_back(naming.UpName(l, i), torch::randn({4, 6}));
      tensors.emplace_back(naming.DownName(l, i), torch::randn({6, 4}).to(torch::kBFloat16));
    }
  tensors.emplace_back("model.embed_tokens.weight", torch::randn({3, 6}));
  const std::string path = ::testing::TempDir() + "/" + file;
  io::SaveSafetensors(path, tensors);
  return path;
}

TEST(Compress, ReadsExpertLayersByArchitectureNaming) {
  for (const std::string arch : {"qwen3_moe", "mixtral", "deepseek_v3"}) {
    const auto path = WriteExperts("experts_" + arch + ".safetensors", arch, 3);
    const auto ckpt = io::CheckpointReader::Open(path);
    const auto naming = compress::NamingFor(arch);
    EXPECT_EQ(compress::ExpertLayers(ckpt, naming), (std::vector<int64_t>{1, 3})) << arch;
    const auto layer = compress::ReadExpertLayer(ckpt, naming, 3);
    EXPECT_EQ(layer.experts, 3);
    EXPECT_EQ(layer.gate.sizes(), (std::vector<int64_t>{3, 4, 6}));
    EXPECT_EQ(layer.down.scalar_type(), torch::kBFloat16);  // kept as stored, for a bit-identical dense copy
    EXPECT_TRUE(torch::equal(layer.down[2], ckpt.Get(naming.DownName(3, 2))));
  }
}

std::string ReadError(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Compress, BadCheckpointsGiveClearErrors) {
  const auto qwen = WriteExperts("experts_err.safetensors", "qwen3_moe", 3, /*bad_shape=*/true);
  const auto ckpt = io::CheckpointReader::Open(qwen);
  const auto none = ReadError([&] { compress::ExpertLayers(ckpt, compress::NamingFor("mixtral")); });
  EXPECT_NE(none.find("no experts found"), std::string::npos) << none;
  const auto shapes = ReadError([&] { compress::ReadExpertLayer(ckpt, compress::NamingFor("qwen3_moe"), 3); });
  EXPECT_NE(shapes.find("inconsistent expert shapes"), std::string::npos) << shapes;
  EXPECT_NE(shapes.find("model.layers.3.mlp.experts.2.gate_proj.weight"), std::string::npos) << shapes;
  EXPECT_NE(ReadError([] { compress::NamingFor("llama"); }).find("unknown --arch 'llama'"), std::string::npos);
  EXPECT_NE(ReadError([] { compress::NamingFor("mome"); }).find("not"), std::string::npos);
}

// Dense SwiGLU experts, the reference the compressed runtime must match.
torch::Tensor DenseMoe(const torch::Tensor& x, const torch::Tensor& gate, const torch::Tensor& up,
                       const torch::Tensor& down, const torch::Tensor& experts, const torch::Tensor& weights) {
  auto y = torch::zeros_like(x);
  for (int64_t t = 0; t < x.size(0); ++t)
    for (int64_t k = 0; k < experts.size(1); ++k) {
      const int64_t e = experts[t][k].item<int64_t>();
      auto h = torch::silu(torch::mv(gate[e], x[t])) * torch::mv(up[e], x[t]);
      y[t] += weights[t][k] * torch::mv(down[e].to(torch::kFloat32), h);
    }
  return y;
}

TEST(Compress, SavedFormatRoundTripsAndRuntimeMatchesDenseReconstruction) {
  const auto naming = compress::NamingFor("qwen3_moe");
  const int64_t n = 4, p = 6, d = 8;
  compress::CompressedLayer layer;
  layer.layer = 2;
  MobeOptions o;
  o.rank = 3;
  o.bases = 2;
  o.steps = 10;
  layer.gate = FitMobe(SyntheticExperts(n, p, d, 3, 2, 1), o);
  layer.up = FitMobe(SyntheticExperts(n, p, d, 3, 2, 2), o);
  layer.down = torch::randn({n, d, p}).to(torch::kBFloat16);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  compress::AppendLayerTensors(naming, layer, &tensors);
  const auto path = ::testing::TempDir() + "/compressed.safetensors";
  io::SaveSafetensors(path, tensors, {{"format", "mome.mobe.v1"}});
  const auto file = io::SafetensorsFile::Open(path);
  EXPECT_TRUE(file->Has("model.layers.2.mlp.experts.mobe.gate_proj.a"));
  auto back = compress::ReadCompressedLayer(*file, naming, 2, Activation::kSilu);
  EXPECT_TRUE(torch::equal(back.gate.a, layer.gate.a));
  EXPECT_EQ(back.up.sigma, layer.up.sigma);
  EXPECT_TRUE(torch::equal(back.down, layer.down));

  auto x = torch::randn({5, d});
  auto experts = torch::tensor({0, 1, 2, 3, 1, 0, 3, 3, 2, 0}, torch::kInt64).reshape({5, 2});
  auto weights = torch::softmax(torch::randn({5, 2}), 1);
  const auto want = DenseMoe(x, compress::ReconstructMobe(layer.gate), compress::ReconstructMobe(layer.up),
                             layer.down, experts, weights);
  const auto at_load = compress::CompressedMoe(back, true).Forward(x, experts, weights);
  const auto on_the_fly = compress::CompressedMoe(back, false).Forward(x, experts, weights);
  EXPECT_TRUE(torch::allclose(at_load, want, 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(on_the_fly, at_load, 1e-5, 1e-6));
}

TEST(Compress, CliCompressesResumesAndKeepsDownBitIdentical) {
  const auto input = WriteExperts("cli_experts.safetensors", "mixtral", 3);
  const std::string dir = ::testing::TempDir() + "/mome_compress_cli";
  testing::RemoveTree(dir);
  const std::string out = dir + "/out.safetensors", dense = dir + "/dense.safetensors", report = dir + "/r.json";
  ::mkdir(dir.c_str(), 0755);
  const std::string cmd = std::string(MOME_COMPRESS_BIN) + " --input " + input +
                          " --arch mixtral --rank 2 --bases 2 --steps 20 --out " + out + " --dense-out " + dense +
                          " --report " + report;
  const auto first = testing::RunCommand(cmd);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto again = testing::RunCommand(cmd);  // every layer is already in the sidecar folder
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("already done"), std::string::npos) << again.err;
  const auto json = testing::ReadJson(report);
  ASSERT_EQ(json["layers"].size(), 2u);
  EXPECT_LT(json["layers"][0]["layer_params"]["compression_ratio"].get<double>(), 1.0);
  const auto src = io::CheckpointReader::Open(input);
  const auto rec = io::SafetensorsFile::Open(dense);
  const auto naming = compress::NamingFor("mixtral");
  EXPECT_TRUE(torch::equal(rec->Get(naming.DownName(3, 1)), src.Get(naming.DownName(3, 1))));
  EXPECT_EQ(rec->Get(naming.GateName(1, 0)).sizes(), src.Get(naming.GateName(1, 0)).sizes());
  EXPECT_TRUE(io::SafetensorsFile::Open(out)->Has("model.layers.1.block_sparse_moe.experts.mobe.w1.a"));
}

TEST(Compress, CliBadInputsGiveOneLineErrors) {
  const auto input = WriteExperts("cli_bad.safetensors", "qwen3_moe", 3, /*bad_shape=*/true);
  const std::string base = std::string(MOME_COMPRESS_BIN) + " --input " + input + " --out " +
                           ::testing::TempDir() + "/never.safetensors --bases 2 ";
  struct Case {
    std::string args, message;
  };
  for (const auto& c : {Case{"--arch mixtral --rank 2", "no experts found"},
                        Case{"--arch qwen3_moe --rank 2 --layers 3", "inconsistent expert shapes"},
                        Case{"--arch qwen3_moe --rank 9 --layers 1", "rank 9"},
                        Case{"--arch gpt2 --rank 2", "unknown --arch"}}) {
    const auto r = testing::RunCommand(base + c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << ": " << r.err;
    EXPECT_EQ(testing::CountLines(r.err), 1) << r.err;
  }
}

}  // namespace
}  // namespace mome
