// Expert tensor naming per architecture and layer-by-layer reading of expert groups.
#include "mome/compress/expert_source.h"

#include <set>

#include "mome/core/error.h"

namespace mome::compress {

namespace {

// Parses the decimal number at s[pos...] up to the next '.', or returns -1.
int64_t NumberAt(const std::string& s, size_t pos, size_t* end) {
  size_t e = pos;
  while (e < s.size() && s[e] >= '0' && s[e] <= '9') ++e;
  if (e == pos || e >= s.size() || s[e] != '.') return -1;
  *end = e;
  return std::stoll(s.substr(pos, e - pos));
}

}  // namespace

std::string ExpertNaming::Prefix(int64_t layer) const {
  return "model.layers." + std::to_string(layer) + "." + layer_infix + ".experts.";
}
std::string ExpertNaming::GateName(int64_t l, int64_t i) const { return Prefix(l) + std::to_string(i) + gate_suffix; }
std::string ExpertNaming::UpName(int64_t l, int64_t i) const { return Prefix(l) + std::to_string(i) + up_suffix; }
std::string ExpertNaming::DownName(int64_t l, int64_t i) const { return Prefix(l) + std::to_string(i) + down_suffix; }

ExpertNaming NamingFor(const std::string& arch) {
  ExpertNaming n;
  n.arch = arch;
  if (arch == "qwen3_moe" || arch == "deepseek_v3") {
    n.layer_infix = "mlp";
    n.gate_suffix = ".gate_proj.weight";
    n.up_suffix = ".up_proj.weight";
    n.down_suffix = ".down_proj.weight";
    return n;
  }
  if (arch == "mixtral") {
    n.layer_infix = "block_sparse_moe";
    n.gate_suffix = ".w1.weight";
    n.up_suffix = ".w3.weight";
    n.down_suffix = ".w2.weight";
    return n;
  }
  if (arch == "mome")
    MOME_FAIL(ErrorCode::kUnsupported, "--arch mome: libmome's MoME adapter experts cannot be compressed yet");
  MOME_FAIL(ErrorCode::kInvalidArgument, "unknown --arch '", arch,
            "' (expected qwen3_moe, mixtral, deepseek_v3 or mome)");
}

std::vector<int64_t> ExpertLayers(const io::CheckpointReader& ckpt, const ExpertNaming& naming) {
  std::set<int64_t> layers;
  const std::string head = "model.layers.";
  const std::string mid = naming.layer_infix + ".experts.";
  for (const auto& name : ckpt.Names()) {
    if (name.compare(0, head.size(), head) != 0) continue;
    size_t end = 0;
    const int64_t l = NumberAt(name, head.size(), &end);
    if (l < 0 || name.compare(end + 1, mid.size(), mid) != 0) continue;
    const size_t tail = name.size() >= naming.gate_suffix.size() ? name.size() - naming.gate_suffix.size() : 0;
    if (name.compare(tail, std::string::npos, naming.gate_suffix) == 0) layers.insert(l);
  }
  MOME_CHECK(!layers.empty(), ErrorCode::kNotFound, ckpt.path(), ": no experts found for --arch ", naming.arch,
             " (looked for model.layers.*.", naming.layer_infix, ".experts.*", naming.gate_suffix, ")");
  return {layers.begin(), layers.end()};
}

int64_t ExpertCount(const io::CheckpointReader& ckpt, const ExpertNaming& naming, int64_t layer) {
  int64_t n = 0;
  while (ckpt.Has(naming.GateName(layer, n))) ++n;
  MOME_CHECK(n > 0, ErrorCode::kNotFound, ckpt.path(), ": no experts found in layer ", layer, " (looked for ",
             naming.GateName(layer, 0), ")");
  return n;
}

ExpertLayer ReadExpertLayer(const io::CheckpointReader& ckpt, const ExpertNaming& naming, int64_t layer) {
  ExpertLayer out;
  out.layer = layer;
  out.experts = ExpertCount(ckpt, naming, layer);
  auto stack = [&](auto name_of) {
    std::vector<torch::Tensor> parts;
    std::vector<int64_t> shape0;
    for (int64_t i = 0; i < out.experts; ++i) {
      const std::string name = name_of(i);
      MOME_CHECK(ckpt.Has(name), ErrorCode::kNotFound, ckpt.path(), ": missing tensor ", name);
      auto t = ckpt.Get(name);
      MOME_CHECK(t.dim() == 2, ErrorCode::kShapeMismatch, ckpt.path(), ": ", name, " has shape ", t.sizes(),
                 ", expected a matrix");
      if (i == 0) shape0 = t.sizes().vec();
      MOME_CHECK(t.sizes().vec() == shape0, ErrorCode::kShapeMismatch, ckpt.path(), ": inconsistent expert shapes: ",
                 name, " has shape ", t.sizes(), " but expert 0 has ", c10::IntArrayRef(shape0));
      parts.push_back(t.to(torch::kFloat32));
    }
    return torch::stack(parts);
  };
  out.gate = stack([&](int64_t i) { return naming.GateName(layer, i); });
  out.up = stack([&](int64_t i) { return naming.UpName(layer, i); });
  // down stays dense and must come back bit-identical, so it keeps its stored dtype.
  std::vector<torch::Tensor> downs;
  for (int64_t i = 0; i < out.experts; ++i) {
    const std::string name = naming.DownName(layer, i);
    MOME_CHECK(ckpt.Has(name), ErrorCode::kNotFound, ckpt.path(), ": missing tensor ", name);
    downs.push_back(ckpt.Get(name).clone());
  }
  out.down = torch::stack(downs);
  return out;
}

}  // namespace mome::compress
