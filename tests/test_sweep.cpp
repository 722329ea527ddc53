// Sweeps: grid parsing, the transition of gaussian map networks near the known onset g = 1,
// resuming an interrupted sweep, and the program's CSV/JSON outputs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "program_fixture.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/spectrum.hpp"
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
  EXPECT_EQ(parse_grid("0.7:1:0.1", "--g"), (std::vector<double>{0.7, 0.8, 0.9, 1.0}))
      << "0.7 + 0.1 is 0.8, not 0.7999999999999999";
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
  // The significant onset is never before the first crossing's grid interval.
  ASSERT_TRUE(t.g_significant.has_value());
  EXPECT_GE(*t.g_significant, *t.g_cross - 0.1);
  // Below onset λ_max = log(spectral radius) < 0; well above it the network is chaotic.
  EXPECT_LT(r.grid[0].max_exponent, 0.0);
  EXPECT_GT(r.grid.back().max_exponent, 3 * r.grid.back().max_exponent_stderr);
}

// The significant onset on grids whose λ_max and standard errors are given: a plateau at 0 (cycles,
// tori) before the onset, a point that is positive by chance inside it, and one that is not
// significant after a significant one.
TEST(Sweep, SignificantOnsetIgnoresNoiseOnThePlateau) {
  auto point = [](double g, double lambda, double se) {
    SweepPoint p;
    p.g = g;
    p.n = 200;
    p.max_exponent = lambda;
    p.max_exponent_stderr = se;
    return p;
  };
  SpectrumOptions base;
  base.input_std = 0;
  // The first zero crossing (1.0 → 1.1) is noise: λ_max = 0.0001 ± 0.0002 there.
  std::vector<SweepPoint> grid = {point(0.8, -0.10, 0.01),     point(0.9, -0.03, 0.005),
                                  point(1.0, -0.0001, 0.0002), point(1.1, 0.0001, 0.0002),
                                  point(1.2, 0.0009, 0.0002),  point(1.3, 0.0004, 0.0002),
                                  point(1.4, 0.02, 0.003),     point(1.5, 0.05, 0.004)};
  std::vector<Transition> t = find_transitions(grid, base);
  ASSERT_EQ(t.size(), 1u);
  ASSERT_TRUE(t[0].g_cross && t[0].g_significant && t[0].g_significant_after);
  EXPECT_NEAR(*t[0].g_cross, 1.05, 1e-12) << "the first upward crossing, by interpolation";
  EXPECT_EQ(*t[0].g_significant, 1.4) << "1.2 is > 3 s.e. but 1.3 is not: it does not stay";
  EXPECT_EQ(*t[0].g_significant_after, 1.3);
  ASSERT_TRUE(t[0].neutral_window);
  EXPECT_EQ(t[0].neutral_window->first, 1.0);
  EXPECT_EQ(t[0].neutral_window->second, 1.3);
  // Never significantly positive at the end of the grid: no onset, no window.
  grid.back() = point(1.5, 0.001, 0.001);
  t = find_transitions(grid, base);
  EXPECT_FALSE(t[0].g_significant);
  EXPECT_FALSE(t[0].neutral_window);
  // Positive from the first grid point: an onset without a point before it.
  grid = {point(2.0, 0.1, 0.01), point(2.5, 0.2, 0.01)};
  t = find_transitions(grid, base);
  EXPECT_EQ(*t[0].g_significant, 2.0);
  EXPECT_FALSE(t[0].g_significant_after);
  EXPECT_FALSE(t[0].neutral_window);
}

TEST(Sweep, ResumesWhereItStopped) {
  SweepSpec s = map_sweep();
  s.n = {40};
  s.base.t_sim = 100;
  const SweepResult whole = run_sweep(s, "");
  const test::TempDir temp;
  const fs::path partial = temp / "s.jsonl";
  // A stop requested while the fourth point runs (its members poll it too): three are kept.
  bool stop = false;
  EXPECT_THROW(
      run_sweep(
          s, partial.string(), [&](int done, int, const std::string&) { stop = done == 3; },
          [&] { return stop; }),
      Interrupted);
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
  EXPECT_EQ(resumed.resumed_points, 3);
  EXPECT_TRUE(resumed.warnings.empty());
  // The same file with options that change the numbers is refused; where it runs may change.
  SweepSpec other = s;
  other.base.t_sim = 200;
  EXPECT_THROW(run_sweep(other, partial.string()), InvalidInput);
  other = s;
  other.base.threads = 1;
  EXPECT_NO_THROW(run_sweep(other, partial.string()));
  fs::remove(partial);
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream f(p);
  std::vector<std::string> v;
  for (std::string line; std::getline(f, line);) v.push_back(line);
  return v;
}
void write_lines(const fs::path& p, const std::vector<std::string>& lines) {
  std::ofstream f(p, std::ios::trunc);
  for (const auto& l : lines) f << l << "\n";
}

