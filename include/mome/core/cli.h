// The command line of libmome's binaries: each option is declared once (name, value name, help, default),
// and that declaration drives parsing, the checks and --help.
//
//   mome::CliParser cli("mome_lm", "Runs a Llama checkpoint on a prompt.");
//   cli.AddRequired("--model", "PATH", "model folder (config.json + safetensors)")
//      .AddOption("--max-new-tokens", "N", "tokens to generate", "32")
//      .AddRepeated("--set", "KEY=VALUE", "override a config key")
//      .AddFlag("--greedy", "always take the most likely token")
//      .AddHelpSection("config keys (for --set)", mome::ConfigHelp<LmConfig>());
//   if (!cli.Parse(argc, argv)) return 0;  // --help was printed
//   const int64_t n = cli.GetInt("--max-new-tokens");
//
// User mistakes (unknown option, missing value, bad number, missing required option) throw
// mome::Error(kInvalidArgument) with one line naming the option; mistakes in the declarations or a getter
// asking for an undeclared option are bugs and throw kInternal.
//
// Why not CLI11 (Debian libcli11-dev): this parser is the tools' one error policy (a mome::Error, one line, exit
// 1, tested in test_cli.cpp) and its declarations also print the config keys of --set, which CLI11 would need
// adapters for while adding nothing the tools use.
#pragma once

#include <cstdint>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace mome {

class CliParser {
 public:
  CliParser(std::string program, std::string summary);

  // `name` is "--long-name". An option takes a value and may be given once; with no default (""), Has() is
  // false until it is given.
  CliParser& AddOption(const std::string& name, const std::string& value_name, const std::string& help,
                       const std::string& default_value = "");
  CliParser& AddRequired(const std::string& name, const std::string& value_name, const std::string& help);
  CliParser& AddFlag(const std::string& name, const std::string& help);  // no value; GetFlag says if given
  // May be given any number of times (`--set a=1 --set b=2`); GetAll returns the values in order.
  CliParser& AddRepeated(const std::string& name, const std::string& value_name, const std::string& help);
  // --device D (cpu | cuda | cuda:N, default cpu): one declaration for every tool; read with
  // ParseDevice(GetString("--device")) (core/device.h).
  CliParser& AddDeviceOption();
  // Without this, a bare argument is an error (it is usually a forgotten option name).
  CliParser& AllowPositionals(const std::string& value_name, const std::string& help);
  // Extra text at the end of --help, each line indented: e.g. ConfigHelp<T>() under "config keys".
  CliParser& AddHelpSection(const std::string& title, const std::string& text);

  // Accepts `--x v`, `--x=v`, `--` (the rest is positional) and `-h`/`--help`, which wins over any other
  // argument: it prints Usage() to help_out and returns false, and the caller exits 0.
  bool Parse(int argc, const char* const* argv, std::ostream& help_out = std::cout);
  bool Parse(const std::vector<std::string>& args, std::ostream& help_out = std::cout);  // args without argv[0]

  std::string Usage() const;

  bool Has(const std::string& name) const;  // given, or has a default; a flag: given; repeated: given at least once
  std::string GetString(const std::string& name) const;  // the value or the default; error when neither
  int64_t GetInt(const std::string& name) const;
  double GetDouble(const std::string& name) const;
  bool GetFlag(const std::string& name) const;
  std::vector<int64_t> GetList(const std::string& name) const;            // "1,2,3"; "" is the empty list
  const std::vector<std::string>& GetAll(const std::string& name) const;  // a repeated option's values
  const std::vector<std::string>& Positionals() const { return positionals_; }

 private:
  enum class Kind { kOption, kRequired, kFlag, kRepeated };
  struct Spec {
    std::string name;
    std::string value_name;
    std::string help;
    std::string default_value;
    Kind kind;
    std::vector<std::string> values;  // what Parse found, in order
    bool flag_given = false;
  };

  CliParser& Add(Spec spec);
  Spec* Find(const std::string& name);
  const Spec& Declared(const std::string& name, bool wants_value) const;  // kInternal when undeclared/misused
  void Accept(Spec& spec, const std::string& value);

  std::string program_;
  std::string summary_;
  std::vector<Spec> specs_;
  bool allow_positionals_ = false;
  std::string positional_name_;
  std::string positional_help_;
  std::vector<std::pair<std::string, std::string>> help_sections_;
  std::vector<std::string> positionals_;
};

}  // namespace mome
