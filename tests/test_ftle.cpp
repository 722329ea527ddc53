// Finite-time exponents (--ftle-window): the estimate of every exponent over windows of length T
// that tile the averaging time.
//   - Their mean over the windows is the exponent itself (the log sums are split, not lost or
//     counted twice), with or without a trace observer taking the logs in between.
//   - Below onset a map sits at h = 0, where its tangent map is J: the sum of all N finite-time
//     exponents of every window is log|det J| per step exactly (volume growth).
//   - In a chaotic map the windows' variance falls like 1/T (central limit): a 4× longer window
//     has about 4× less variance.
//   - Windows that cannot fit in memory (--ftle-window 1 over --t-sim 1e9: 10⁹ windows, over
//     100 GB with their copies) are refused before anything runs, from the library and the program
//     (exit 2, one line naming --ftle-window), not grown into the OOM killer.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>
#include <vector>

#include "backends.hpp"
#include "linalg_truth.hpp"
#include "program_fixture.hpp"
#include "rnnlyap/arrays.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/json.hpp"
#include "rnnlyap/network.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap {
namespace {

class Ftle : public testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override { RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam()); }
};

SpectrumOptions chaotic(BackendKind backend) {
  SpectrumOptions o;
  o.backend = backend;
  o.n = 40;
  o.g = 3;
  o.t_warmup = 50;
  o.t_ons_warmup = 20;
  o.t_sim = 200;
  o.ftle_window = 20;
  return o;
}

TEST_P(Ftle, MeanOverWindowsIsTheExponent) {
  for (bool traced : {false, true}) {
    const SpectrumOptions o = chaotic(GetParam());
    Observers obs;
    if (traced) obs.trace = [](double, std::span<const double>) {};
    const SpectrumResult r = compute_spectrum(o, obs);
    ASSERT_EQ(r.ftle.size(), 10u) << "200 / 20 windows";
    for (std::size_t i = 0; i < r.exponents.size(); ++i) {
      double sum = 0;
      for (const auto& w : r.ftle) sum += w[i];
      EXPECT_NEAR(sum / 10, r.exponents[i], 1e-12 * (1 + std::fabs(r.exponents[i])))
          << "exponent " << i << (traced ? " (traced)" : "");
    }
    // The windows differ (a chaotic network's finite-time exponents fluctuate).
    EXPECT_NE(r.ftle[0][0], r.ftle[1][0]);
  }
}

TEST_P(Ftle, EveryWindowOfAMapAtItsFixedPointHasVolumeGrowthLogDetJ) {
  SpectrumOptions o;
  o.backend = GetParam();
  o.model = Model::map;
  o.n = 16;
  o.g = 0.5;
  o.t_warmup = 400;  // |h| decays like 0.5^t to exactly 0 (tanh(0) = 0)
  o.t_ons_warmup = 10;
  o.t_sim = 100;
  o.ftle_window = 25;
  const Network net = make_network(o);
  double log_det = 0;
  for (const auto& mu : test::eigenvalues(net.j, net.n)) log_det += std::log(std::abs(mu));
  const SpectrumResult r = compute_spectrum(o);
  ASSERT_EQ(r.ftle.size(), 4u);
  for (const auto& w : r.ftle)
    EXPECT_NEAR(std::accumulate(w.begin(), w.end(), 0.0), log_det, 1e-9 * std::fabs(log_det));
}

TEST_P(Ftle, VarianceFallsLikeOneOverTheWindow) {
  // A chaotic map (g = 3): λ_1's finite-time estimates decorrelate within tens of steps. (A rate
  // network of N = 40 near a periodic orbit would not do: its fluctuations are bounded, and the
  // variance falls like 1/T².) Measured ratios: 3.3 for 25 → 100 steps, 3.5 for 100 → 400.
  SpectrumOptions o;
  o.backend = GetParam();
  o.model = Model::map;
  o.n = 40;
  o.g = 3;
  o.k = 1;
  o.t_warmup = 100;
  o.t_ons_warmup = 50;
  o.t_sim = 20000;
  auto variance = [&](double window) {
    o.ftle_window = window;
    const SpectrumResult r = compute_spectrum(o);
    double m = 0, v = 0;
    for (const auto& w : r.ftle) m += w[0];
    m /= static_cast<double>(r.ftle.size());
    for (const auto& w : r.ftle) v += (w[0] - m) * (w[0] - m);
    return v / static_cast<double>(r.ftle.size() - 1);
  };
  const double ratio = variance(100) / variance(400);
  // 4 by the central limit; the estimate from 50 windows of 400 has ~20 % relative error.
  EXPECT_GT(ratio, 2.0);
  EXPECT_LT(ratio, 8.0);
}

