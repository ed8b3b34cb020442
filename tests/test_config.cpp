// The config system (YAML reading, --set overrides, validation, writing, help) and the CLI parser.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "mome/core/cli.h"
#include "mome/core/config.h"
#include "mome/core/error.h"
#include "test_helpers.h"

namespace {

namespace fs = std::filesystem;

struct TestRope {
  double theta = 10000.0;
  std::string type = "default";
  std::vector<double> factors;

  void Visit(mome::ConfigVisitor& v) {
    v.Field("theta", theta, "rotary base frequency");
    v.Field("type", type, "default | linear | llama3");
    v.Field("factors", factors, "per-band scaling");
  }
  void Validate() const {
    mome::ConfigRequire(theta > 0, "theta", "must be positive, got ", theta);
    mome::ConfigRequireOneOf(type, {"default", "linear", "llama3"}, "type");
  }
};

struct TestModel {
  int64_t hidden_size = 64;
  int64_t heads = 4;
  bool tie = false;
  std::vector<int64_t> rates = {4, 16};
  std::vector<std::string> names;
  TestRope rope;

  void Visit(mome::ConfigVisitor& v) {
    v.Field("hidden_size", hidden_size, "model width");
    v.Field("heads", heads, "attention heads");
    v.Field("tie", tie, "tie input and output embeddings");
    v.Field("rates", rates, "compression rates");
    v.Field("names", names, "expert names");
    v.Section("rope", rope, "rotary position embedding");
  }
  void Validate() const {
    mome::ConfigRequire(heads > 0, "heads", "must be positive");
    mome::ConfigRequire(hidden_size % heads == 0, "hidden_size", "must be divisible by heads (", heads, ")");
  }
};

struct TestRun {
  std::string name = "demo";
  int64_t seed = 1234;
  double lr = 1e-4;
  TestModel model;

  void Visit(mome::ConfigVisitor& v) {
    v.Field("name", name, "run name");
    v.Field("seed", seed, "random seed");
    v.Field("lr", lr, "learning rate");
    v.Section("model", model, "the model");
  }
  std::string ToString() const { return mome::ConfigToString(*this); }
};

// A struct without Validate: the loader must not need one.
struct TestPlain {
  int64_t n = 1;
  void Visit(mome::ConfigVisitor& v) { v.Field("n", n, "a number"); }
};

void ExpectSame(const TestRun& a, const TestRun& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.lr, b.lr);
  EXPECT_EQ(a.model.hidden_size, b.model.hidden_size);
  EXPECT_EQ(a.model.heads, b.model.heads);
  EXPECT_EQ(a.model.tie, b.model.tie);
  EXPECT_EQ(a.model.rates, b.model.rates);
  EXPECT_EQ(a.model.names, b.model.names);
  EXPECT_EQ(a.model.rope.theta, b.model.rope.theta);
  EXPECT_EQ(a.model.rope.type, b.model.rope.type);
  EXPECT_EQ(a.model.rope.factors, b.model.rope.factors);
}

std::string TempPath(const std::string& name) {
  return (fs::path(::testing::TempDir()) / name).string();
}

