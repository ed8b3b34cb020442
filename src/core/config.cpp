// The visitors behind config.h: YAML reader (file and --set overrides), validator, writer and help printer.
// Each walks a struct through its Visit method, so a field exists for all of them as soon as it is declared.
#include "mome/core/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <type_traits>

#include "mome/core/atomic_file.h"

namespace mome {
namespace {

std::string JoinKey(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

// ---- scalar formatting (writer and help share it, so help shows defaults exactly as YAML would) ----

// Shortest text that reads back to the same double, and always recognisably a float: YAML 1.1 readers
// (PyYAML) want a '.' in 1.0e-06, and "2" would read back as an integer elsewhere.
std::string FormatDouble(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  // Start at the number of integer digits so 10000 prints as 10000, not 1e+04; %g drops trailing zeros.
  const double magnitude = std::fabs(v);
  const int integer_digits = magnitude >= 1 ? static_cast<int>(std::floor(std::log10(magnitude))) + 1 : 1;
  char buf[40];
  for (int precision = std::min(integer_digits, 15); precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string text = buf;
  if (text.find('.') == std::string::npos) {
    const auto exponent = text.find_first_of("eE");
    text.insert(exponent == std::string::npos ? text.size() : exponent, ".0");
  }
  return text;
}

std::string FormatScalar(bool v) {
  return v ? "true" : "false";
}
std::string FormatScalar(int64_t v) {
  return std::to_string(v);
}
std::string FormatScalar(double v) {
  return FormatDouble(v);
}
std::string FormatScalar(const std::string& v) {
  YAML::Emitter out;  // the emitter knows YAML's escaping rules; hand-made quoting would not
  out << YAML::DoubleQuoted << v;
  return out.c_str();
}
template <typename T>
std::string FormatScalar(const std::vector<T>& values) {
  std::string text = "[";
  for (size_t i = 0; i < values.size(); ++i) text += (i ? ", " : "") + FormatScalar(values[i]);
  return text + "]";
}

const char* TypeName(bool) {
  return "bool";
}
const char* TypeName(int64_t) {
  return "int";
}
const char* TypeName(double) {
  return "float";
}
const char* TypeName(const std::string&) {
  return "string";
}
const char* TypeName(const std::vector<int64_t>&) {
  return "int list";
}
const char* TypeName(const std::vector<double>&) {
  return "float list";
}
const char* TypeName(const std::vector<std::string>&) {
  return "string list";
}

// ---- suggestions for unknown keys ----

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string LastComponent(const std::string& path) {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

// Lists every dotted key path (fields and sections) of a struct.
class PathCollector : public ConfigVisitor {
 public:
  std::vector<std::string> paths;

  void Field(const char* key, bool&, const char*) override { Add(key); }
  void Field(const char* key, int64_t&, const char*) override { Add(key); }
  void Field(const char* key, double&, const char*) override { Add(key); }
  void Field(const char* key, std::string&, const char*) override { Add(key); }
  void Field(const char* key, std::vector<int64_t>&, const char*) override { Add(key); }
  void Field(const char* key, std::vector<double>&, const char*) override { Add(key); }
  void Field(const char* key, std::vector<std::string>&, const char*) override { Add(key); }

 protected:
  void BeginSection(const char* key, const char*) override {
    Add(key);
    prefix_.push_back(paths.back());
  }
  void EndSection() override { prefix_.pop_back(); }

 private:
  void Add(const char* key) { paths.push_back(JoinKey(prefix_.empty() ? "" : prefix_.back(), key)); }
  std::vector<std::string> prefix_;
};

// " (did you mean 'a.b'?)" for the closest known paths: a small edit distance, or the same last component
// at another level (hidden_size given at the top when it lives under model).
std::string Suggestion(const std::string& unknown, const std::vector<std::string>& known) {
  std::vector<std::pair<size_t, std::string>> close;
  const size_t limit = std::max<size_t>(2, unknown.size() / 4);
  for (const auto& path : known) {
    size_t distance = EditDistance(unknown, path);
    if (LastComponent(path) == LastComponent(unknown)) distance = std::min<size_t>(distance, 1);
    if (distance <= limit) close.emplace_back(distance, path);
  }
  if (close.empty()) return "";
  std::stable_sort(close.begin(), close.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string text = " (did you mean ";
  for (size_t i = 0; i < close.size() && i < 3; ++i) text += (i ? " or '" : "'") + close[i].second + "'";
  return text + "?)";
}

// ---- reading ----

// Error messages are one line: a value quoted in one has its line breaks escaped and is cut short.
std::string OneLine(const std::string& text) {
  std::string line;
  for (const char c : text.substr(0, 80)) {
    switch (c) {
      case '\n': line += "\\n"; break;
      case '\r': line += "\\r"; break;
      default: line += c;
    }
  }
  return text.size() > 80 ? line + "..." : line;
}

// What a node holds, for "expected X, got Y" messages.
std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "nothing (null)";
    case YAML::NodeType::Scalar: return "'" + OneLine(node.Scalar()) + "'";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Undefined: break;
  }
  return "nothing";
}

bool LooksLikeInteger(const std::string& text) {
  size_t start = (!text.empty() && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
  return text.size() > start &&
         std::all_of(text.begin() + start, text.end(), [](unsigned char c) { return std::isdigit(c); });
}

// Converts one scalar node; on failure returns what was expected, for the error message.
bool Convert(const YAML::Node& node, bool* out, std::string* expected) {
  *expected = "true or false";
  return node.IsScalar() && ParseBool(node.Scalar(), out);
}
bool Convert(const YAML::Node& node, int64_t* out, std::string* expected) {
  *expected = "an integer";
  if (!node.IsScalar()) return false;
  if (ParseInt64(node.Scalar(), out)) return true;
  if (LooksLikeInteger(node.Scalar())) *expected = "an integer in the int64 range";
  return false;
}
bool Convert(const YAML::Node& node, double* out, std::string* expected) {
  *expected = "a number";
  if (!node.IsScalar()) return false;
  if (ParseDouble(node.Scalar(), out)) return true;
  if (LooksLikeInteger(node.Scalar()) || std::strpbrk(node.Scalar().c_str(), "eE")) {
    *expected = "a number in the double range";
  }
  return false;
}
bool Convert(const YAML::Node& node, std::string* out, std::string* expected) {
  *expected = "a string";
  if (node.IsNull()) {  // `name:` or `name: ~` — the empty string, as a writer of `name: ""` meant
    out->clear();
    return true;
  }
  if (!node.IsScalar()) return false;
  *out = node.Scalar();
  return true;
}

// Reads a YAML tree into a struct. Keys absent from the tree keep the struct's current values, so the same
// reader applies a file over the defaults and then each --set override over that.
class YamlReader : public ConfigVisitor {
 public:
  // `has_lines`: whether node marks point into a file worth quoting (not for --set values).
  YamlReader(std::string origin, bool has_lines, const detail::ConfigVisitFn& visit)
      : origin_(std::move(origin)), has_lines_(has_lines), visit_(visit) {}

  void Read(const YAML::Node& root) {
    if (!root.IsNull() && !root.IsMap()) Fail(root, "", "expected a map of keys at the top, got " + Describe(root));
    stack_.push_back(Frame{root, "", {}});
    visit_(*this);
    CheckUnknownKeys(stack_.back());
    stack_.pop_back();
  }

  void Field(const char* key, bool& v, const char*) override { ReadScalar(key, v); }
  void Field(const char* key, int64_t& v, const char*) override { ReadScalar(key, v); }
  void Field(const char* key, double& v, const char*) override { ReadScalar(key, v); }
  void Field(const char* key, std::string& v, const char*) override { ReadScalar(key, v); }
  void Field(const char* key, std::vector<int64_t>& v, const char*) override { ReadList(key, v); }
  void Field(const char* key, std::vector<double>& v, const char*) override { ReadList(key, v); }
  void Field(const char* key, std::vector<std::string>& v, const char*) override { ReadList(key, v); }

 protected:
  void BeginSection(const char* key, const char*) override {
    YAML::Node node;
    const bool present = Lookup(key, &node);
    const std::string path = JoinKey(stack_.back().path, key);
    if (present && !node.IsNull() && !node.IsMap()) {
      Fail(node, path, "expected a section (a map of keys), got " + Describe(node));
    }
    // An absent or empty (`model:`) section is a map without keys: everything keeps its value.
    stack_.push_back(Frame{present ? node : YAML::Node(), path, {}});
  }

  void EndSection() override {
    CheckUnknownKeys(stack_.back());
    stack_.pop_back();
  }

 private:
  struct Frame {
    YAML::Node map;  // a Map, or Null when the section is absent or empty
    std::string path;
    std::vector<std::string> declared;  // keys the struct's Visit asked for
  };

  // Finds `key` in the current map and records it as declared. A linear scan rather than node[key]: the
  // non-const operator[] would insert, and the map is small.
  bool Lookup(const char* key, YAML::Node* out) {
    Frame& frame = stack_.back();
    if (std::find(frame.declared.begin(), frame.declared.end(), key) != frame.declared.end()) {
      MOME_FAIL(ErrorCode::kInternal, "config key '", JoinKey(frame.path, key), "' is declared twice in Visit");
    }
    frame.declared.push_back(key);
    if (!frame.map.IsMap()) return false;
    for (auto it = frame.map.begin(); it != frame.map.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == key) {
        *out = it->second;
        return true;
      }
    }
    return false;
  }

  template <typename T>
  void ReadScalar(const char* key, T& value) {
    YAML::Node node;
    if (!Lookup(key, &node)) return;
    ConvertOrFail(node, JoinKey(stack_.back().path, key), &value);
  }

  template <typename T>
  void ReadList(const char* key, std::vector<T>& values) {
    YAML::Node node;
    if (!Lookup(key, &node)) return;
    const std::string path = JoinKey(stack_.back().path, key);
    if (node.IsNull()) {  // `rates:` with nothing after it
      values.clear();
      return;
    }
    std::vector<T> parsed;
    if (std::is_same_v<T, std::string> && node.IsScalar()) {  // a list of paths: `key: a` reads as [a]
      parsed.emplace_back();
      ConvertOrFail(node, path, &parsed.back());
      values = std::move(parsed);
      return;
    }
    if (!node.IsSequence()) Fail(node, path, "expected a list like [a, b], got " + Describe(node));
    for (const YAML::Node& element : node) {
      parsed.emplace_back();
      ConvertOrFail(element, path + "[" + std::to_string(parsed.size() - 1) + "]", &parsed.back());
    }
    values = std::move(parsed);
  }

  template <typename T>
  void ConvertOrFail(const YAML::Node& node, const std::string& path, T* value) {
    std::string expected;
    T parsed{};
    if (!Convert(node, &parsed, &expected)) Fail(node, path, "expected " + expected + ", got " + Describe(node));
    *value = parsed;
  }

  // Every key of the map must have been asked for by Visit; duplicates are errors too, since YAML readers
  // disagree on which copy wins.
  void CheckUnknownKeys(const Frame& frame) {
    if (!frame.map.IsMap()) return;
    std::vector<std::string> seen;
    for (auto it = frame.map.begin(); it != frame.map.end(); ++it) {
      if (!it->first.IsScalar()) Fail(it->first, frame.path, "keys must be plain names, got " + Describe(it->first));
      const std::string& key = it->first.Scalar();
      const std::string path = JoinKey(frame.path, key);
      if (std::find(frame.declared.begin(), frame.declared.end(), key) == frame.declared.end()) {
        PathCollector collector;
        visit_(collector);
        Fail(it->first, "", "unknown key '" + path + "'" + Suggestion(path, collector.paths));
      }
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) Fail(it->first, "", "duplicate key '" + path + "'");
      seen.push_back(key);
    }
  }

  [[noreturn]] void Fail(const YAML::Node& node, const std::string& path, const std::string& what) const {
    std::string where = origin_;
    if (has_lines_ && !node.Mark().is_null()) where += ":" + std::to_string(node.Mark().line + 1);
    MOME_FAIL(ErrorCode::kInvalidArgument, where, ": ", path.empty() ? "" : path + ": ", what);
  }

  std::string origin_;
  bool has_lines_;
  const detail::ConfigVisitFn& visit_;
  std::vector<Frame> stack_;
};

YAML::Node ParseYaml(const std::string& text, const std::string& origin) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    MOME_FAIL(ErrorCode::kCorruptFile, origin, ":", e.mark.line + 1, ":", e.mark.column + 1, ": invalid YAML: ", e.msg);
  }
}

// "model.rates=[4,16]" → the tree {model: {rates: [4, 16]}}, so the file reader handles overrides too.
YAML::Node OverrideTree(const std::string& assignment, const std::string& origin) {
  const auto equals = assignment.find('=');
  MOME_CHECK(equals != std::string::npos, ErrorCode::kInvalidArgument, origin,
             ": expected key.path=value (e.g. model.hidden_size=64)");
  const std::string path = assignment.substr(0, equals);
  std::vector<std::string> keys;
  std::stringstream parts(path);
  for (std::string key; std::getline(parts, key, '.');) keys.push_back(key);
  const bool well_formed = !path.empty() && path.back() != '.' &&
                           std::none_of(keys.begin(), keys.end(), [](const std::string& k) { return k.empty(); });
  MOME_CHECK(well_formed, ErrorCode::kInvalidArgument, origin, ": malformed key path '", path, "'");
  YAML::Node tree;
  try {
    tree = YAML::Load(assignment.substr(equals + 1));
  } catch (const YAML::Exception& e) {
    MOME_FAIL(ErrorCode::kInvalidArgument, origin, ": cannot parse the value as YAML: ", e.msg);
  }
  for (auto key = keys.rbegin(); key != keys.rend(); ++key) {
    YAML::Node map(YAML::NodeType::Map);
    map[*key] = tree;
    tree = map;
  }
  return tree;
}

// ---- validation ----

// Walks the sections and runs each Validate with the section's path, so a rope Validate that says
// ConfigRequire(..., "theta", ...) is reported as model.rope.theta.
class Validator : public ConfigVisitor {
 public:
  explicit Validator(std::string origin) : origin_(std::move(origin)) {}