TEST_P(Ftle, EnsembleMembersHaveTheirOwnWindows) {
  SpectrumOptions o = chaotic(GetParam());
  o.n = 12;
  o.ensemble = 3;
  const EnsembleResult e = compute_ensemble(o);
  ASSERT_EQ(e.members.size(), 3u);
  for (const SpectrumResult& m : e.members) {
    ASSERT_EQ(m.ftle.size(), 10u);
    double sum = 0;
    for (const auto& w : m.ftle) sum += w[0];
    EXPECT_NEAR(sum / 10, m.exponents[0], 1e-12);
  }
  const auto j = nlohmann::json::parse(to_json(e));
  EXPECT_EQ(j["ftle"]["windows"], 30) << "the top level pools the members' windows";
  EXPECT_EQ(j["members"][1]["ftle"]["windows"], 10);
}

RNNLYAP_INSTANTIATE_FOR_BACKENDS(Ftle);

TEST(FtleOptions, WindowsMustTileTheSchedule) {
  SpectrumOptions o = chaotic(BackendKind::cpu);
  o.t_ons = 2;
  o.ftle_window = 15;
  EXPECT_THROW(compute_spectrum(o), InvalidInput) << "not a whole number of t_ons";
  o.ftle_window = 400;
  EXPECT_THROW(compute_spectrum(o), InvalidInput) << "longer than t_sim";
  o.ftle_window = 30;
  EXPECT_THROW(compute_spectrum(o), InvalidInput) << "30 does not divide t_sim = 200";
  o.ftle_window = -1;
  EXPECT_THROW(compute_spectrum(o), InvalidInput);
  o.ftle_window = 20;
  RunControl c;
  c.checkpoint_path = "/tmp/never-written.ckpt";
  EXPECT_THROW(compute_spectrum(o, {}, c), InvalidInput) << "not kept in checkpoints";
}

// The JSON's quantiles are ordered and bracket the median; the .npz holds every window.
TEST(FtleOptions, JsonQuantilesAndNpzWindows) {
  const SpectrumResult r = compute_spectrum(chaotic(BackendKind::cpu));
  const auto j = nlohmann::json::parse(to_json(r));
  ASSERT_TRUE(j.contains("ftle"));
  EXPECT_EQ(j["ftle"]["window"], 20.0);
  EXPECT_EQ(j["ftle"]["windows"], 10);
  EXPECT_EQ(j["params"]["ftle_window"], 20.0);
  for (const auto& q : j["ftle"]["quantiles"])
    for (std::size_t a = 1; a < q.size(); ++a) EXPECT_LE(q[a - 1], q[a]);
  // The median of λ_1's ten windows: the mean of the 5th and 6th smallest.
  std::vector<double> v;
  for (const auto& w : r.ftle) v.push_back(w[0]);
  std::sort(v.begin(), v.end());
  EXPECT_NEAR(j["ftle"]["quantiles"][0][2].get<double>(), (v[4] + v[5]) / 2, 1e-15);
  EXPECT_FALSE(nlohmann::json::parse(to_json(compute_spectrum([] {
                 SpectrumOptions o = chaotic(BackendKind::cpu);
                 o.ftle_window = 0;
                 return o;
               }())))
                   .contains("ftle"));
  // One window: no spread to estimate, so the standard deviation is null (NaN), not 0.
  SpectrumOptions one = chaotic(BackendKind::cpu);
  one.ftle_window = one.t_sim;
  const auto single = nlohmann::json::parse(to_json(compute_spectrum(one)));
  ASSERT_EQ(single["ftle"]["windows"], 1);
  for (const auto& s : single["ftle"]["std"]) EXPECT_TRUE(s.is_null()) << s;
  for (const auto& s : j["ftle"]["std"]) EXPECT_GT(s.get<double>(), 0.0);
}

