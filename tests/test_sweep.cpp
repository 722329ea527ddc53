// Sweeps: grid parsing, the transition of gaussian map networks near the known onset g = 1,
// resuming an interrupted sweep, and the program's CSV/JSON outputs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_path.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/sweep.hpp"

namespace fs = std::filesystem;

namespace rnnlyap {
namespace {

SweepSpec map_sweep() {
  SweepSpec s;
  s.base.model = Model::map;
  s.base.backend = BackendKind::cpu;
  s.base.t_warmup = 300;
  s.base.t_ons_warmup = 50;
  s.base.t_sim = 300;
  s.base.ensemble = 3;
  s.g = parse_grid("0.8:1.3:0.1", "--g");
  s.n = {200};
  return s;
}

TEST(Sweep, ParsesGrids) {
  EXPECT_EQ(parse_grid("0.5:1:0.25", "--g"), (std::vector<double>{0.5, 0.75, 1.0}));
  EXPECT_EQ(parse_grid("0.5:3:0.1", "--g").size(), 26u)
      << "the end point is included despite rounding";
  EXPECT_EQ(parse_grid("1,1.5,2", "--alpha"), (std::vector<double>{1, 1.5, 2}));
  EXPECT_THROW(parse_grid("1:0:0.1", "--g"), InvalidInput);
  EXPECT_THROW(parse_grid("0:1:0", "--g"), InvalidInput);
  EXPECT_THROW(parse_grid("1,x", "--g"), InvalidInput);
  EXPECT_THROW(parse_grid("", "--g"), InvalidInput);
}

// The onset of chaos in gaussian map networks is g = 1 as N → ∞; below it λ_max = log of the
// spectral radius < 0. At finite N the crossing of λ_max lies above 1 (marginal, quasi-periodic
// dynamics just above onset): with 3 networks we measured 1.37 ± 0.09 at N = 200 and 1.14 ± 0.02
// at N = 400. At N = 400 we require 1 - 0.05 - 3σ ≤ g_cross ≤ 1 + 0.25 + 3σ.
TEST(Sweep, GaussianMapTransitionNearOne) {
  SweepSpec spec = map_sweep();
  spec.g = parse_grid("0.9:1.5:0.1", "--g");
  spec.n = {400};
  spec.base.k = 5;  // λ_max needs only the leading exponents
  spec.base.t_sim = 500;
  const SweepResult r = run_sweep(spec, "");
  ASSERT_EQ(r.grid.size(), 7u);
  ASSERT_EQ(r.transitions.size(), 1u);
  const Transition& t = r.transitions[0];
  ASSERT_TRUE(t.g_cross.has_value()) << "λ_max must change sign between 0.8 and 1.3";
  EXPECT_GE(*t.g_cross, 1.0 - 0.05 - 3 * *t.g_cross_stderr);
  EXPECT_LE(*t.g_cross, 1.0 + 0.25 + 3 * *t.g_cross_stderr);
  EXPECT_DOUBLE_EQ(*t.g_star_predicted, 1.0);
  // Below onset λ_max = log(spectral radius) < 0; well above it the network is chaotic.
  EXPECT_LT(r.grid[0].max_exponent, 0.0);
  EXPECT_GT(r.grid.back().max_exponent, 3 * r.grid.back().max_exponent_stderr);
}

TEST(Sweep, ResumesWhereItStopped) {
  SweepSpec s = map_sweep();
  s.n = {40};
  s.base.t_sim = 100;
  const SweepResult whole = run_sweep(s, "");
  const fs::path partial =
      fs::temp_directory_path() / ("rnnlyap_sweep_" + std::to_string(::getpid()) + ".jsonl");
  fs::remove(partial);
  int polls = 0;
  EXPECT_THROW(run_sweep(s, partial.string(), {}, [&] { return ++polls == 4; }), Interrupted);
  int first_point = -1;
  const SweepResult resumed =
      run_sweep(s, partial.string(), [&](int done, int, const std::string&) {
        if (first_point < 0) first_point = done;
      });
  EXPECT_EQ(first_point, 3) << "three points were finished before the stop";
  ASSERT_EQ(resumed.grid.size(), whole.grid.size());
  for (std::size_t i = 0; i < whole.grid.size(); ++i) {
    EXPECT_EQ(resumed.grid[i].g, whole.grid[i].g);
    EXPECT_NEAR(resumed.grid[i].max_exponent, whole.grid[i].max_exponent, 1e-12);
  }
  // The same file with another spec is refused.
  s.g.push_back(2.0);
  EXPECT_THROW(run_sweep(s, partial.string()), InvalidInput);
  fs::remove(partial);
}

TEST(SweepCli, WritesCsvAndJson) {
  const fs::path dir =
      fs::temp_directory_path() / ("rnnlyap_sweepcli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string cmd =
      test::cli_path() +
      " sweep --quiet --model map --g 0.5,1.5 --n 20,30 --ensemble 2 --t-sim 50 --t-warmup 50 "
      "--t-ons-warmup 10 --out " +
      (dir / "s.json").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream jf(dir / "s.json");
  const auto j = nlohmann::json::parse(jf);
  ASSERT_EQ(j["grid"].size(), 4u);
  for (const char* key : {"g", "alpha", "n", "ensemble", "max_exponent", "max_exponent_stderr",
                          "ky_dimension", "ks_entropy", "fraction_positive", "mean_exponent"})
    EXPECT_TRUE(j["grid"][0].contains(key)) << key;
  ASSERT_EQ(j["transition"].size(), 2u);
  for (const char* key : {"alpha", "n", "g_cross", "g_cross_stderr", "g_star_predicted"})
    EXPECT_TRUE(j["transition"][0].contains(key)) << key;
  EXPECT_TRUE(j.contains("params"));
  std::ifstream cf(dir / "s.csv");
  std::stringstream csv;
  csv << cf.rdbuf();
  const std::string text = csv.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 5);
  EXPECT_FALSE(fs::exists(dir / "s.json.partial.jsonl"))
      << "the partial file is removed at the end";
  // Bad grids exit 2.
  EXPECT_EQ(WEXITSTATUS(std::system((test::cli_path() + " sweep --g 1:0:1 --out " +
                                     (dir / "x.json").string() + " 2>/dev/null")
                                        .c_str())),
            2);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace rnnlyap
