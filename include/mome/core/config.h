// Config structs declared once, read and written everywhere.
//
// A config is a plain struct whose members carry their defaults (member initialisers) and whose Visit method
// names each field once, with its help text. That one declaration drives YAML reading (unknown keys are errors),
// `--set a.b=value` overrides, writing the resolved config, ToString and the CLI's key help:
//
//   struct RopeConfig {
//     double theta = 10000.0;
//     std::string type = "default";
//     void Visit(mome::ConfigVisitor& v) {
//       v.Field("theta", theta, "rotary base frequency");
//       v.Field("type", type, "default | linear | llama3");
//     }
//     void Validate() const {  // optional; the loader calls it with the section's path
//       mome::ConfigRequire(theta > 0, "theta", "must be positive, got ", theta);
//       mome::ConfigRequireOneOf(type, {"default", "linear", "llama3"}, "type");
//     }
//   };
//   struct ModelConfig {
//     int64_t hidden_size = 2048;
//     RopeConfig rope;
//     void Visit(mome::ConfigVisitor& v) {
//       v.Field("hidden_size", hidden_size, "model width");
//       v.Section("rope", rope, "rotary position embedding");
//     }
//     std::string ToString() const { return mome::ConfigToString(*this); }
//   };
//   auto cfg = mome::LoadConfigFile<ModelConfig>("model.yaml", {"rope.theta=500000"});
//
// Errors are mome::Error with a one-line message naming the origin (file or "--set ..."), the dotted key and,
// for files, the line.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mome/core/enum_names.h"
#include "mome/core/error.h"

namespace mome {

// Implemented by the YAML reader, the writer, the help printer and the validator. A struct's Visit calls Field
// for each value and Section for each nested struct, always in the same order (the order of the written YAML).
class ConfigVisitor {
 public:
  virtual ~ConfigVisitor() = default;

  virtual void Field(const char* key, bool& value, const char* help) = 0;
  virtual void Field(const char* key, int64_t& value, const char* help) = 0;
  virtual void Field(const char* key, double& value, const char* help) = 0;
  virtual void Field(const char* key, std::string& value, const char* help) = 0;
  virtual void Field(const char* key, std::vector<int64_t>& value, const char* help) = 0;
  virtual void Field(const char* key, std::vector<double>& value, const char* help) = 0;
  virtual void Field(const char* key, std::vector<std::string>& value, const char* help) = 0;

  // A nested struct: any type with `void Visit(ConfigVisitor&)`. Its `void Validate() const`, when present,
  // is run by the validator with this section's path, so its ConfigRequire keys are relative to the section.
  template <typename T>
  void Section(const char* key, T& section, const char* help);

