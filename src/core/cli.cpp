#include "mome/core/cli.h"

#include <cmath>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "mome/core/config.h"  // ParseInt64/ParseDouble: the CLI and YAML accept the same numbers
#include "mome/core/error.h"

namespace mome {
namespace {

bool IsHelp(const std::string& arg) {
  return arg == "--help" || arg == "-h";
}

// "-x" or "--x" is an option name; "-" (stdin) and "-5" are values.
bool LooksLikeOption(const std::string& arg) {
  if (arg.size() < 2 || arg[0] != '-') return false;
  return arg[1] == '-' || std::isalpha(static_cast<unsigned char>(arg[1]));
}

std::string Trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

}  // namespace

CliParser::CliParser(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

CliParser& CliParser::Add(Spec spec) {
  const bool well_formed = spec.name.size() > 2 && spec.name.compare(0, 2, "--") == 0 &&
                           spec.name.find('=') == std::string::npos && LooksLikeOption(spec.name);
  MOME_CHECK(well_formed, ErrorCode::kInternal, program_, ": option name '", spec.name, "' must look like --name");
  MOME_CHECK(!IsHelp(spec.name) && Find(spec.name) == nullptr, ErrorCode::kInternal, program_, ": option ", spec.name,
             " is declared twice");
  specs_.push_back(std::move(spec));
  return *this;
}

CliParser& CliParser::AddOption(const std::string& name, const std::string& value_name, const std::string& help,
                                const std::string& default_value) {
  return Add(Spec{name, value_name, help, default_value, Kind::kOption, {}});
}

CliParser& CliParser::AddDeviceOption() {
  return AddOption("--device", "D", "cpu | cuda | cuda:N", "cpu");
}

CliParser& CliParser::AddRequired(const std::string& name, const std::string& value_name, const std::string& help) {
  return Add(Spec{name, value_name, help, "", Kind::kRequired, {}});
}

CliParser& CliParser::AddFlag(const std::string& name, const std::string& help) {
  return Add(Spec{name, "", help, "", Kind::kFlag, {}});
}

CliParser& CliParser::AddRepeated(const std::string& name, const std::string& value_name, const std::string& help) {
  return Add(Spec{name, value_name, help, "", Kind::kRepeated, {}});
}

CliParser& CliParser::AllowPositionals(const std::string& value_name, const std::string& help) {
  allow_positionals_ = true;
  positional_name_ = value_name;
  positional_help_ = help;
  return *this;
}

CliParser& CliParser::AddHelpSection(const std::string& title, const std::string& text) {
  help_sections_.emplace_back(title, text);
  return *this;
}

CliParser::Spec* CliParser::Find(const std::string& name) {
  for (Spec& spec : specs_) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

const CliParser::Spec& CliParser::Declared(const std::string& name, bool wants_value) const {
  for (const Spec& spec : specs_) {
    if (spec.name != name) continue;
    MOME_CHECK(wants_value == (spec.kind != Kind::kFlag), ErrorCode::kInternal, program_, ": option ", name,
               wants_value ? " is a flag, not an option with a value" : " takes a value, it is not a flag");
    return spec;
  }
  MOME_FAIL(ErrorCode::kInternal, program_, ": option ", name, " was never declared");
}

void CliParser::Accept(Spec& spec, const std::string& value) {
  MOME_CHECK(spec.kind == Kind::kRepeated || spec.values.empty(), ErrorCode::kInvalidArgument, "option ", spec.name,
             " is given more than once");
  spec.values.push_back(value);
}

bool CliParser::Parse(int argc, const char* const* argv, std::ostream& help_out) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return Parse(args, help_out);
}

bool CliParser::Parse(const std::vector<std::string>& args, std::ostream& help_out) {
  for (Spec& spec : specs_) {
    spec.values.clear();
    spec.flag_given = false;
  }
  positionals_.clear();

  // --help first: someone asking for help should get it even when the rest of the line is wrong.
  for (const std::string& arg : args) {
    if (arg == "--") break;
    if (IsHelp(arg)) {
      help_out << Usage();
      return false;
    }
  }

  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      MOME_CHECK(allow_positionals_ || i + 1 == args.size(), ErrorCode::kInvalidArgument, "unexpected argument '",
                 args[i + 1], "' after --");
      positionals_.insert(positionals_.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (!LooksLikeOption(arg)) {
      MOME_CHECK(allow_positionals_, ErrorCode::kInvalidArgument, "unexpected argument '", arg,
                 "' (options start with --; see --help)");
      positionals_.push_back(arg);
      continue;
    }
    const auto equals = arg.find('=');
    const std::string name = arg.substr(0, equals);
    Spec* spec = Find(name);
    MOME_CHECK(spec != nullptr, ErrorCode::kInvalidArgument, "unknown option ", name, " (see --help)");
    if (spec->kind == Kind::kFlag) {
      MOME_CHECK(equals == std::string::npos, ErrorCode::kInvalidArgument, "option ", name, " takes no value");
      MOME_CHECK(!spec->flag_given, ErrorCode::kInvalidArgument, "option ", name, " is given more than once");
      spec->flag_given = true;
    } else if (equals != std::string::npos) {
      Accept(*spec, arg.substr(equals + 1));
    } else {
      // `--model --steps 3` means the value was forgotten, not that the model is called "--steps".
      MOME_CHECK(i + 1 < args.size() && !(LooksLikeOption(args[i + 1]) && args[i + 1][1] == '-'),
                 ErrorCode::kInvalidArgument, "option ", name, " needs a value (", name, " ", spec->value_name, ")");
      Accept(*spec, args[++i]);
    }
  }

  for (const Spec& spec : specs_) {
    MOME_CHECK(spec.kind != Kind::kRequired || !spec.values.empty(), ErrorCode::kInvalidArgument,
               "missing required option ", spec.name, " ", spec.value_name);
  }
  return true;
}

std::string CliParser::Usage() const {
  std::vector<std::pair<std::string, std::string>> rows;  // left column, right column
  for (const Spec& spec : specs_) {
    std::string left = spec.name + (spec.kind == Kind::kFlag ? "" : " " + spec.value_name);
    std::string right = spec.help;
    if (spec.kind == Kind::kRequired) right += " (required)";
    if (spec.kind == Kind::kRepeated) right += " (repeatable)";
    if (!spec.default_value.empty()) right += " (default: " + spec.default_value + ")";
    rows.emplace_back(left, right);
  }
  rows.emplace_back("-h, --help", "print this help and exit");
  if (allow_positionals_) rows.emplace_back(positional_name_, positional_help_);

  size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());

  std::ostringstream out;
  out << "usage: " << program_ << " [options]";
  if (allow_positionals_) out << " " << positional_name_;
  out << "\n";
  if (!summary_.empty()) out << summary_ << "\n";
  out << "\noptions:\n";
  for (const auto& row : rows) {
    out << "  " << row.first << std::string(width - row.first.size() + 2, ' ') << row.second << "\n";
  }
  for (const auto& [title, text] : help_sections_) {
    out << "\n" << title << ":\n";
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) out << "  " << line << "\n";
  }
  return out.str();
}