std::string WriteTemp(const std::string& name, const std::string& text) {
  const std::string path = TempPath(name);
  std::ofstream(path) << text;
  return path;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The message of the mome::Error that `body` throws; fails the test when it throws nothing or another type.
template <typename Body>
std::string ErrorOf(Body body, mome::ErrorCode expected_code = mome::ErrorCode::kInvalidArgument) {
  try {
    body();
  } catch (const mome::Error& e) {
    EXPECT_EQ(e.code(), expected_code) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "not one line: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no mome::Error thrown";
  return "";
}

// ---------------------------------------------------------------- loading

TEST(ConfigTest, EmptyTextGivesDefaults) {
  ExpectSame(mome::LoadConfigString<TestRun>("", "empty.yaml"), TestRun{});
  ExpectSame(mome::LoadConfigString<TestRun>("# only a comment\n", "c.yaml"), TestRun{});
  ExpectSame(mome::LoadConfigString<TestRun>("model:\n", "c.yaml"), TestRun{});
  EXPECT_EQ(mome::LoadConfigString<TestPlain>("n: 5", "plain").n, 5);
}

TEST(ConfigTest, ReadsNestedSectionsFromFile) {
  const std::string path = WriteTemp("nested.yaml",
                                     "name: run1\n"
                                     "lr: 3.0e-4\n"
                                     "model:\n"
                                     "  hidden_size: 128\n"
                                     "  tie: yes\n"
                                     "  rates: [2, 8]\n"
                                     "  names:\n"
                                     "    - audio\n"
                                     "    - video\n"
                                     "  rope:\n"
                                     "    theta: 500000\n"
                                     "    type: llama3\n"
                                     "    factors: [1, 2.5]\n");
  const TestRun run = mome::LoadConfigFile<TestRun>(path);
  EXPECT_EQ(run.name, "run1");
  EXPECT_EQ(run.seed, 1234);  // absent: default kept
  EXPECT_DOUBLE_EQ(run.lr, 3e-4);
  EXPECT_EQ(run.model.hidden_size, 128);
  EXPECT_EQ(run.model.heads, 4);
  EXPECT_TRUE(run.model.tie);
  EXPECT_EQ(run.model.rates, (std::vector<int64_t>{2, 8}));
  EXPECT_EQ(run.model.names, (std::vector<std::string>{"audio", "video"}));
  EXPECT_EQ(run.model.rope.theta, 500000.0);
  EXPECT_EQ(run.model.rope.type, "llama3");
  EXPECT_EQ(run.model.rope.factors, (std::vector<double>{1.0, 2.5}));
}

TEST(ConfigTest, MissingFileNamesThePath) {
  const std::string path = TempPath("does_not_exist.yaml");
  const std::string message = ErrorOf([&] { mome::LoadConfigFile<TestRun>(path); }, mome::ErrorCode::kNotFound);
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

TEST(ConfigTest, SyntaxErrorNamesFileAndLine) {
  const std::string path = WriteTemp("broken.yaml", "name: a\nmodel: [1,\n");
  const std::string message = ErrorOf([&] { mome::LoadConfigFile<TestRun>(path); }, mome::ErrorCode::kCorruptFile);
  EXPECT_NE(message.find(path + ":"), std::string::npos) << message;
  EXPECT_NE(message.find("invalid YAML"), std::string::npos) << message;
}

TEST(ConfigTest, UnknownKeyInFileNamesDottedKeyAndFile) {
  const std::string path = WriteTemp("unknown.yaml", "model:\n  hiden_size: 3\n");
  const std::string message = ErrorOf([&] { mome::LoadConfigFile<TestRun>(path); });
  EXPECT_NE(message.find(path + ":2:"), std::string::npos) << message;
  EXPECT_NE(message.find("unknown key 'model.hiden_size'"), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean 'model.hidden_size'"), std::string::npos) << message;

  const std::string deep =
      ErrorOf([] { mome::LoadConfigString<TestRun>("model:\n  rope:\n    scale: 2\n", "x.yaml"); });
  EXPECT_NE(deep.find("'model.rope.scale'"), std::string::npos) << deep;
  const std::string top = ErrorOf([] { mome::LoadConfigString<TestRun>("sed: 1\n", "x.yaml"); });
  EXPECT_NE(top.find("unknown key 'sed'"), std::string::npos) << top;
  EXPECT_NE(top.find("'seed'"), std::string::npos) << top;
}

TEST(ConfigTest, DuplicateKeyIsAnError) {
  const std::string message = ErrorOf([] { mome::LoadConfigString<TestRun>("seed: 1\nseed: 2\n", "dup.yaml"); });
  EXPECT_NE(message.find("dup.yaml:2: duplicate key 'seed'"), std::string::npos) << message;
}

TEST(ConfigTest, TypeErrorsNameKeyFileAndValue) {
  struct Case {
    const char* yaml;
    const char* expected;
  };
  const Case cases[] = {
      {"seed: abc", "x.yaml:1: seed: expected an integer, got 'abc'"},
      {"seed: 3.5", "seed: expected an integer, got '3.5'"},
      {"seed: 99999999999999999999", "seed: expected an integer in the int64 range"},
      {"seed: [1]", "seed: expected an integer, got a list"},
      {"seed:", "seed: expected an integer, got nothing (null)"},
      {"lr: fast", "lr: expected a number, got 'fast'"},
      {"lr: 1e999", "lr: expected a number in the double range"},
      {"name: {a: 1}", "name: expected a string, got a map"},
      {"model:\n  tie: maybe", "x.yaml:2: model.tie: expected true or false, got 'maybe'"},
      {"model:\n  rates: [4, x]", "model.rates[1]: expected an integer, got 'x'"},
      {"model:\n  rates: 4", "model.rates: expected a list like [a, b], got '4'"},
      {"model: 3", "model: expected a section (a map of keys), got '3'"},
      {"- 1\n- 2", "expected a map of keys at the top, got a list"},
      {"seed: \"1\\n2\"", "seed: expected an integer, got '1\\n2'"},  // the message stays one line
  };
  for (const Case& c : cases) {
    const std::string message = ErrorOf([&] { mome::LoadConfigString<TestRun>(c.yaml, "x.yaml"); });
    EXPECT_NE(message.find(c.expected), std::string::npos) << "yaml: " << c.yaml << "\nmessage: " << message;
    EXPECT_EQ(message.rfind("x.yaml", 0), 0u) << message;
  }
}

// ---------------------------------------------------------------- --set overrides

TEST(ConfigTest, OverridesApplyOnTopOfFileInOrder) {
  const TestRun run = mome::LoadConfigString<TestRun>(
      "seed: 7\nmodel:\n  hidden_size: 128\n", "base.yaml",
      {"model.rates=[8, 32]", "model.names=[a, 'b c']", "name=other", "model.rope.theta=5e5", "model.tie=true",
       "seed=8", "seed=9", "model.rope.factors=[]", "model.rope={type: linear}"});
  EXPECT_EQ(run.seed, 9);  // the last override wins
  EXPECT_EQ(run.name, "other");
  EXPECT_EQ(run.model.hidden_size, 128);  // from the file, untouched
  EXPECT_EQ(run.model.rates, (std::vector<int64_t>{8, 32}));
  EXPECT_EQ(run.model.names, (std::vector<std::string>{"a", "b c"}));
  EXPECT_EQ(run.model.rope.theta, 5e5);
  EXPECT_EQ(run.model.rope.type, "linear");  // a whole section given as a flow map
  EXPECT_TRUE(run.model.tie);
  EXPECT_TRUE(run.model.rope.factors.empty());

  EXPECT_EQ(mome::LoadConfigOverrides<TestRun>({"name="}).name, "");        // an empty value is the empty string
  EXPECT_EQ(mome::LoadConfigOverrides<TestRun>({"name=a=b"}).name, "a=b");  // only the first '=' splits
}

TEST(ConfigTest, UnknownOverrideKeyIsAnError) {
  const std::string message = ErrorOf([] { mome::LoadConfigString<TestRun>("", "base.yaml", {"model.hiden_size=3"}); });
  EXPECT_NE(message.find("--set model.hiden_size=3"), std::string::npos) << message;
  EXPECT_NE(message.find("unknown key 'model.hiden_size'"), std::string::npos) << message;
  EXPECT_NE(message.find("'model.hidden_size'"), std::string::npos) << message;

  // The right name at the wrong level is suggested with its full path.
  const std::string level = ErrorOf([] { mome::LoadConfigOverrides<TestRun>({"theta=1"}); });
  EXPECT_NE(level.find("did you mean 'model.rope.theta'"), std::string::npos) << level;
}

TEST(ConfigTest, MalformedOverridesAreErrors) {
  EXPECT_NE(ErrorOf([] { mome::LoadConfigOverrides<TestRun>({"seed"}); }).find("expected key.path=value"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { mome::LoadConfigOverrides<TestRun>({"model..heads=2"}); }).find("malformed key path"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { mome::LoadConfigOverrides<TestRun>({"=2"}); }).find("malformed key path"), std::string::npos);
  EXPECT_NE(ErrorOf([] { mome::LoadConfigOverrides<TestRun>({"model.rates=[1,"}); }).find("cannot parse the value"),
            std::string::npos);
  const std::string type = ErrorOf([] { mome::LoadConfigOverrides<TestRun>({"model.heads=two"}); });
  EXPECT_NE(type.find("--set model.heads=two: model.heads: expected an integer, got 'two'"), std::string::npos) << type;
  const std::string section = ErrorOf([] { mome::LoadConfigOverrides<TestRun>({"model=3"}); });
  EXPECT_NE(section.find("model: expected a section"), std::string::npos) << section;
}

// ---------------------------------------------------------------- validation

TEST(ConfigTest, ValidateFailuresNameTheFullKey) {
  const std::string divisible =
      ErrorOf([] { mome::LoadConfigString<TestRun>("model:\n  hidden_size: 65\n", "v.yaml"); });
  EXPECT_NE(divisible.find("v.yaml: model.hidden_size: must be divisible by heads (4)"), std::string::npos)
      << divisible;

  const std::string theta = ErrorOf([] { mome::LoadConfigOverrides<TestRun>({"model.rope.theta=-1"}); });
  EXPECT_NE(theta.find("model.rope.theta: must be positive, got -1"), std::string::npos) << theta;

  const std::string choice = ErrorOf([] { mome::LoadConfigOverrides<TestRun>({"model.rope.type=yarn"}); });
  EXPECT_NE(choice.find("model.rope.type: must be one of default | linear | llama3, got 'yarn'"), std::string::npos)
      << choice;

  TestRun run;
  run.model.heads = 0;
  const std::string direct = ErrorOf([&] { mome::ValidateConfig(run, "built in code"); });
  EXPECT_NE(direct.find("built in code: model.heads: must be positive"), std::string::npos) << direct;
  EXPECT_THROW(run.model.Validate(), mome::ConfigValidationError);
}

// ---------------------------------------------------------------- writing and help

TestRun UnusualRun() {
  TestRun run;
  run.name = "a: \"quoted\" # not a comment\n\ttab ünïcode";
  run.seed = -9223372036854775807LL - 1;
  run.lr = 1.0 / 3.0;
  run.model.hidden_size = 96;
  run.model.heads = 3;
  run.model.tie = true;
  run.model.rates = {};
  run.model.names = {"true", "123", "", "null", "[x]"};
  run.model.rope.theta = 1e-6;
  run.model.rope.type = "llama3";
  run.model.rope.factors = {0.1, 2.0, 1e300, -0.0};
  return run;
}

TEST(ConfigTest, WrittenYamlLoadsBackEqual) {
  const TestRun run = UnusualRun();
  for (const auto format :
       {mome::ConfigFormat::kBlock, mome::ConfigFormat::kBlockWithHelp, mome::ConfigFormat::kOneLine}) {
    const std::string yaml = mome::ConfigToYaml(run, format);
    SCOPED_TRACE(yaml);
    ExpectSame(mome::LoadConfigString<TestRun>(yaml, "written"), run);
  }
  ExpectSame(mome::LoadConfigString<TestRun>(mome::ConfigToYaml(TestRun{}), "defaults"), TestRun{});
}

TEST(ConfigTest, WrittenYamlListsEveryFieldReadably) {
  const std::string yaml = mome::ConfigToYaml(TestRun{});
  EXPECT_NE(yaml.find("name: \"demo\"\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("lr: 0.0001\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  hidden_size: 64\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  rates: [4, 16]\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  names: []\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("    theta: 10000.0\n"), std::string::npos) << yaml;  // a float stays a float

  const std::string with_help = mome::ConfigToYaml(TestRun{}, mome::ConfigFormat::kBlockWithHelp);
  EXPECT_NE(with_help.find("hidden_size: 64  # model width"), std::string::npos) << with_help;

  const std::string line = TestRun{}.ToString();
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  EXPECT_NE(line.find("hidden_size: 64"), std::string::npos) << line;
}

TEST(ConfigTest, HelpListsEveryFieldWithTypeAndDefault) {
  const std::string help = mome::ConfigHelp<TestRun>();
  for (const char* line : {"name (string, default \"demo\"): run name\n", "seed (int, default 1234): random seed\n",
                           "model: the model\n", "model.hidden_size (int, default 64): model width\n",
                           "model.tie (bool, default false): tie input and output embeddings\n",
                           "model.rates (int list, default [4, 16]): compression rates\n",
                           "model.rope.theta (float, default 10000.0): rotary base frequency\n",
                           "model.rope.factors (float list, default []): per-band scaling\n"}) {
    EXPECT_NE(help.find(line), std::string::npos) << "missing: " << line << "in:\n" << help;
  }
}

// ---------------------------------------------------------------- files

TEST(ConfigTest, AtomicWriteReplacesTheFileAndLeavesNoTemp) {
  const fs::path dir = fs::path(::testing::TempDir()) / "mome_atomic_write";
  mome::testing::RemoveTree(dir.string());
  fs::create_directories(dir);
  const std::string path = (dir / "resolved.yaml").string();
  mome::WriteTextFileAtomic(path, "first\n");
  mome::WriteTextFileAtomic(path, "second\n");
  EXPECT_EQ(ReadAll(path), "second\n");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"resolved.yaml"});

  const std::string missing_dir = (dir / "no_such_dir" / "x.yaml").string();
  const std::string message = ErrorOf([&] { mome::WriteTextFileAtomic(missing_dir, "x"); }, mome::ErrorCode::kIo);
  EXPECT_NE(message.find(missing_dir), std::string::npos) << message;
  const std::string under_file = (dir / "resolved.yaml" / "x.yaml").string();  // parent is a file
  EXPECT_THROW(mome::WriteTextFileAtomic(under_file, "x"), mome::Error);
  mome::testing::RemoveTree(dir.string());
}

TEST(ConfigTest, WriteConfigFileLoadsBack) {
  const std::string path = TempPath("mome_resolved_config.yaml");
  const TestRun run = UnusualRun();
  mome::WriteConfigFile(path, run);
  ExpectSame(mome::LoadConfigFile<TestRun>(path), run);
  fs::remove(path);
}

TEST(ConfigTest, ParsesNumbersStrictly) {
  int64_t i = 0;
  EXPECT_TRUE(mome::ParseInt64("-42", &i));
  EXPECT_EQ(i, -42);
  EXPECT_TRUE(mome::ParseInt64("+7", &i));
  EXPECT_EQ(i, 7);
  for (const char* bad : {"", " 1", "1 ", "1.0", "1e3", "0x10", "9223372036854775808", "abc"}) {
    EXPECT_FALSE(mome::ParseInt64(bad, &i)) << bad;
  }
  double d = 0;
  EXPECT_TRUE(mome::ParseDouble("2.5e-3", &d));
  EXPECT_EQ(d, 2.5e-3);
  EXPECT_TRUE(mome::ParseDouble("-.inf", &d));
  EXPECT_TRUE(std::isinf(d) && d < 0);
  EXPECT_TRUE(mome::ParseDouble(".nan", &d));
  EXPECT_TRUE(std::isnan(d));
  for (const char* bad : {"", " 1", "1x", "1e999", "--1"}) EXPECT_FALSE(mome::ParseDouble(bad, &d)) << bad;
  bool b = false;
  EXPECT_TRUE(mome::ParseBool("True", &b) && b);
  EXPECT_TRUE(mome::ParseBool("off", &b) && !b);
  EXPECT_FALSE(mome::ParseBool("1", &b));
}

// ---------------------------------------------------------------- CLI

mome::CliParser MakeCli() {
  mome::CliParser cli("mome_test", "Tests the parser.");
  cli.AddRequired("--model", "PATH", "model folder")
      .AddOption("--steps", "N", "decode steps", "32")
      .AddOption("--lr", "RATE", "learning rate")
      .AddOption("--ids", "LIST", "token ids", "1,2")
      .AddRepeated("--set", "KEY=VALUE", "override a config key")
      .AddFlag("--greedy", "take the most likely token");
  return cli;
}

TEST(CliTest, ParsesBothValueFormsRepeatsAndDefaults) {
  mome::CliParser cli = MakeCli();
  ASSERT_TRUE(
      cli.Parse({"--model", "m/", "--set", "a=1", "--lr=0.5", "--set=b.c=[2,3]", "--greedy", "--ids", "-4, 5,6"}));
  EXPECT_EQ(cli.GetString("--model"), "m/");
  EXPECT_EQ(cli.GetInt("--steps"), 32);  // the default
  EXPECT_DOUBLE_EQ(cli.GetDouble("--lr"), 0.5);
  EXPECT_EQ(cli.GetList("--ids"), (std::vector<int64_t>{-4, 5, 6}));
  EXPECT_EQ(cli.GetAll("--set"), (std::vector<std::string>{"a=1", "b.c=[2,3]"}));
  EXPECT_TRUE(cli.GetFlag("--greedy"));
  EXPECT_TRUE(cli.Has("--steps"));
  EXPECT_TRUE(cli.Positionals().empty());

  ASSERT_TRUE(cli.Parse({"--model=x"}));  // a second Parse starts afresh
  EXPECT_FALSE(cli.GetFlag("--greedy"));
  EXPECT_FALSE(cli.Has("--lr"));
  EXPECT_FALSE(cli.Has("--set"));
  EXPECT_TRUE(cli.GetAll("--set").empty());
  EXPECT_EQ(cli.GetList("--ids"), (std::vector<int64_t>{1, 2}));
}

TEST(CliTest, ParsesArgvAndPositionals) {
  mome::CliParser cli = MakeCli();
  cli.AllowPositionals("FILE...", "inputs");
  const char* argv[] = {"mome_test", "a.wav", "--model", "m", "-", "-3", "--", "--greedy", "b.wav"};
  ASSERT_TRUE(cli.Parse(static_cast<int>(std::size(argv)), argv));
  EXPECT_EQ(cli.Positionals(), (std::vector<std::string>{"a.wav", "-", "-3", "--greedy", "b.wav"}));
  EXPECT_FALSE(cli.GetFlag("--greedy"));  // after --, it is a file name
}

TEST(CliTest, UserMistakesAreOneLineErrorsNamingTheOption) {
  struct Case {
    std::vector<std::string> args;
    const char* expected;
  };
  const Case cases[] = {
      {{"--model", "m", "--modle", "x"}, "unknown option --modle"},
      {{"--model"}, "option --model needs a value (--model PATH)"},
      {{"--model", "--greedy"}, "option --model needs a value"},
      {{"--steps", "3"}, "missing required option --model PATH"},
      {{"--model", "m", "stray"}, "unexpected argument 'stray'"},
      {{"--model", "m", "--greedy=yes"}, "option --greedy takes no value"},
      {{"--model", "m", "--model", "n"}, "option --model is given more than once"},
      {{"--model", "m", "-x"}, "unknown option -x"},
  };
  for (const Case& c : cases) {
    mome::CliParser cli = MakeCli();
    const std::string message = ErrorOf([&] { cli.Parse(c.args); });
    EXPECT_NE(message.find(c.expected), std::string::npos) << message;
  }
}

TEST(CliTest, TypedGettersNameTheOptionAndBadValue) {
  mome::CliParser cli = MakeCli();
  ASSERT_TRUE(cli.Parse({"--model", "m", "--steps", "3.5", "--lr", "fast", "--ids", "1,x,3"}));
  EXPECT_NE(ErrorOf([&] { cli.GetInt("--steps"); }).find("option --steps: expected an integer, got '3.5'"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { cli.GetDouble("--lr"); }).find("option --lr: expected a finite number, got 'fast'"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { cli.GetList("--ids"); }).find("option --ids: element 2 of '1,x,3' is not an integer: 'x'"),
            std::string::npos);
  ASSERT_TRUE(cli.Parse({"--model", "m", "--ids", "1,2,"}));
  EXPECT_NE(ErrorOf([&] { cli.GetList("--ids"); }).find("element 3"), std::string::npos);
  ASSERT_TRUE(cli.Parse({"--model", "m", "--ids="}));
  EXPECT_TRUE(cli.GetList("--ids").empty());
  EXPECT_NE(ErrorOf([&] { cli.GetString("--lr"); }).find("missing option --lr RATE"), std::string::npos);
}

TEST(CliTest, ProgrammingMistakesAreInternalErrors) {
  mome::CliParser cli = MakeCli();
  ASSERT_TRUE(cli.Parse({"--model", "m"}));
  EXPECT_NE(ErrorOf([&] { cli.GetString("--nope"); }, mome::ErrorCode::kInternal).find("--nope was never declared"),
            std::string::npos);
  ErrorOf([&] { cli.GetFlag("--model"); }, mome::ErrorCode::kInternal);
  ErrorOf([&] { cli.GetString("--set"); }, mome::ErrorCode::kInternal);
  ErrorOf([&] { cli.AddFlag("--model", "again"); }, mome::ErrorCode::kInternal);
  ErrorOf([&] { cli.AddFlag("-m", "short"); }, mome::ErrorCode::kInternal);
  ErrorOf([&] { cli.AddFlag("--help", "reserved"); }, mome::ErrorCode::kInternal);
}

TEST(CliTest, HelpListsEveryOptionAndWinsOverErrors) {
  mome::CliParser cli = MakeCli();
  cli.AllowPositionals("FILE...", "input files");
  cli.AddHelpSection("config keys (for --set)", mome::ConfigHelp<TestPlain>());
  std::ostringstream out;
  EXPECT_FALSE(cli.Parse({"--unknown", "--help"}, out));  // no error: help was asked for
  const std::string help = out.str();
  EXPECT_EQ(help, cli.Usage());
  for (const char* part : {"usage: mome_test [options] FILE...", "Tests the parser.", "--model PATH",
                           "model folder (required)", "--steps N", "(default: 32)", "--lr RATE", "--ids LIST",
                           "--set KEY=VALUE", "(repeatable)", "--greedy", "take the most likely token", "-h, --help",
                           "input files", "config keys (for --set):", "  n (int, default 1): a number"}) {
    EXPECT_NE(help.find(part), std::string::npos) << "missing: " << part << "\nin:\n" << help;
  }
  std::ostringstream short_out;
  EXPECT_FALSE(cli.Parse({"-h"}, short_out));
  EXPECT_EQ(short_out.str(), help);
}

}  // namespace
