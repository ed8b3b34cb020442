// Expert tensor naming per architecture and layer-by-layer reading of expert groups.
#include "mome/compress/expert_source.h"

#include <algorithm>
#include <cstring>
#include <iomanip>
#include <set>
#include <sstream>

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

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// If `name` is <prefix>layer{l}_mome.<suffix>, with <prefix> empty or ending in '.', sets both and returns true.
bool ParseMomeName(const std::string& name, const std::string& suffix, std::string* prefix, int64_t* layer) {
  const std::string tail = "_mome." + suffix;
  if (!EndsWith(name, tail)) return false;
  size_t digits_end = name.size() - tail.size(), digits_begin = digits_end;
  while (digits_begin > 0 && name[digits_begin - 1] >= '0' && name[digits_begin - 1] <= '9') --digits_begin;
  const std::string head = "layer";
  if (digits_begin == digits_end || digits_begin < head.size() ||
      name.compare(digits_begin - head.size(), head.size(), head) != 0)
    return false;
  const size_t prefix_end = digits_begin - head.size();
  if (prefix_end > 0 && name[prefix_end - 1] != '.') return false;
  *prefix = name.substr(0, prefix_end);
  *layer = std::stoll(name.substr(digits_begin, digits_end - digits_begin));
  return true;
}

const std::string& RequireTensor(const io::CheckpointReader& ckpt, const std::string& name) {
  MOME_CHECK(ckpt.Has(name), ErrorCode::kNotFound, ckpt.path(), ": missing tensor ", name);
  return name;
}

// The stacked MoME tensors of a layer, checked against each other: down_weight [E, b, d], up_weight [d, E, b].
std::pair<std::vector<int64_t>, std::vector<int64_t>> MomeShapes(const io::CheckpointReader& ckpt,
                                                                 const ExpertNaming& naming, int64_t layer) {
  const std::string down = RequireTensor(ckpt, naming.KindNames(layer, 0, naming.factorised[0])[0]);
  const std::string up = RequireTensor(ckpt, naming.KindNames(layer, 0, naming.dense)[0]);
  const auto& ds = ckpt.Info(down).shape;
  const auto& us = ckpt.Info(up).shape;
  MOME_CHECK(ds.size() == 3 && ds[0] >= 1, ErrorCode::kShapeMismatch, ckpt.path(), ": ", down, " has shape ",
             c10::IntArrayRef(ds), ", expected stacked experts [E, b, d]");
  MOME_CHECK(us == (std::vector<int64_t>{ds[2], ds[0], ds[1]}), ErrorCode::kShapeMismatch, ckpt.path(), ": ", up,
             " has shape ", c10::IntArrayRef(us), " but ", down, " is ", c10::IntArrayRef(ds),
             " (expected [d, E, b] = [", ds[2], ", ", ds[0], ", ", ds[1], "])");
  return {ds, us};
}

}  // namespace

std::string ExpertNaming::Prefix(int64_t layer) const {
  if (stacked) return prefix + "layer" + std::to_string(layer) + "_mome.";
  return "model.layers." + std::to_string(layer) + "." + layer_infix + ".experts.";
}

std::string ExpertNaming::ExpertName(int64_t layer, int64_t expert, const ExpertKind& kind) const {
  MOME_CHECK(!stacked, ErrorCode::kInternal, "--arch ", arch, " stores experts stacked; there is no per-expert name");
  return Prefix(layer) + std::to_string(expert) + kind.suffix;
}

std::vector<std::string> ExpertNaming::KindNames(int64_t layer, int64_t experts, const ExpertKind& kind) const {
  if (stacked) return {Prefix(layer) + kind.suffix};
  std::vector<std::string> names;
  for (int64_t i = 0; i < experts; ++i) names.push_back(ExpertName(layer, i, kind));
  return names;
}

ExpertNaming NamingFor(const std::string& arch) {
  ExpertNaming n;
  n.arch = arch;
  if (arch == "qwen3_moe" || arch == "deepseek_v3") {
    n.layer_infix = "mlp";
    n.factorised = {{"gate", ".gate_proj.weight"}, {"up", ".up_proj.weight"}};
    n.dense = {"down", ".down_proj.weight"};
    return n;
  }
  if (arch == "mixtral") {
    n.layer_infix = "block_sparse_moe";
    n.factorised = {{"gate", ".w1.weight"}, {"up", ".w3.weight"}};
    n.dense = {"down", ".w2.weight"};
    return n;
  }
  if (arch == "mome") {
    // MoME experts have no gate: down_weight (Linear(d, b), reading the hidden state) plays gate/up's part and
    // up_weight (Linear(b, d), writing it) plays down's.
    n.stacked = true;
    n.prefix = "adapters.";
    n.factorised = {{"down", "down_weight"}};
    n.dense = {"up", "up_weight"};
    return n;
  }
  MOME_FAIL(ErrorCode::kInvalidArgument, "unknown --arch '", arch,
            "' (expected qwen3_moe, mixtral, deepseek_v3 or mome)");
}