  void Field(const char*, bool&, const char*) override {}
  void Field(const char*, int64_t&, const char*) override {}
  void Field(const char*, double&, const char*) override {}
  void Field(const char*, std::string&, const char*) override {}
  void Field(const char*, std::vector<int64_t>&, const char*) override {}
  void Field(const char*, std::vector<double>&, const char*) override {}
  void Field(const char*, std::vector<std::string>&, const char*) override {}

  void Run(const std::function<void()>& validate) {
    try {
      validate();
    } catch (const ConfigValidationError& e) {
      MOME_FAIL(ErrorCode::kInvalidArgument, origin_, ": ", JoinKey(path_.empty() ? "" : path_.back(), e.key()), ": ",
                e.reason());
    }
  }

 protected:
  void BeginSection(const char* key, const char*) override {
    path_.push_back(JoinKey(path_.empty() ? "" : path_.back(), key));
  }
  void EndSection() override { path_.pop_back(); }
  void ValidateSection(const std::function<void()>& validate) override { Run(validate); }

 private:
  std::string origin_;
  std::vector<std::string> path_;
};

// ---- writing ----

class YamlWriter : public ConfigVisitor {
 public:
  explicit YamlWriter(ConfigFormat format) : format_(format) {
    if (format_ == ConfigFormat::kOneLine) out_ << YAML::Flow;
    out_ << YAML::BeginMap;
  }