bool CliParser::Has(const std::string& name) const {
  for (const Spec& spec : specs_) {
    if (spec.name == name) return spec.flag_given || !spec.values.empty() || !spec.default_value.empty();
  }
  MOME_FAIL(ErrorCode::kInternal, program_, ": option ", name, " was never declared");
}

std::string CliParser::GetString(const std::string& name) const {
  const Spec& spec = Declared(name, true);
  MOME_CHECK(spec.kind != Kind::kRepeated, ErrorCode::kInternal, program_, ": option ", name,
             " is repeatable; read it with GetAll");
  if (!spec.values.empty()) return spec.values.front();
  MOME_CHECK(!spec.default_value.empty(), ErrorCode::kInvalidArgument, "missing option ", name, " ", spec.value_name);
  return spec.default_value;
}

int64_t CliParser::GetInt(const std::string& name) const {
  const std::string text = GetString(name);
  int64_t value = 0;
  MOME_CHECK(ParseInt64(text, &value), ErrorCode::kInvalidArgument, "option ", name, ": expected an integer, got '",
             text, "'");
  return value;
}

double CliParser::GetDouble(const std::string& name) const {
  const std::string text = GetString(name);
  double value = 0;
  MOME_CHECK(ParseDouble(text, &value) && std::isfinite(value), ErrorCode::kInvalidArgument, "option ", name,
             ": expected a finite number, got '", text, "'");
  return value;
}

bool CliParser::GetFlag(const std::string& name) const {
  return Declared(name, false).flag_given;
}

std::vector<int64_t> CliParser::GetList(const std::string& name) const {
  const std::string text = GetString(name);
  std::vector<int64_t> values;
  if (Trim(text).empty()) return values;
  std::istringstream parts(text + ",");  // the extra comma makes a trailing "1,2," show up as an empty element
  size_t index = 0;
  for (std::string part; std::getline(parts, part, ','); ++index) {
    int64_t value = 0;
    MOME_CHECK(ParseInt64(Trim(part), &value), ErrorCode::kInvalidArgument, "option ", name, ": element ", index + 1,
               " of '", text, "' is not an integer: '", Trim(part), "'");
    values.push_back(value);
  }
  return values;
}

const std::vector<std::string>& CliParser::GetAll(const std::string& name) const {
  const Spec& spec = Declared(name, true);
  MOME_CHECK(spec.kind == Kind::kRepeated, ErrorCode::kInternal, program_, ": option ", name,
             " is not repeatable; read it with GetString");
  return spec.values;
}

}  // namespace mome