ExpertNaming NamingFor(const std::string& arch, const io::CheckpointReader& ckpt) {
  ExpertNaming n = NamingFor(arch);
  if (!n.stacked) return n;
  std::set<std::string> prefixes;
  for (const auto& name : ckpt.Names()) {
    std::string prefix;
    int64_t layer = 0;
    if (ParseMomeName(name, n.factorised[0].suffix, &prefix, &layer)) prefixes.insert(prefix);
  }
  MOME_CHECK(!prefixes.empty(), ErrorCode::kNotFound, ckpt.path(),
             ": no experts found for --arch mome (looked for *layer{l}_mome.down_weight)");
  if (prefixes.size() > 1) {
    std::string list;
    for (const auto& p : prefixes) list += (list.empty() ? "'" : ", '") + p + "'";
    MOME_FAIL(ErrorCode::kInvalidArgument, ckpt.path(), ": MoME adapters under several prefixes (", list,
              "); compress one adapter set per file");
  }
  n.prefix = *prefixes.begin();
  return n;
}

std::vector<int64_t> ExpertLayers(const io::CheckpointReader& ckpt, const ExpertNaming& naming) {
  std::set<int64_t> layers;
  if (naming.stacked) {
    for (const auto& name : ckpt.Names()) {
      std::string prefix;
      int64_t layer = 0;
      if (ParseMomeName(name, naming.factorised[0].suffix, &prefix, &layer) && prefix == naming.prefix)
        layers.insert(layer);
    }
    MOME_CHECK(!layers.empty(), ErrorCode::kNotFound, ckpt.path(), ": no experts found for --arch ", naming.arch,
               " (looked for ", naming.prefix, "layer*_mome.", naming.factorised[0].suffix, ")");
    return {layers.begin(), layers.end()};
  }
  const std::string head = "model.layers.";
  const std::string mid = naming.layer_infix + ".experts.";
  const std::string& gate_suffix = naming.factorised[0].suffix;
  for (const auto& name : ckpt.Names()) {
    if (name.compare(0, head.size(), head) != 0) continue;
    size_t end = 0;
    const int64_t l = NumberAt(name, head.size(), &end);
    if (l < 0 || name.compare(end + 1, mid.size(), mid) != 0) continue;
    if (EndsWith(name, gate_suffix)) layers.insert(l);
  }
  MOME_CHECK(!layers.empty(), ErrorCode::kNotFound, ckpt.path(), ": no experts found for --arch ", naming.arch,
             " (looked for model.layers.*.", naming.layer_infix, ".experts.*", gate_suffix, ")");
  return {layers.begin(), layers.end()};
}

namespace {

// The highest K for which the checkpoint holds the gate tensor of expert K of `layer` (-1 when none): the names of
// experts 0 and 1 give the text around the index.
int64_t HighestExpertIndex(const io::CheckpointReader& ckpt, const ExpertNaming& naming, int64_t layer) {
  const std::string a = naming.GateName(layer, 0), b = naming.GateName(layer, 1);
  size_t prefix = 0;
  while (prefix < a.size() && a[prefix] == b[prefix]) ++prefix;
  const std::string head = a.substr(0, prefix), tail = a.substr(prefix + 1);
  int64_t highest = -1;
  for (const auto& name : ckpt.Names()) {
    if (name.size() <= head.size() + tail.size() || name.compare(0, head.size(), head) != 0 ||
        name.compare(name.size() - tail.size(), tail.size(), tail) != 0)
      continue;
    const std::string index = name.substr(head.size(), name.size() - head.size() - tail.size());
    if (index.size() < 10 && index.find_first_not_of("0123456789") == std::string::npos)
      highest = std::max<int64_t>(highest, std::stoll(index));
  }
  return highest;
}

}  // namespace