  std::string Finish() {
    out_ << YAML::EndMap;
    MOME_CHECK(out_.good(), ErrorCode::kInternal, "writing the config as YAML failed: ", out_.GetLastError());
    return std::string(out_.c_str()) + (format_ == ConfigFormat::kOneLine ? "" : "\n");
  }

  void Field(const char* key, bool& v, const char* help) override { Scalar(key, FormatScalar(v), help); }
  void Field(const char* key, int64_t& v, const char* help) override { Scalar(key, FormatScalar(v), help); }
  void Field(const char* key, double& v, const char* help) override { Scalar(key, FormatScalar(v), help); }
  void Field(const char* key, std::string& v, const char* help) override {
    // Always quoted: "123" or "true" in a string field stays a string for every YAML reader.
    out_ << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << v;
    Comment(help);
  }
  void Field(const char* key, std::vector<int64_t>& v, const char* help) override { List(key, v, help); }
  void Field(const char* key, std::vector<double>& v, const char* help) override { List(key, v, help); }
  void Field(const char* key, std::vector<std::string>& v, const char* help) override { List(key, v, help); }

 protected:
  void BeginSection(const char* key, const char* help) override {
    out_ << YAML::Key << key;
    Comment(help);
    out_ << YAML::Value << YAML::BeginMap;
  }
  void EndSection() override { out_ << YAML::EndMap; }