// 10⁹ windows of one exponent: at least 8 GB of rates alone, twice that with the results' copies
// and ~56 bytes per row of vector overhead (memory_limit.cpp counts ~120 GB), beyond this
// machine's available memory (checked). The run must stop before its warm-up: a stop request
// answered at the first poll would turn a missing check into Interrupted, not a hang.
SpectrumOptions endless_windows() {
  SpectrumOptions o;
  o.backend = BackendKind::cpu;
  o.n = 10;
  o.k = 1;
  o.t_warmup = 100;
  o.t_ons_warmup = 0;
  o.t_sim = 1e9;
  o.ftle_window = 1;
  return o;
}

TEST(FtleMemory, WindowsBeyondMemoryAreRefusedBeforeTheRun) {
  const double have = static_cast<double>(host_memory_bytes());
  if (have == 0) GTEST_SKIP() << "this machine's memory is unknown";
  ASSERT_LT(have, 100e9) << "the test assumes 10^9 windows exceed this machine's memory";
  RunControl c;
  bool polled = false;
  c.stop_requested = [&polled] { return polled = true; };
  try {
    compute_spectrum(endless_windows(), {}, c);
    ADD_FAILURE() << "not refused";
  } catch (const InvalidInput& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("--ftle-window"), std::string::npos) << what;
    EXPECT_NE(what.find("MiB"), std::string::npos) << what;
    EXPECT_NE(what.find("this process may use"), std::string::npos) << what;
  } catch (const Interrupted&) {
    ADD_FAILURE() << "the run started before the memory check";
  }
  EXPECT_FALSE(polled) << "refused only after the run began";
}

// An ensemble keeps every member's windows until its statistics: members that each fit (an eighth
// of the memory) but not all together (16 of them) are refused before the first one runs, on the
// CPU's threads or one after another alike.
TEST(FtleMemory, EnsembleMembersAreCountedTogether) {
  const double have = static_cast<double>(host_memory_bytes());
  if (have == 0) GTEST_SKIP() << "this machine's memory is unknown";
  SpectrumOptions o = endless_windows();
  o.t_sim = std::ceil(have / 8 / 120);  // ≥ 120 bytes per window of one exponent
  o.ensemble = 16;
  for (int threads : {1, 2}) {
    o.threads = threads;
    RunControl c;
    std::atomic<bool> polled{false};
    c.stop_requested = [&polled] { return polled = true; };
    try {
      compute_ensemble(o, {}, c);
      ADD_FAILURE() << "not refused";
    } catch (const InvalidInput& e) {
      EXPECT_NE(std::string(e.what()).find("--ftle-window"), std::string::npos) << e.what();
    } catch (const Interrupted&) {
      ADD_FAILURE() << "a member started before the memory check";
    }
    EXPECT_FALSE(polled) << "refused only after a member began";
  }
}

TEST(FtleMemory, ProgramExitsTwoNamingTheWindowAtOnce) {
  if (host_memory_bytes() == 0) GTEST_SKIP() << "this machine's memory is unknown";
  const test::TempDir temp;
  const std::filesystem::path& dir = temp.path();
  // `timeout`: without the check the program would run (and grow) for hours.
  const auto t0 = std::chrono::steady_clock::now();
  const test::CliRun r = test::run_cli(
      "spectrum --quiet --backend cpu --n 10 --k 1 --ftle-window 1 --t-sim 1e9 --out " +
          (dir / "r.json").string(),
      test::RunOptions().timeout(30));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string& err = r.err;
  EXPECT_EQ(r.status, 2) << "\nstderr: " << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find("--ftle-window"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(dir / "r.json"));
  EXPECT_LT(seconds, 20) << "refused only after a while";
}

}  // namespace
}  // namespace rnnlyap