int64_t ExpertCount(const io::CheckpointReader& ckpt, const ExpertNaming& naming, int64_t layer) {
  if (naming.stacked) return MomeShapes(ckpt, naming, layer).first[0];
  int64_t n = 0;
  while (ckpt.Has(naming.GateName(layer, n))) ++n;
  MOME_CHECK(n > 0, ErrorCode::kNotFound, ckpt.path(), ": no experts found in layer ", layer, " (looked for ",
             naming.GateName(layer, 0), ")");
  const int64_t beyond = HighestExpertIndex(ckpt, naming, layer);
  MOME_CHECK(beyond < n, ErrorCode::kCorruptFile, ckpt.path(), ": layer ", layer, " has expert ", beyond,
             " but no expert ", n, " (", naming.GateName(layer, n), "): experts must be numbered 0..N-1");
  return n;
}

ExpertLayer ReadExpertLayer(const io::CheckpointReader& ckpt, const ExpertNaming& naming, int64_t layer) {
  ExpertLayer out;
  out.layer = layer;
  out.experts = ExpertCount(ckpt, naming, layer);
  if (naming.stacked) {
    // The stacked down_weight [E, b, d] is already MoBE's [n, p, d]; copy it so nothing aliases the mapped file.
    const std::string down = naming.KindNames(layer, out.experts, naming.factorised[0])[0];
    out.factorised.push_back(ckpt.Get(down).to(torch::kFloat32, /*non_blocking=*/false, /*copy=*/true));
    const std::string up = naming.KindNames(layer, out.experts, naming.dense)[0];
    out.dense.emplace_back(up, ckpt.Get(up).clone());
    return out;
  }
  auto stack = [&](const ExpertKind& kind) {
    std::vector<torch::Tensor> parts;
    std::vector<int64_t> shape0;
    for (const auto& name : naming.KindNames(layer, out.experts, kind)) {
      auto t = ckpt.Get(RequireTensor(ckpt, name));
      MOME_CHECK(t.dim() == 2, ErrorCode::kShapeMismatch, ckpt.path(), ": ", name, " has shape ", t.sizes(),
                 ", expected a matrix");
      if (parts.empty()) shape0 = t.sizes().vec();
      MOME_CHECK(t.sizes().vec() == shape0, ErrorCode::kShapeMismatch, ckpt.path(),
                 ": inconsistent expert shapes: ", name, " has shape ", t.sizes(), " but expert 0 has ",
                 c10::IntArrayRef(shape0));
      parts.push_back(t.to(torch::kFloat32));
    }
    return torch::stack(parts);
  };
  for (const auto& kind : naming.factorised) out.factorised.push_back(stack(kind));
  // down stays dense and must come back bit-identical, so it keeps its stored dtype.
  for (const auto& name : naming.KindNames(layer, out.experts, naming.dense))
    out.dense.emplace_back(name, ckpt.Get(RequireTensor(ckpt, name)).clone());
  return out;
}

std::string LayerFingerprint(const io::CheckpointReader& ckpt, const ExpertNaming& naming, int64_t layer) {
  // 64-bit words through xor–multiply–rotate: each step is a bijection of the state, so a change in any one word
  // always changes the digest, and it runs at memory speed (a layer is read once, like compressing it would).
  uint64_t h = 0x9e3779b97f4a7c15ull;
  auto word = [&](uint64_t w) {
    h = (h ^ w) * 0x100000001b3ull;
    h = (h << 31) | (h >> 33);
  };
  auto bytes = [&](const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      word(w);
    }
    uint64_t tail = 0;
    if (n > i) std::memcpy(&tail, p + i, n - i);
    word(tail ^ (static_cast<uint64_t>(n) << 56));
  };
  const int64_t n = ExpertCount(ckpt, naming, layer);
  std::vector<ExpertKind> kinds = naming.factorised;
  kinds.push_back(naming.dense);
  for (const auto& kind : kinds)
    for (const auto& name : naming.KindNames(layer, n, kind)) {
      const auto& info = ckpt.Info(RequireTensor(ckpt, name));
      bytes(name.data(), name.size());
      word(static_cast<uint64_t>(info.dtype));
      for (int64_t s : info.shape) word(static_cast<uint64_t>(s));
      const auto t = ckpt.Get(name).contiguous();
      bytes(t.data_ptr(), t.numel() * t.element_size());
    }
  std::ostringstream out;
  out << std::hex << std::setw(16) << std::setfill('0') << h;
  return out.str();
}

}  // namespace mome::compress
