// The table of options (rnnlyap/option_table.hpp) against README.md's table of "Using rnnlyap":
// every option appears in a row, every flag a row's first cell names is an option, and a choice
// written there lists the table's values.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "rnnlyap/errors.hpp"
#include "rnnlyap/option_table.hpp"

namespace rnnlyap {
namespace {

// The rows of README.md's option table: the lines "| `--flag ...` | meaning |".
std::vector<std::string> readme_option_rows() {
  std::ifstream in(std::string(RNNLYAP_SOURCE_DIR) + "/README.md");
  std::vector<std::string> rows;
  for (std::string line; std::getline(in, line);)
    if (line.rfind("| `--", 0) == 0) rows.push_back(line);
  return rows;
}

const OptionInfo* find_option(const std::string& flag) {
  for (const OptionInfo& o : option_table())
    if (o.cli == flag) return &o;
  return nullptr;
}

TEST(OptionTable, IsInOptionIdOrder) {
  int i = 0;
  for (const OptionInfo& o : option_table()) EXPECT_EQ(static_cast<int>(o.id), i++) << o.cli;
}

TEST(OptionTable, AgreesWithTheReadme) {
  const std::vector<std::string> rows = readme_option_rows();
  ASSERT_FALSE(rows.empty());
  const std::regex flag(R"(--[a-z][a-z0-9-]*)");
  // `--flag a\|b\|c`: a choice and its values.
  const std::regex choice(R"(`(--[a-z][a-z0-9-]*) ([a-z0-9]+(\\\|[a-z0-9]+)+)`)");
  std::set<std::string> in_readme;
  for (const std::string& row : rows) {
    const std::string first = row.substr(0, row.find(" | "));
    for (auto it = std::sregex_iterator(row.begin(), row.end(), flag); it != std::sregex_iterator();
         ++it)
      in_readme.insert(it->str());
    for (auto it = std::sregex_iterator(first.begin(), first.end(), flag);
         it != std::sregex_iterator(); ++it)
      EXPECT_NE(find_option(it->str()), nullptr) << "README names " << it->str() << ", no option";
    for (auto it = std::sregex_iterator(first.begin(), first.end(), choice);
         it != std::sregex_iterator(); ++it) {
      const OptionInfo* o = find_option((*it)[1].str());
      if (o == nullptr) continue;
      std::string values;
      for (std::string_view v : o->values) values += (values.empty() ? "" : "\\|") + std::string(v);
      EXPECT_EQ((*it)[2].str(), values) << "README's values of " << o->cli;
    }
  }
  for (const OptionInfo& o : option_table())
    EXPECT_EQ(in_readme.count(std::string(o.cli)), 1u) << o.cli << " is missing from README.md";
}

TEST(OptionTable, SpellsEnumsAndOptions) {
  EXPECT_EQ(to_string(QrMethod::auto_select), "auto");
  EXPECT_EQ(parse_choice<BackendKind>("cuda"), BackendKind::cuda);
  EXPECT_EQ(option_name(OptionId::t_sim, Spelling::python), "t_sim");
  EXPECT_EQ(option_name(OptionId::weights_file, Spelling::python), "J");
  EXPECT_EQ(option_name(OptionId::out, Spelling::python), "--out");  // the command line's alone
  try {
    parse_choice<QrMethod>("nope");
    FAIL();
  } catch (const InvalidInput& e) {
    EXPECT_STREQ(e.what(), "--qr must be one of auto|cholesky2|householder, got 'nope'");
  }
}

TEST(OptionTable, RefusesOptionsThatDoNotApply) {
  SpectrumOptions o;
  o.model = Model::map;
  const OptionId given[] = {OptionId::dt};
  try {
    refuse_options_that_do_not_apply(o, given, Spelling::python);
    FAIL();
  } catch (const InvalidInput& e) {
    EXPECT_STREQ(e.what(),
                 "dt does not apply to model map (it is for the rate model (map and trained-model "
                 "times are in steps))");
  }
  o.model = Model::rate;
  EXPECT_NO_THROW(refuse_options_that_do_not_apply(o, given));
}

// A message about an option carries its identity: what() names it as the command line does, each
// front end its own way.
TEST(OptionTable, MessagesNameTheirOption) {
  SpectrumOptions o;
  o.t_ons = 0.25;
  try {
    validate(o);
    FAIL();
  } catch (const InvalidInput& e) {
    EXPECT_STREQ(e.what(), "--t-ons 0.25 is not a whole number of steps of 0.1");
    EXPECT_EQ(e.message(Spelling::python), "t_ons=0.25 is not a whole number of steps of 0.1");
    EXPECT_EQ(e.option(), OptionId::t_ons);
  }
  o = SpectrumOptions();
  o.weights_file = "w.npy";
  try {
    validate(o);
    FAIL();
  } catch (const InvalidInput& e) {
    EXPECT_EQ(e.message(Spelling::python),
              "J is given but --weights is gaussian (use --weights file)");
  }
  const InvalidInput plain("no option");
  EXPECT_FALSE(plain.option().has_value());
  EXPECT_EQ(plain.message(Spelling::python), "no option");
}

}  // namespace
}  // namespace rnnlyap
