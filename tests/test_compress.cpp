// MoBE (SPEC.md §6): parameter counts, quality against equal-budget baselines on structured experts, determinism,
// the per-expert reconstruction path and input validation. Sizes are tiny so the whole suite stays fast.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <chrono>
#include <filesystem>
#include <random>

#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "mome/adapters/adapter_set.h"
#include "mome/compress/compressed_format.h"
#include "mome/compress/expert_source.h"
#include "mome/compress/mobe.h"
#include "mome/compress/safetensors_stream.h"
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
  for (int64_t i = 0; i < 6; ++i)
    EXPECT_TRUE(torch::allclose(all[i], compress::ReconstructMobeExpert(f1, i), 1e-5, 1e-6));
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
    ASSERT_EQ(layer.factorised.size(), 2u);  // gate, up
    EXPECT_EQ(layer.factorised[0].sizes(), (std::vector<int64_t>{3, 4, 6}));
    EXPECT_TRUE(torch::equal(layer.factorised[1][2], ckpt.Get(naming.UpName(3, 2))));
    ASSERT_EQ(layer.dense.size(), 3u);
    EXPECT_EQ(layer.dense[2].first, naming.DownName(3, 2));
    EXPECT_EQ(layer.dense[2].second.scalar_type(), torch::kBFloat16);  // kept as stored, for a bit-identical copy
    EXPECT_TRUE(torch::equal(layer.dense[2].second, ckpt.Get(naming.DownName(3, 2))));
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
  const auto mome = ReadError([&] { compress::NamingFor("mome", ckpt); });
  EXPECT_NE(mome.find("no experts found for --arch mome"), std::string::npos) << mome;
  // A gap in the expert numbers (expert 1 missing, 2 present) would silently drop expert 2.
  const auto naming = compress::NamingFor("mixtral");
  std::vector<std::pair<std::string, at::Tensor>> gap;
  for (int64_t e : {0, 2})
    for (const auto& name : {naming.GateName(1, e), naming.UpName(1, e), naming.DownName(1, e)})
      gap.emplace_back(name, torch::ones({4, 4}));
  const std::string path = ::testing::TempDir() + "/experts_gap.safetensors";
  io::SaveSafetensors(path, gap);
  const auto missing = ReadError([&] { compress::ReadExpertLayer(io::CheckpointReader::Open(path), naming, 1); });
  EXPECT_NE(missing.find("has expert 2 but no expert 1"), std::string::npos) << missing;
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
  layer.factors.push_back(FitMobe(SyntheticExperts(n, p, d, 3, 2, 1), o));
  layer.factors.push_back(FitMobe(SyntheticExperts(n, p, d, 3, 2, 2), o));
  const auto down = torch::randn({n, d, p}).to(torch::kBFloat16);
  for (int64_t i = 0; i < n; ++i) layer.dense.emplace_back(naming.DownName(2, i), down[i]);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  compress::AppendLayerTensors(naming, layer, &tensors);
  const auto path = ::testing::TempDir() + "/compressed.safetensors";
  io::SaveSafetensors(path, tensors, {{"format", "mome.mobe.v1"}});
  const auto file = io::SafetensorsFile::Open(path);
  EXPECT_TRUE(file->Has("model.layers.2.mlp.experts.mobe.gate_proj.a"));
  auto back = compress::ReadCompressedLayer(*file, naming, 2, Activation::kSilu);
  ASSERT_EQ(back.factors.size(), 2u);
  EXPECT_TRUE(torch::equal(back.factors[0].a, layer.factors[0].a));
  EXPECT_EQ(back.factors[1].sigma, layer.factors[1].sigma);
  ASSERT_EQ(back.dense.size(), static_cast<size_t>(n));
  EXPECT_TRUE(torch::equal(back.dense[3].second, down[3]));

  auto x = torch::randn({5, d});
  auto experts = torch::tensor({0, 1, 2, 3, 1, 0, 3, 3, 2, 0}, torch::kInt64).reshape({5, 2});
  auto weights = torch::softmax(torch::randn({5, 2}), 1);
  const auto want = DenseMoe(x, compress::ReconstructMobe(layer.factors[0]),
                             compress::ReconstructMobe(layer.factors[1]), down, experts, weights);
  using compress::MoeRuntime;
  for (auto runtime : {MoeRuntime::kReconstructAtLoad, MoeRuntime::kReconstructPerExpert, MoeRuntime::kFactored}) {
    const auto got = compress::CompressedMoe(back, runtime).Forward(x, experts, weights);
    EXPECT_TRUE(torch::allclose(got, want, 1e-4, 1e-5)) << compress::MoeRuntimeName(runtime);
  }
}