// Kept points are found by their parameters: reordered, repeated, edited, cut short and foreign
// lines cannot shift the grid; the result is the uninterrupted sweep's, point for point.
TEST(Sweep, PartialPointsAreMatchedByParameters) {
  SweepSpec s = map_sweep();
  s.n = {30};
  s.base.ensemble = 2;
  s.base.t_sim = 60;
  s.base.threads = 1;
  const SweepResult whole = run_sweep(s, "");
  ASSERT_EQ(whole.grid.size(), 6u);
  const test::TempDir temp;
  const fs::path partial = temp / "s.jsonl";
  // A sweep over g = 0.7 … 1.2 finishes its first four points: 0.7 is not on s's grid.
  SweepSpec wider = s;
  wider.g = parse_grid("0.7:1.2:0.1", "--g");
  bool stop = false;
  EXPECT_THROW(
      run_sweep(
          wider, partial.string(), [&](int done, int, const std::string&) { stop = done == 4; },
          [&] { return stop; }),
      Interrupted);
  std::vector<std::string> lines = lines_of(partial);
  ASSERT_EQ(lines.size(), 9u) << "the head and two members of four points (g = 0.7 … 1.0)";
  // Lines 1 … 8: (0.7, member 0), (0.7, 1), (0.8, 0), (0.8, 1), (0.9, 0), (0.9, 1), (1.0, 0),
  // (1.0, 1). Reverse them, repeat (0.8, 0) (whose copy comes first now), edit the λ_max of
  // (0.9, 0), and cut a copy of (1.0, 0) short as a killed writer would.
  std::vector<std::string> edited = {lines[0]};
  for (int l = 8; l >= 1; --l) edited.push_back(lines[l]);
  edited.push_back(lines[3]);
  const std::string key = "\"max_exponent\":";
  std::string& nine = edited[9 - 5];  // lines[5] = (0.9, member 0)
  const auto at = nine.find(key);
  ASSERT_NE(at, std::string::npos);
  nine.insert(at + key.size(), "1");  // λ_max 1-prefixed: its check must fail
  edited.push_back(lines[7].substr(0, lines[7].size() / 2));
  write_lines(partial, edited);
  std::vector<int> computed;
  const SweepResult r = run_sweep(s, partial.string(), [&](int done, int, const std::string& l) {
    if (l != "done") computed.push_back(done);
  });
  // s's grid is 0.8 … 1.3. Kept: 0.8 and 1.0 whole, (0.9, member 1) (0.7 is foreign, (0.9, 0) was
  // edited); computed: 0.9's member 0, 1.1, 1.2, 1.3.
  EXPECT_EQ(r.resumed_points, 2);
  EXPECT_EQ(computed, (std::vector<int>{2, 3, 4, 5}));
  ASSERT_EQ(r.warnings.size(), 3u) << "a failed check (two lines), a duplicate, a foreign point";
  EXPECT_NE(r.warnings[0].find("2 lines whose check failed"), std::string::npos) << r.warnings[0];
  EXPECT_NE(r.warnings[1].find("1 line repeating"), std::string::npos) << r.warnings[1];
  EXPECT_NE(r.warnings[2].find("2 lines for grid points not in this run kept"), std::string::npos)
      << r.warnings[2];
  ASSERT_EQ(r.grid.size(), whole.grid.size());
  for (std::size_t i = 0; i < whole.grid.size(); ++i) {
    EXPECT_EQ(r.grid[i].g, whole.grid[i].g) << "the grid's order, whatever the file's";
    EXPECT_NEAR(r.grid[i].max_exponent, whole.grid[i].max_exponent, 1e-12) << i;
    ASSERT_EQ(r.grid[i].members.size(), 2u);
    for (int m = 0; m < 2; ++m)
      for (int e = 0; e < 30; ++e)
        EXPECT_NEAR(r.grid[i].members[m][e], whole.grid[i].members[m][e], 1e-12);
  }
  // The file was rewritten without the ignored lines: the head, six points' two members, and
  // g = 0.7's two (this run's units off this grid: kept for a wider grid, never used here).
  lines = lines_of(partial);
  EXPECT_EQ(lines.size(), 15u);
  // An edited head (options changed by hand) is refused, not taken for these options' file.
  const auto t_sim = lines[0].find("\"t_sim\":60");
  ASSERT_NE(t_sim, std::string::npos) << lines[0];
  lines[0].replace(t_sim, 10, "\"t_sim\":50");  // 60.0 -> 50.0: the options of edited_spec
  write_lines(partial, lines);
  SweepSpec edited_spec = s;
  edited_spec.base.t_sim = 50;
  EXPECT_THROW(run_sweep(edited_spec, partial.string()), InvalidInput);
  fs::remove(partial);
}