 protected:
  virtual void BeginSection(const char* key, const char* help) = 0;
  virtual void EndSection() = 0;
  // Called between a section's fields and EndSection with that section's Validate (a no-op call when the type
  // has none). Only the validator runs it; everyone else ignores it.
  virtual void ValidateSection(const std::function<void()>& validate) { (void)validate; }
};

// Thrown by ConfigRequire: a mome::Error(kInvalidArgument) that remembers the key relative to the struct, so
// the loader can report it with the section path and origin ("model.yaml: rope.theta: must be positive").
class ConfigValidationError : public Error {
 public:
  ConfigValidationError(std::string key, std::string reason)
      : Error(ErrorCode::kInvalidArgument, key + ": " + reason), key_(std::move(key)), reason_(std::move(reason)) {}
  const std::string& key() const { return key_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string key_;
  std::string reason_;
};

// For Validate(): throws ConfigValidationError(key, why...) unless cond holds. The reason is only formatted on
// failure: ConfigRequire(heads > 0, "num_attention_heads", "must be positive, got ", heads).
template <typename... Why>
void ConfigRequire(bool cond, const std::string& key, const Why&... why) {
  if (!cond) throw ConfigValidationError(key, detail::Concat(why...));
}

// For string fields that act as enums: the message lists the allowed values.
void ConfigRequireOneOf(const std::string& value, std::initializer_list<const char*> allowed, const std::string& key);

// For string fields that name an enum: the enum's one name table decides, and the message lists its names.
template <typename E, size_t N>
void ConfigRequireEnum(const EnumNames<E, N>& names, const std::string& value, const std::string& key) {
  ConfigRequire(IsEnumName(names, value), key, "'", value, "' is not one of ", EnumChoices(names));
}

enum class ConfigFormat {
  kBlock,          // block YAML, one field a line: the resolved config a run writes next to its outputs
  kBlockWithHelp,  // the same with each field's help as a trailing comment
  kOneLine,        // flow YAML on one line, for logs; also loadable
};

namespace detail {

template <typename T, typename = void>
struct HasValidate : std::false_type {};
template <typename T>
struct HasValidate<T, std::void_t<decltype(std::declval<const T&>().Validate())>> : std::true_type {};

// The templates below erase the struct type into "a function that visits it" and do the work in config.cpp.
using ConfigVisitFn = std::function<void(ConfigVisitor&)>;

// Reads `yaml_text` into the visited struct (absent keys keep their current values), then applies each
// "a.b.c=value" override in order. `origin` names the text in errors (a path, or e.g. "<string>").
void ReadConfig(const ConfigVisitFn& visit, const std::string& yaml_text, const std::string& origin,
                const std::vector<std::string>& overrides);
std::string ReadTextFile(const std::string& path);  // mome::Error(kNotFound/kIo) naming the path
// Runs every section's Validate (children first) and then validate_root; ConfigValidationError becomes a
// mome::Error(kInvalidArgument) with "origin: full.dotted.key: reason".
void ValidateConfig(const ConfigVisitFn& visit, const std::function<void()>& validate_root, const std::string& origin);
std::string WriteConfig(const ConfigVisitFn& visit, ConfigFormat format);
std::string ConfigHelp(const ConfigVisitFn& visit);

template <typename T>
std::function<void()> ValidateFn(const T& config) {
  if constexpr (HasValidate<T>::value) {
    return [&config] { config.Validate(); };
  } else {
    (void)config;
    return [] {};
  }
}

}  // namespace detail

template <typename T>
void ConfigVisitor::Section(const char* key, T& section, const char* help) {
  BeginSection(key, help);
  section.Visit(*this);
  ValidateSection(detail::ValidateFn(section));
  EndSection();
}

// Runs Validate() of every section (with its dotted path) and of the root; errors name `origin`.
template <typename T>
void ValidateConfig(const T& config, const std::string& origin = "config") {
  T copy = config;  // Visit is non-const (the reader shares it); the validator only reads
  detail::ValidateConfig([&copy](ConfigVisitor& v) { copy.Visit(v); }, detail::ValidateFn(config), origin);
}

// Defaults, then `yaml_text`, then overrides ("a.b.c=value", the value parsed as YAML so "rates=[4,16]"
// works), then validation.
template <typename T>
T LoadConfigString(const std::string& yaml_text, const std::string& origin,
                   const std::vector<std::string>& overrides = {}) {
  T config{};
  detail::ReadConfig([&config](ConfigVisitor& v) { config.Visit(v); }, yaml_text, origin, overrides);
  ValidateConfig(config, overrides.empty() ? origin : origin + " with --set overrides");
  return config;
}

template <typename T>
T LoadConfigFile(const std::string& yaml_path, const std::vector<std::string>& overrides = {}) {
  return LoadConfigString<T>(detail::ReadTextFile(yaml_path), yaml_path, overrides);
}

// Defaults plus overrides, no file: for binaries run without a config.
template <typename T>
T LoadConfigOverrides(const std::vector<std::string>& overrides) {
  return LoadConfigString<T>("", "--set", overrides);
}

// Every field, re-loadable with LoadConfigString.
template <typename T>
std::string ConfigToYaml(const T& config, ConfigFormat format = ConfigFormat::kBlock) {
  T copy = config;
  return detail::WriteConfig([&copy](ConfigVisitor& v) { copy.Visit(v); }, format);
}

// One line for logs, so a struct's ToString is one line: `return mome::ConfigToString(*this);`
template <typename T>
std::string ConfigToString(const T& config) {
  return ConfigToYaml(config, ConfigFormat::kOneLine);
}

// "key.path (type, default X): help" lines, one per field, with the values of `config` as the defaults.
template <typename T>
std::string ConfigHelp(const T& config = T{}) {
  T copy = config;
  return detail::ConfigHelp([&copy](ConfigVisitor& v) { copy.Visit(v); });
}

// Crash-safe write: a temp file in the same folder, fsync, rename over `path`. Errors (kIo) name the path.
void WriteTextFileAtomic(const std::string& path, const std::string& contents);

// The resolved config next to a run's outputs.
template <typename T>
void WriteConfigFile(const std::string& path, const T& config) {
  WriteTextFileAtomic(path, ConfigToYaml(config, ConfigFormat::kBlockWithHelp));
}

// Strict scalar parsing shared by the config reader and the CLI: the whole text must be the number (no
// trailing junk, no 3.5 for an integer, no overflow). Return false instead of throwing so each caller can
// name its own key or option.
bool ParseInt64(const std::string& text, int64_t* out);
bool ParseDouble(const std::string& text, double* out);  // also YAML's .inf, -.inf, .nan
bool ParseBool(const std::string& text, bool* out);      // true/false, yes/no, on/off in any case

}  // namespace mome