 private:
  void Scalar(const char* key, const std::string& text, const char* help) {
    out_ << YAML::Key << key << YAML::Value << text;
    Comment(help);
  }

  template <typename T>
  void List(const char* key, const std::vector<T>& values, const char* help) {
    out_ << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const T& value : values) {
      if constexpr (std::is_same_v<T, std::string>) {
        out_ << YAML::DoubleQuoted << value;
      } else {
        out_ << FormatScalar(value);
      }
    }
    out_ << YAML::EndSeq;
    Comment(help);
  }

  void Comment(const char* help) {
    if (format_ == ConfigFormat::kBlockWithHelp && help && *help) out_ << YAML::Comment(help);
  }

  ConfigFormat format_;
  YAML::Emitter out_;
};

// ---- help ----

class HelpPrinter : public ConfigVisitor {
 public:
  std::string text;

  void Field(const char* key, bool& v, const char* help) override { Line(key, v, help); }
  void Field(const char* key, int64_t& v, const char* help) override { Line(key, v, help); }
  void Field(const char* key, double& v, const char* help) override { Line(key, v, help); }
  void Field(const char* key, std::string& v, const char* help) override { Line(key, v, help); }
  void Field(const char* key, std::vector<int64_t>& v, const char* help) override { Line(key, v, help); }
  void Field(const char* key, std::vector<double>& v, const char* help) override { Line(key, v, help); }
  void Field(const char* key, std::vector<std::string>& v, const char* help) override { Line(key, v, help); }

