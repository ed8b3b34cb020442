// The direction of dependencies (README "Library layout"): a folder of the library includes only folders that come
// before it in the data flow, and the inference tools need nothing of training. Checked on the source tree, so a
// wrong include fails here rather than in review.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace mome {
namespace {
namespace fs = std::filesystem;

// The data flow, earliest first; a folder may include itself and any folder before it.
const std::vector<std::string> kOrder = {"core",       "nn",   "io",       "text",     "frontend", "encoders",
                                         "matryoshka", "llm",  "adapters", "model",    "data",     "train",
                                         "decode",     "eval", "analysis", "compress", "serve"};

int RankOf(const std::string& folder) {
  const auto it = std::find(kOrder.begin(), kOrder.end(), folder);
  return it == kOrder.end() ? -1 : static_cast<int>(it - kOrder.begin());
}

// The library folders a file includes: "mome/F/..." (public) and "F/..." (private headers under src/).
std::vector<std::string> IncludedFolders(const fs::path& file) {
  static const std::regex include(R"re(^\s*#\s*include\s+"(?:mome/)?([a-z_]+)/)re");
  std::vector<std::string> out;
  std::ifstream in(file);
  std::smatch m;
  for (std::string line; std::getline(in, line);)
    if (std::regex_search(line, m, include) && RankOf(m[1]) >= 0) out.push_back(m[1]);
  return out;
}

std::vector<std::string> Violations() {
  std::vector<std::string> bad;
  const fs::path root = MOME_SOURCE_DIR;
  for (const fs::path& base : {root / "src", root / "include" / "mome"}) {
    for (const auto& entry : fs::recursive_directory_iterator(base)) {
      if (!entry.is_regular_file()) continue;
      const std::string folder = fs::relative(entry.path(), base).begin()->string();
      const int own = RankOf(folder);
      if (own < 0) {
        bad.push_back(entry.path().string() + ": folder '" + folder + "' is not in the layout's order");
        continue;
      }
      for (const auto& used : IncludedFolders(entry.path()))
        if (RankOf(used) > own) bad.push_back(entry.path().string() + " (" + folder + ") includes " + used + "/");
    }
  }
  for (const char* tool : {"mome_decode.cpp", "mome_analyze.cpp", "mome_encode.cpp", "mome_wer.cpp"})
    for (const auto& used : IncludedFolders(root / "tools" / tool))
      if (used == "train") bad.push_back(std::string("tools/") + tool + " (an inference tool) includes train/");
  return bad;
}

TEST(Layout, DependenciesFollowTheDataFlow) {
  const auto bad = Violations();
  std::string all;
  for (const auto& b : bad) all += "\n  " + b;
  EXPECT_TRUE(bad.empty()) << bad.size() << " include(s) against the data flow:" << all;
}

// MOME_TCMALLOC (CMakeLists.txt): when CMake found tcmalloc, this executable's malloc must be tcmalloc's, not
// glibc's (a link order or --as-needed change would silently drop it and slow CPU training ~1.6x).
TEST(Build, MallocIsTcmallocWhenTheBuildLinkedIt) {
#ifndef MOME_TCMALLOC_LINKED
  GTEST_SKIP() << "built without tcmalloc (MOME_TCMALLOC off, sanitizers, or libtcmalloc-minimal4 missing)";
#else
  Dl_info info{};
  ASSERT_NE(dladdr(reinterpret_cast<void*>(&malloc), &info), 0);
  ASSERT_NE(info.dli_fname, nullptr);
  EXPECT_NE(std::string(info.dli_fname).find("tcmalloc"), std::string::npos) << "malloc comes from " << info.dli_fname;
#endif
}

}  // namespace
}  // namespace mome