TEST(Compress, CompressedMoeRefusesNonSwiGluLayers) {
  compress::CompressedLayer mome_like;  // one factorised kind (MoME's down_weight) and one stacked dense tensor
  MobeOptions o;
  o.rank = 2;
  o.bases = 2;
  o.steps = 0;
  mome_like.factors.push_back(FitMobe(torch::randn({4, 3, 6}), o));
  mome_like.dense.emplace_back("adapters.layer0_mome.up_weight", torch::randn({6, 4, 3}));
  const auto err = ReadError([&] { compress::CompressedMoe(mome_like, compress::MoeRuntime::kFactored); });
  EXPECT_NE(err.find("SwiGLU"), std::string::npos) << err;
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

TEST(Compress, CliKilledAtRandomMomentsThenRerunEqualsAnUninterruptedRun) {
  const auto input = WriteExperts("kill_experts.safetensors", "mixtral", 4);
  const std::string dir = ::testing::TempDir() + "/mome_compress_kill";
  testing::RemoveTree(dir);
  ::mkdir(dir.c_str(), 0755);
  auto argv = [&](const std::string& name) {
    return std::vector<std::string>{MOME_COMPRESS_BIN,
                                    "--input",
                                    input,
                                    "--arch",
                                    "mixtral",
                                    "--rank",
                                    "2",
                                    "--bases",
                                    "2",
                                    "--steps",
                                    "300",
                                    "--out",
                                    dir + "/" + name + ".safetensors",
                                    "--dense-out",
                                    dir + "/" + name + ".dense.safetensors"};
  };
  auto run = [](const std::vector<std::string>& a) {
    std::string c;
    for (const auto& part : a) c += part + " ";
    return testing::RunCommand(c);
  };
  const auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(run(argv("full")).exit_code, 0);
  const double run_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> moment(0.1, 0.95);
  for (int kill = 1; kill <= 6; ++kill) {
    testing::KillAfter(testing::SpawnQuiet(argv("killed")), static_cast<int64_t>(moment(rng) * run_ms));
    // A visible output or part is whole: it opens and every tensor reads.
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
      const std::string path = e.path().string();
      if (path.find("killed") == std::string::npos || e.path().extension() != ".safetensors") continue;
      try {
        const auto f = io::SafetensorsFile::Open(path);
        for (const auto& name : f->Names()) (void)f->Get(name).sum();
      } catch (const std::exception& ex) {
        ADD_FAILURE() << "after kill " << kill << ": " << path << ": " << ex.what();
      }
    }
  }
  const auto rerun = run(argv("killed"));
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_EQ(testing::ReadFile(dir + "/killed.safetensors"), testing::ReadFile(dir + "/full.safetensors"));
  // (The dense file's metadata names its source, which differs; its tensors must not.)
  const auto a = io::SafetensorsFile::Open(dir + "/full.dense.safetensors");
  const auto b = io::SafetensorsFile::Open(dir + "/killed.dense.safetensors");
  ASSERT_EQ(a->Names(), b->Names());
  for (const auto& name : a->Names()) EXPECT_TRUE(torch::equal(a->Get(name), b->Get(name))) << name;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << "left behind: " << e.path();
}