 protected:
  void BeginSection(const char* key, const char* help) override {
    path_.push_back(JoinKey(path_.empty() ? "" : path_.back(), key));
    text += path_.back() + ": " + (help ? help : "") + "\n";
  }
  void EndSection() override { path_.pop_back(); }

 private:
  template <typename T>
  void Line(const char* key, const T& value, const char* help) {
    text += JoinKey(path_.empty() ? "" : path_.back(), key) + " (" + TypeName(value) + ", default " +
            FormatScalar(value) + "): " + (help ? help : "") + "\n";
  }

  std::vector<std::string> path_;
};

}  // namespace

void ConfigRequireOneOf(const std::string& value, std::initializer_list<const char*> allowed, const std::string& key) {
  std::string choices;
  for (const char* choice : allowed) {
    if (value == choice) return;
    choices += (choices.empty() ? "" : " | ") + std::string(choice);
  }
  throw ConfigValidationError(key, "must be one of " + choices + ", got '" + value + "'");
}

namespace detail {

void ReadConfig(const ConfigVisitFn& visit, const std::string& yaml_text, const std::string& origin,
                const std::vector<std::string>& overrides) {
  YamlReader(origin, true, visit).Read(ParseYaml(yaml_text, origin));
  for (const std::string& assignment : overrides) {
    const std::string override_origin = "--set " + assignment;
    YamlReader(override_origin, false, visit).Read(OverrideTree(assignment, override_origin));
  }
}

std::string ReadTextFile(const std::string& path) {
  std::error_code ec;
  MOME_CHECK(!std::filesystem::is_directory(path, ec), ErrorCode::kInvalidArgument, path,
             ": is a folder, expected a YAML config file");
  std::ifstream in(path, std::ios::binary);
  MOME_CHECK(in.is_open(), ErrorCode::kNotFound, path, ": cannot open config file: ", std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  MOME_CHECK(!in.bad(), ErrorCode::kIo, path, ": read failed");
  return text.str();
}

void ValidateConfig(const ConfigVisitFn& visit, const std::function<void()>& validate_root, const std::string& origin) {
  Validator validator(origin);
  visit(validator);  // sections first, so the root's Validate may rely on valid parts
  validator.Run(validate_root);
}

std::string WriteConfig(const ConfigVisitFn& visit, ConfigFormat format) {
  YamlWriter writer(format);
  visit(writer);
  return writer.Finish();
}

std::string ConfigHelp(const ConfigVisitFn& visit) {
  HelpPrinter printer;
  visit(printer);
  return printer.text;
}

}  // namespace detail

// One crash-safe writer for the whole library: AtomicFile.
void WriteTextFileAtomic(const std::string& path, const std::string& contents) {
  WriteFileAtomic(path, contents);
}

bool ParseInt64(const std::string& text, int64_t* out) {
  // strtoll skips leading blanks and stops at junk; a config value must be the number and nothing else.
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return false;
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (errno == ERANGE || end != text.c_str() + text.size()) return false;
  *out = static_cast<int64_t>(value);
  return true;
}

bool ParseDouble(const std::string& text, double* out) {
  static const char* const kYamlSpecials[][2] = {
      {".inf", "inf"},   {".Inf", "inf"},   {".INF", "inf"},   {"+.inf", "inf"}, {"+.Inf", "inf"}, {"+.INF", "inf"},
      {"-.inf", "-inf"}, {"-.Inf", "-inf"}, {"-.INF", "-inf"}, {".nan", "nan"},  {".NaN", "nan"},  {".NAN", "nan"}};
  for (const auto& special : kYamlSpecials) {
    if (text == special[0]) {
      *out = std::strtod(special[1], nullptr);
      return true;
    }
  }
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return false;
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return false;
  if (errno == ERANGE && std::isinf(value)) return false;  // overflow; underflow to ~0 is fine
  *out = value;
  return true;
}

bool ParseBool(const std::string& text, bool* out) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "true" || lower == "yes" || lower == "on") {
    *out = true;
    return true;
  }
  if (lower == "false" || lower == "no" || lower == "off") {
    *out = false;
    return true;
  }
  return false;
}

}  // namespace mome