// Each grid point keeps its members' spectra (seeds seed, seed + 1, …) and how many exponents.
TEST(Sweep, PointsKeepEveryMembersSpectrum) {
  SweepSpec s = map_sweep();
  s.g = {1.5};
  s.n = {12, 16};
  s.base.k = 5;
  s.base.t_sim = 50;
  const SweepResult r = run_sweep(s, "");
  ASSERT_EQ(r.grid.size(), 2u);
  for (const auto& p : r.grid) {
    EXPECT_EQ(p.k, 5);
    ASSERT_EQ(p.members.size(), 3u);
    SpectrumOptions o = s.base;
    o.g = 1.5;
    o.n = p.n;
    o.ensemble = 1;
    o.seed = s.base.seed + 2;
    const SpectrumResult third = compute_spectrum(o);
    ASSERT_EQ(p.members[2].size(), 5u);
    for (int e = 0; e < 5; ++e) EXPECT_NEAR(p.members[2][e], third.exponents[e], 1e-12);
  }
  const auto j = nlohmann::json::parse(sweep_json(r));
  EXPECT_EQ(j["params"]["k"], 5);
  EXPECT_EQ(j["grid"][1]["members"].size(), 3u);
  EXPECT_EQ(j["grid"][1]["members"][0].size(), 5u);
  s.base.k.reset();
  const auto full = nlohmann::json::parse(sweep_json(run_sweep(s, "")));
  EXPECT_TRUE(full["params"]["k"].is_null()) << "each point computed its own N exponents";
  EXPECT_EQ(full["grid"][0]["k"], 12);
  EXPECT_EQ(full["grid"][1]["k"], 16);
  s.g = {1.0, 1.5, 1.0};
  EXPECT_THROW(run_sweep(s, ""), InvalidInput) << "a value given twice";
}

TEST(SweepCli, WritesCsvAndJson) {
  const test::TempDir temp;
  const std::filesystem::path& dir = temp.path();
  const test::CliRun r = test::run_cli(
      "sweep --quiet --model map --g 0.5,1.5 --n 20,30 --ensemble 2 --t-sim 50 --t-warmup 50 "
      "--t-ons-warmup 10 --out " +
      (dir / "s.json").string());
  ASSERT_EQ(r.status, 0) << r.err;
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
  EXPECT_EQ(j["grid"][0]["members"].size(), 2u);
  EXPECT_EQ(j["grid"][0]["members"][0].size(), 20u);
  EXPECT_TRUE(j["params"]["k"].is_null());
  // Bad grids exit 2.
  EXPECT_EQ(test::run_cli("sweep --g 1:0:1 --out " + (dir / "x.json").string()).status, 2);
}

// A sweep refused (exit 2) has computed nothing and leaves no file behind, even when only its last
// point is at fault (a tail index out of range, a size that cannot fit in memory); a stale partial
// file of other options is refused and left as it was.
TEST(SweepCli, RefusedSweepLeavesNoPartialFile) {
  const test::TempDir temp;
  const std::filesystem::path& dir = temp.path();
  const std::string out = (dir / "s.json").string();
  const std::string base =
      "sweep --quiet --model map --t-sim 20 --t-warmup 10 --t-ons-warmup 5 --out " + out;
  auto status = [](const std::string& args) { return test::run_cli(args).status; };
  EXPECT_EQ(status(base + " --g 1 --n 10 --alpha 1.5,2.5"), 2);
  EXPECT_EQ(status(base + " --g 1 --n 10,3000000"), 2) << "N = 3e6 needs 72 TB";
  EXPECT_EQ(status(base + " --g 1,2,1 --n 10"), 2);
  EXPECT_TRUE(fs::is_empty(dir)) << "no output and no partial file";
  // A partial file of another sweep is not this one's: refused, and left untouched.
  const std::string stale = "{\"format\":\"rnnlyap sweep partial 2\",\"base\":{}}\n";
  std::ofstream(out + ".partial.jsonl") << stale;
  EXPECT_EQ(status(base + " --g 1 --n 10"), 2);
  EXPECT_EQ(test::slurp(out + ".partial.jsonl"), stale);
}

}  // namespace
}  // namespace rnnlyap