TEST(Compress, CliBadInputsGiveOneLineErrors) {
  const auto input = WriteExperts("cli_bad.safetensors", "qwen3_moe", 3, /*bad_shape=*/true);
  const std::string base = std::string(MOME_COMPRESS_BIN) + " --input " + input + " --out " + ::testing::TempDir() +
                           "/never.safetensors --bases 2 ";
  struct Case {
    std::string args, message;
  };
  for (const auto& c :
       {Case{"--arch mixtral --rank 2", "no experts found"},
        Case{"--arch qwen3_moe --rank 2 --layers 3", "inconsistent expert shapes"},
        Case{"--arch qwen3_moe --rank 9 --layers 1", "rank 9"}, Case{"--arch gpt2 --rank 2", "unknown --arch"}}) {
    const auto r = testing::RunCommand(base + c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << ": " << r.err;
    EXPECT_EQ(testing::CountLines(r.err), 1) << r.err;
  }
  // An output that is the input is refused before anything is written; the input stays as it was.
  const std::string before = testing::ReadFile(input);
  for (const char* flag : {"--out ", "--dense-out ", "--report "}) {
    const std::string out = std::string(flag) == "--out " ? "" : "--out " + ::testing::TempDir() + "/x.safetensors ";
    const auto r = testing::RunCommand(std::string(MOME_COMPRESS_BIN) + " --input " + input +
                                       " --arch qwen3_moe --rank 2 --bases 2 --layers 1 " + out + flag + input);
    EXPECT_EQ(r.exit_code, 1) << flag;
    EXPECT_NE(r.err.find("one of the input files"), std::string::npos) << flag << r.err;
    EXPECT_EQ(testing::ReadFile(input), before) << flag;
  }
}

TEST(Compress, TruncatedSvdFromGramMatrixAgreesWithDirectSvd) {
  using compress::SvdMethod;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(21);
  // A spectrum with a clear gap at every k (σ_i = 0.8^i), so the top-k subspace is well defined.
  const auto q1 = std::get<0>(torch::linalg_qr(at::randn({600, 40}, gen)));
  const auto q2 = std::get<0>(torch::linalg_qr(at::randn({40, 40}, gen)));
  const auto tall = torch::mm(q1 * torch::pow(0.8, torch::arange(40, torch::kFloat32)).unsqueeze(0), q2.t());
  for (const auto& x : {tall, tall.t().contiguous()}) {  // XᵀX route and XXᵀ route
    const int64_t k = 10;
    auto [ug, vg] = compress::TruncatedSvd(x, k, SvdMethod::kGram);
    auto [ud, vd] = compress::TruncatedSvd(x, k, SvdMethod::kDirect);
    EXPECT_EQ(ug.scalar_type(), torch::kFloat32);
    EXPECT_EQ(ug.sizes(), (std::vector<int64_t>{x.size(0), k}));
    EXPECT_EQ(vg.sizes(), (std::vector<int64_t>{k, x.size(1)}));
    EXPECT_TRUE(torch::allclose(torch::mm(vg, vg.t()), torch::eye(k), 0, 1e-5)) << "rows of V_kᵀ orthonormal";
    const double subspace = (torch::mm(vg.t(), vg) - torch::mm(vd.t(), vd)).abs().max().item<double>();
    EXPECT_LT(subspace, 1e-4) << x.sizes();
    EXPECT_LT(compress::RelativeSquaredError(torch::mm(ud, vd), torch::mm(ug, vg)), 1e-9) << x.sizes();
    // The singular values (column norms of U_k Σ_k) agree too.
    EXPECT_TRUE(torch::allclose(ug.norm(2, 0), ud.norm(2, 0), 1e-4, 1e-6));
    // An elongated matrix takes the Gram route by default.
    EXPECT_TRUE(torch::equal(compress::TruncatedSvd(x, k).second, vg));
  }
  // A plain Gaussian matrix (clustered spectrum): the rank-k error is optimal either way.
  const auto g = at::randn({300, 50}, gen);
  auto [ug, vg] = compress::TruncatedSvd(g, 8, SvdMethod::kGram);
  auto [ud, vd] = compress::TruncatedSvd(g, 8, SvdMethod::kDirect);
  const double e_gram = compress::RelativeSquaredError(g, torch::mm(ug, vg));
  const double e_direct = compress::RelativeSquaredError(g, torch::mm(ud, vd));
  EXPECT_NEAR(e_gram, e_direct, 1e-5 * e_direct);
  EXPECT_NE(ReadError([&] { compress::TruncatedSvd(g, 51); }).find("rank 51"), std::string::npos);
}

// A MoME adapter set as libmome trains it: AdapterSet with MoME on layers 0 and 2 of a 3-layer, d = 16 LLM.
adapters::AdapterSet MakeMomeAdapters() {
  llm::LlamaConfig llm;
  llm.hidden_size = 16;
  llm.num_hidden_layers = 3;
  llm.num_attention_heads = 2;
  llm.num_key_value_heads = 2;
  llm.head_dim = 8;
  adapters::AdapterOptions options;
  options.kind = adapters::AdapterKind::kMoME;
  options.layers = {0, 2};
  options.mome.num_experts = 6;
  options.mome.num_shared = 1;
  options.mome.bottleneck = 4;
  options.mome.top_k = {2};
  return adapters::AdapterSet(options, llm, torch::TensorOptions());
}

// Its parameters with random values (so that nothing, e.g. the zero-initialised up_weight, is trivially equal),
// saved under `prefix` + the module's own names.
std::string WriteMomeAdapters(const std::string& file, const std::string& prefix, uint64_t seed) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (const auto& p : MakeMomeAdapters()->named_parameters())
    tensors.emplace_back(prefix + p.key(), at::randn(p.value().sizes(), gen));
  const std::string path = ::testing::TempDir() + "/" + file;
  io::SaveSafetensors(path, tensors, {{"format", "pt"}});
  return path;
}

TEST(Compress, ReadsMomeAdapterExpertsStacked) {
  const auto path = WriteMomeAdapters("mome_read.safetensors", "avsr.adapters.", 1);
  const auto ckpt = io::CheckpointReader::Open(path);
  const auto naming = compress::NamingFor("mome", ckpt);
  EXPECT_EQ(naming.prefix, "avsr.adapters.");  // a trainer checkpoint's names
  EXPECT_EQ(compress::ExpertLayers(ckpt, naming), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(compress::ExpertCount(ckpt, naming, 2), 7);  // 6 routed + 1 shared
  const auto layer = compress::ReadExpertLayer(ckpt, naming, 2);
  ASSERT_EQ(layer.factorised.size(), 1u);  // the input projection only
  EXPECT_TRUE(torch::equal(layer.factorised[0], ckpt.Get("avsr.adapters.layer2_mome.down_weight")));
  ASSERT_EQ(layer.dense.size(), 1u);
  EXPECT_EQ(layer.dense[0].first, "avsr.adapters.layer2_mome.up_weight");
  EXPECT_EQ(layer.dense[0].second.sizes(), (std::vector<int64_t>{16, 7, 4}));
  EXPECT_EQ(compress::FactorStem(naming, 2, naming.factorised[0]), "avsr.adapters.layer2_mome.mobe.down_weight");

  // A stacked up_weight whose layout disagrees with down_weight, and two adapter sets in one file, are refused.
  std::vector<std::pair<std::string, at::Tensor>> bad = {{"adapters.layer0_mome.down_weight", torch::randn({7, 4, 16})},
                                                         {"adapters.layer0_mome.up_weight", torch::randn({16, 4, 7})}};
  const auto bad_path = ::testing::TempDir() + "/mome_bad.safetensors";
  io::SaveSafetensors(bad_path, bad);
  const auto bad_ckpt = io::CheckpointReader::Open(bad_path);
  const auto shape = ReadError([&] { compress::ReadExpertLayer(bad_ckpt, compress::NamingFor("mome", bad_ckpt), 0); });
  EXPECT_NE(shape.find("adapters.layer0_mome.up_weight has shape [16, 4, 7]"), std::string::npos) << shape;
  bad.emplace_back("other.layer1_mome.down_weight", torch::randn({7, 4, 16}));
  io::SaveSafetensors(bad_path, bad);
  const auto two = ReadError([&] { compress::NamingFor("mome", io::CheckpointReader::Open(bad_path)); });
  EXPECT_NE(two.find("several prefixes"), std::string::npos) << two;
}

TEST(Compress, CliCompressesMomeAdaptersAndDenseOutIsTheInputWithDownWeightReplaced) {
  const auto input = WriteMomeAdapters("cli_mome.safetensors", "adapters.", 2);
  const std::string dir = ::testing::TempDir() + "/mome_compress_mome";
  testing::RemoveTree(dir);
  ::mkdir(dir.c_str(), 0755);
  const std::string out = dir + "/out.safetensors", dense = dir + "/dense.safetensors", report = dir + "/r.json";
  const auto r = testing::RunCommand(std::string(MOME_COMPRESS_BIN) + " --input " + input +
                                     " --arch mome --rank 3 --bases 2 --steps 30 --out " + out + " --dense-out " +
                                     dense + " --report " + report);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto src = io::SafetensorsFile::Open(input);
  const auto rec = io::SafetensorsFile::Open(dense);
  // Same names, shapes and dtypes as the input: a drop-in adapter file.
  EXPECT_EQ(rec->Names(), src->Names());
  EXPECT_EQ(rec->Metadata().at("format"), "pt");
  for (const auto& name : src->Names()) {
    EXPECT_EQ(rec->Info(name).shape, src->Info(name).shape) << name;
    EXPECT_EQ(rec->Info(name).dtype, src->Info(name).dtype) << name;
    const bool factorised = name.find("_mome.down_weight") != std::string::npos;
    // up_weight (the dense output projection), biases and routers come back bit-identical; down_weight does not.
    EXPECT_EQ(torch::equal(rec->Get(name), src->Get(name)), !factorised) << name;
  }
  // The reconstructed down_weight is the compressed file's factors, stacked [E, b, d].
  const auto naming = compress::NamingFor("mome");
  const auto file = io::SafetensorsFile::Open(out);
  EXPECT_EQ(file->Metadata().at("arch"), "mome");
  EXPECT_TRUE(torch::equal(file->Get("adapters.layer2_mome.up_weight"), src->Get("adapters.layer2_mome.up_weight")));
  const auto c = compress::ReadCompressedLayer(*file, naming, 2, Activation::kSilu);
  EXPECT_TRUE(torch::allclose(rec->Get("adapters.layer2_mome.down_weight"), compress::ReconstructMobe(c.factors[0])));
  // The file loads back into the library's own adapter classes.
  auto set = MakeMomeAdapters();
  torch::NoGradGuard no_grad;
  for (auto& p : set->named_parameters()) {
    ASSERT_TRUE(rec->Has("adapters." + p.key())) << p.key();
    p.value().copy_(rec->Get("adapters." + p.key()));
  }
  const auto json = testing::ReadJson(report);
  ASSERT_EQ(json["layers"].size(), 2u);
  EXPECT_LT(json["layers"][1]["down"]["mobe"]["rel_sq_error"].get<double>(), 1.0);
  // 7·4·16 dense up + (7·4·3 + 2·3·16 + 7·2) factorised down, against 2·7·4·16.
  EXPECT_EQ(json["layers"][1]["layer_params"]["mobe"].get<int64_t>(), 7 * 4 * 16 + 7 * 4 * 3 + 2 * 3 * 16 + 7 * 2);
  EXPECT_EQ(json["layers"][1]["layer_params"]["dense"].get<int64_t>(), 2 * 7 * 4 * 16);

  // At rank 2 MoBE's budget (7·4·2 + 2·2·16 + 14 = 134) is below one rank of per-expert SVD (7·(4 + 16) = 140): that
  // baseline is reported as skipped, the layer is still compressed.
  const auto small = testing::RunCommand(std::string(MOME_COMPRESS_BIN) + " --input " + input +
                                         " --arch mome --rank 2 --bases 2 --steps 5 --layers 2 --out " + dir +
                                         "/small.safetensors --report " + report);
  ASSERT_EQ(small.exit_code, 0) << small.err;
  const auto small_json = testing::ReadJson(report)["layers"][0]["down"];
  EXPECT_NE(small_json["svd"]["skipped"].get<std::string>().find("below one rank"), std::string::npos);
  EXPECT_TRUE(small_json["svd"]["rel_sq_error"].is_null());
  EXPECT_TRUE(small_json["molae"]["rel_sq_error"].is_number());
}

TEST(Compress, CliRecomputesPartsMadeWithOtherSettingsOrInputsAndSaysWhy) {
  const std::string dir = ::testing::TempDir() + "/mome_compress_stale";
  testing::RemoveTree(dir);
  ::mkdir(dir.c_str(), 0755);
  const auto input = WriteExperts("stale_experts.safetensors", "qwen3_moe", 3);
  const std::string out = dir + "/out.safetensors", part = out + ".parts/layer_1.safetensors";
  auto run = [&](const std::string& args) {
    return testing::RunCommand(std::string(MOME_COMPRESS_BIN) + " --input " + input +
                               " --arch qwen3_moe --bases 2 --layers 1 --out " + out + " " + args);
  };
  auto line_with = [](const std::string& text, const std::string& what) {
    const auto at = text.find(what);
    if (at == std::string::npos) return std::string();
    const auto begin = text.rfind('\n', at), end = text.find('\n', at);
    return text.substr(begin == std::string::npos ? 0 : begin + 1, end - (begin == std::string::npos ? 0 : begin + 1));
  };
  ASSERT_EQ(run("--rank 2 --steps 5").exit_code, 0);
  EXPECT_EQ(io::SafetensorsFile::Open(part)->Metadata().at("rank"), "2");
  const auto other_rank = run("--rank 3 --steps 5");
  ASSERT_EQ(other_rank.exit_code, 0) << other_rank.err;
  const auto message = line_with(other_rank.err, "recomputing");
  EXPECT_NE(message.find("rank 2 -> 3"), std::string::npos) << other_rank.err;
  EXPECT_NE(message.find("layer 1"), std::string::npos) << message;
  EXPECT_EQ(io::SafetensorsFile::Open(part)->Metadata().at("rank"), "3");
  EXPECT_EQ(io::SafetensorsFile::Open(out)->Metadata().at("rank"), "3");
  EXPECT_EQ(io::SafetensorsFile::Open(out)->Get("model.layers.1.mlp.experts.mobe.gate_proj.a").size(2), 3);
  // The same settings, lr spelled differently: reused.
  const auto same = run("--rank 3 --steps 5 --lr 0.070");
  EXPECT_NE(same.err.find("already done"), std::string::npos) << same.err;
  EXPECT_EQ(same.err.find("recomputing"), std::string::npos) << same.err;
  // Other settings each say what changed.
  for (const auto& [args, change] : std::vector<std::pair<std::string, std::string>>{
           {"--rank 3 --steps 6", "steps 5 -> 6"},
           {"--rank 3 --steps 6 --seed 4", "seed 0 -> 4"},
           {"--rank 3 --steps 6 --seed 4 --activation tanh", "activation silu -> tanh"}}) {
    const auto r = run(args);
    EXPECT_NE(line_with(r.err, "recomputing").find(change), std::string::npos) << args << ": " << r.err;
  }
  // New weights of the same shapes under the same path: the input fingerprint differs.
  WriteExperts("stale_experts.safetensors", "qwen3_moe", 3);
  const auto new_input = run("--rank 3 --steps 6 --seed 4 --activation tanh");
  EXPECT_NE(line_with(new_input.err, "recomputing").find("input_fingerprint"), std::string::npos) << new_input.err;
}

TEST(Compress, StreamWriterWritesWhatSaveSafetensorsWritesAndOnlyOnCommit) {
  const std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"b", torch::randn({3, 5})}, {"a", torch::arange(7)}, {"c", torch::randn({2, 2}).to(torch::kBFloat16)}};
  const std::map<std::string, std::string> meta = {{"format", "mome.mobe.v1"}};
  const std::string dir = ::testing::TempDir() + "/mome_stream";
  testing::RemoveTree(dir);
  ::mkdir(dir.c_str(), 0755);
  io::SaveSafetensors(dir + "/whole.safetensors", tensors, meta);
  std::vector<compress::PlannedTensor> plan;
  for (const auto& [name, t] : tensors) plan.push_back({name, t.scalar_type(), t.sizes().vec()});
  {
    compress::SafetensorsStreamWriter writer(dir + "/streamed.safetensors", plan, meta);
    for (const auto& [name, t] : tensors) {
      EXPECT_EQ(writer.next_name(), name);
      writer.Write(name, t);
    }
    struct stat st;
    EXPECT_NE(::stat((dir + "/streamed.safetensors").c_str(), &st), 0) << "visible before Commit";
    writer.Commit();
  }
  auto bytes = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(bytes(dir + "/streamed.safetensors"), bytes(dir + "/whole.safetensors"));
  {
    compress::SafetensorsStreamWriter writer(dir + "/abandoned.safetensors", plan, meta);
    EXPECT_THROW(writer.Write("a", tensors[1].second), Error);     // out of order
    EXPECT_THROW(writer.Write("b", torch::randn({5, 3})), Error);  // wrong shape
    EXPECT_THROW(writer.Commit(), Error);                          // incomplete
  }
  // Nothing is left behind by an abandoned writer: not the target, not its temp file.
  EXPECT_EQ(testing::RunCommand("ls " + dir).out, "streamed.safetensors\nwhole.safetensors\n");
}

}  // namespace
}  // namespace mome
