// Non-finite runs (issue 10, class 2; README, "Errors"): a run whose state or tangent basis
// overflows — a huge gain, huge inputs, huge weights, fp32 — stops with exit 1 and one line saying
// what overflowed and what to change, for every model, ensembles, trained networks and sweeps;
// never exit 0 with nulls in the JSON. An exactly singular map (g = 0) keeps its −∞ exponents with
// a finite summary.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "backends.hpp"
#include "cell_test_util.hpp"
#include "core/executor.hpp"
#include "npy_test_util.hpp"
#include "program_fixture.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/network.hpp"
#include "rnnlyap/spectrum.hpp"
#include "rnnlyap/trained.hpp"

namespace fs = std::filesystem;

namespace rnnlyap {
namespace {

// Whether the linked BLAS/LAPACK is Intel's MKL (RNNLYAP_MKL_ROOT): its Householder QR resolves a
// direction the map annihilates to rounding level in every re-orthonormalisation, never to an
// exact 0, so the tests whose premise is an exact R_ii = 0 from OpenBLAS's (and the reference
// LAPACK's) rounding do not apply there (README, "A faster BLAS: MKL").
bool lapack_is_mkl() {
  return cpu::blas_description().rfind("MKL", 0) == 0;
}

using rnnlyap::test::slurp;

test::ZipMember zip_member(const std::string& name, const std::string& data) {
  test::ZipMember m;
  m.name = name;
  m.data = data;
  return m;
}

class NonFinite : public test::TempDirTest {
 protected:
  // Exit 1, one line `rnnlyap: failed: …` containing every needle, and no result file.
  void expect_failed(const std::string& args, const std::vector<std::string>& needles) {
    const fs::path out = dir_ / "result.json";
    const test::CliRun r = run(args + " --out " + out.string());
    const std::string& err = r.err;
    EXPECT_EQ(r.status, 1) << args << "\nstderr: " << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << args << "\nstderr: " << err;
    EXPECT_EQ(err.rfind("rnnlyap: failed: ", 0), 0u) << err;
    for (const std::string& n : needles)
      EXPECT_NE(err.find(n), std::string::npos) << args << ": no '" << n << "' in " << err;
    EXPECT_FALSE(fs::exists(out)) << args;
    EXPECT_TRUE(r.out.empty()) << args;
  }
};

const std::string kRun = " --quiet --t-warmup 10 --t-ons-warmup 5 --t-sim 20";

TEST_F(NonFinite, HugeGainsAndInputsFailForEveryRandomModel) {
  for (const std::string model : {"map", "rate"}) {
    const std::string m = "spectrum --model " + model + " --n 12" + kRun;
    // fp64: the map's state saturates (φ′ underflows, the logs are −∞); fp32 overflows outright.
    if (model == "map") {
      expect_failed(m + " --g 1e300", {"saturated", "--g"});
      expect_failed(m + " --g 1e200 --ensemble 3", {"saturated", "--g"});
      expect_failed(m + " --g 1 --input-std 1e300", {"--input-std"});
      expect_failed(m + " --weights levy --alpha 1 --g 1e300", {"--g"});
      expect_failed(m + " --g 1e30 --precision fp32", {"--g", "fp64"});
    }
    expect_failed(m + " --g 1e300 --precision fp32", {"--g", "--precision fp64"});
    expect_failed(m + " --g 1e300 --precision fp32 --ensemble 2", {"--precision fp64"});
  }
  const std::string s =
      "sweep --quiet --model map --n 8 --g 1,1e300 --t-warmup 10 "
      "--t-ons-warmup 5 --t-sim 20 --csv " +
      (dir_ / "s.csv").string();
  expect_failed(s, {"saturated", "--g"});
  EXPECT_FALSE(fs::exists(dir_ / "s.csv"));
}

TEST_F(NonFinite, HugeWeightFilesFail) {
  for (const double scale : {1e300, 1e200, 1e308}) {
    std::vector<double> w(16);
    for (std::size_t i = 0; i < w.size(); ++i)
      w[i] = (i % 3 == 0 ? -scale : scale) / static_cast<double>(1 + i % 5);
    const std::string path = (dir_ / "w.npy").string();
    test::write_file(path, test::make_npy_bytes(w, 4, 4, false, false));
    expect_failed("spectrum --model map --weights-file " + path + kRun, {"--weights-file"});
  }
}

// The state that overflows to ±∞ is what the check reads: a map whose J φ(h) overflows.
TEST(NonFiniteLibrary, StateOverflowIsAnErrorNotAResult) {
  Network net;
  net.n = 4;
  net.j.assign(16, 1e308);
  net.bias.assign(4, 0.0);
  SpectrumOptions o;
  o.model = Model::map;
  o.weights = WeightKind::file;
  o.weights_file = "in-memory.npy";  // the network is given: the name only satisfies validate()
  o.backend = BackendKind::cpu;
  o.t_warmup = 5;
  o.t_ons_warmup = 2;
  o.t_sim = 10;
  try {
    compute_spectrum(o, net);
    ADD_FAILURE() << "an overflowing state gave a result";
  } catch (const InvalidInput& e) {
    ADD_FAILURE() << "an overflow is not invalid input (exit 1, not 2): " << e.what();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("overflowed"), std::string::npos) << e.what();
  }
}

// −∞ is an exact answer for an exactly singular map (J = 0): kept, with a finite summary and no
// basis warning from the infinite spread.
TEST(NonFiniteLibrary, ExactlySingularMapKeepsMinusInfinity) {
  for (const double g : {0.0}) {
    SpectrumOptions o;
    o.model = Model::map;
    o.n = 5;
    o.g = g;
    o.backend = BackendKind::cpu;
    o.t_warmup = 5;
    o.t_ons_warmup = 2;
    o.t_sim = 10;
    const SpectrumResult r = compute_spectrum(o);
    for (double v : r.exponents) EXPECT_EQ(v, -std::numeric_limits<double>::infinity());
    EXPECT_FALSE(std::isnan(r.summary.max_exponent));
    EXPECT_FALSE(std::isnan(r.summary.mean_exponent));
    EXPECT_FALSE(std::isnan(r.summary.ky_dimension));
    EXPECT_FALSE(std::isnan(r.summary.ks_entropy));
    EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
  }
}

// J of rank 1 (every entry 0.2): the map is exactly singular beyond λ_1, −∞ exactly, though some
// re-orthonormalisations resolve R_22 … R_44 to rounding level (|R_11/R_ii| ≈ e^74) instead of 0.
// The −∞ stays, with no basis warning.
TEST(NonFiniteLibrary, RankOneMapKeepsMinusInfinityWithoutAWarning) {
  if (lapack_is_mkl())
    GTEST_SKIP() << "MKL resolves R_22 … R_44 to rounding level in every QR (λ_2 … λ_4 finite, "
                    "about −74, with the basis warning): no exact 0 to keep";
  Network net;
  net.n = 4;
  net.j.assign(16, 0.2);
  SpectrumOptions o;
  o.model = Model::map;
  o.weights = WeightKind::file;
  o.weights_file = "in-memory.npy";
  o.backend = BackendKind::cpu;
  o.t_warmup = 5;
  o.t_ons_warmup = 5;
  o.t_sim = 20;
  const SpectrumResult r = compute_spectrum(o, net);
  EXPECT_TRUE(std::isfinite(r.exponents[0]));
  for (int i = 1; i < 4; ++i) EXPECT_EQ(r.exponents[i], -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
}

// Trained networks: huge weights or inputs saturate or overflow the cell.
TEST_F(NonFinite, TrainedNetworksWithHugeWeightsOrInputsFail) {
  for (const Model m : {Model::rnn, Model::gru, Model::lstm}) {
    for (const double wscale : {1.0, 1e300}) {
      for (const double xscale : {1.0, 1e300}) {
        if (wscale == 1.0 && xscale == 1.0) continue;
        CellNetwork c = test::random_cell(m, 4, 2, 0.8, 3);
        for (double& v : c.layer(0).w_ih) v *= wscale;
        for (double& v : c.layer(0).w_hh) v *= wscale;
        const std::size_t gn = static_cast<std::size_t>(c.gates() * c.hidden);
        const std::vector<test::ZipMember> members = {
            zip_member("weight_ih_l0.npy",
                       test::make_npy_array_bytes(c.layer(0).w_ih, {gn, 2}, false, false)),
            zip_member("weight_hh_l0.npy",
                       test::make_npy_array_bytes(c.layer(0).w_hh, {gn, 4}, false, false))};
        const std::string w = (dir_ / "w.npz").string();
        test::write_file(w, test::make_zip(members));
        std::vector<double> x(400);
        for (std::size_t i = 0; i < x.size(); ++i)
          x[i] = xscale * std::sin(0.37 * static_cast<double>(i));
        const std::string in = (dir_ / "x.npy").string();
        test::write_file(in, test::make_npy_array_bytes(x, {200, 2}, false, false));
        expect_failed("spectrum --model " + std::string(to_string(m)) + " --weights-file " + w +
                          " --inputs " + in + " --quiet --t-warmup 10 --t-ons-warmup 10",
                      {"weights"});
      }
    }
  }
}

// --- saturated units (issue 19, section 3) ------------------------------------------------------
// A map unit at |h| beyond ~354 (fp64) or ~44 (fp32) has φ′(h) ≈ 4e^{−2|h|} below the precision's
// smallest normal number: its exponent (log|J_ss φ′(h*)| per step, ≈ −2|h*|) would be set by the
// precision (rounding noise or −∞). The state is checked whenever the logs are taken.

// A map of n units with weights J (n×n, column-major): a network given to compute_spectrum.
struct GivenMap {
  SpectrumOptions o;
  Network net;
};
GivenMap given_map(BackendKind b, std::vector<double> j, Model model = Model::map) {
  GivenMap g;
  g.net.n = static_cast<int>(std::lround(std::sqrt(static_cast<double>(j.size()))));
  g.net.j = std::move(j);
  g.o.model = model;
  g.o.weights = WeightKind::file;
  g.o.weights_file = "in-memory.npy";  // the network is given: the name only satisfies validate()
  g.o.backend = b;
  g.o.t_warmup = 50;
  g.o.t_ons_warmup = 50;
  g.o.t_sim = 200;
  return g;
}

// Weak couplings (0.3 sin(1.7 e) for entry e in column-major order) with unit 0's self-coupling
// `self`: unit 0 settles at h* ≈ self, the others near 0.
std::vector<double> coupled(int n, double self) {
  std::vector<double> j(static_cast<std::size_t>(n) * n);
  for (std::size_t e = 0; e < j.size(); ++e) j[e] = 0.3 * std::sin(1.7 * static_cast<double>(e));
  j[0] = self;
  return j;
}

std::vector<double> diagonal(const std::vector<double>& d) {
  const std::size_t n = d.size();
  std::vector<double> j(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) j[i * n + i] = d[i];
  return j;
}

// What the run threw (Error, not InvalidInput), or "" when it gave a result.
std::string failure(const GivenMap& g) {
  try {
    (void)compute_spectrum(g.o, g.net);
  } catch (const InvalidInput& e) {
    return std::string("InvalidInput (exit 2, wrong): ") + e.what();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

class SaturatedState : public testing::TestWithParam<BackendKind> {};

// |h*| ≈ 1000 in a coupled map: before, exit 0 with −29.7 for an exponent of ≈ −1992 (the
// saturated unit's direction is rounding noise; φ′ is exactly 0). Now an Error naming the count.
TEST_P(SaturatedState, MapUnitBeyondTheUnderflowFails) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  GivenMap g = given_map(GetParam(), coupled(6, 1000));
  std::string what = failure(g);
  for (const char* needle :
       {"saturated", "1 of N = 6 units", "|h| > 354", "fp64", "--weights-file"})
    EXPECT_NE(what.find(needle), std::string::npos) << needle << " not in: " << what;
  // fp32 underflows from |h| ≈ 44 on.
  g = given_map(GetParam(), coupled(6, 100));
  g.o.precision = Precision::fp32;
  what = failure(g);
  for (const char* needle : {"saturated", "1 of N = 6 units", "|h| > 44", "--precision fp64"})
    EXPECT_NE(what.find(needle), std::string::npos) << needle << " not in: " << what;
}

// Below the underflow (|h*| = 300: φ′ = 4e^{−600}, representable) the run goes on. A single unit
// is exact: λ = log|300 φ′(300)| = log 1200 − 600 (the per-step log has a rounding error of
// ~600 ε). Coupled to others, the saturated direction is resolved only to rounding level, and the
// run warns (or, where the rounding makes a −∞ of it, fails: UnderflowMinusInfinityIsNotExact;
// not so for these couplings).
TEST_P(SaturatedState, MapUnitBelowTheUnderflowRuns) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  const SpectrumResult one = [&] {
    const GivenMap g = given_map(GetParam(), {300.0});
    return compute_spectrum(g.o, g.net);
  }();
  EXPECT_NEAR(one.exponents[0], std::log(1200.0) - 600, 1e-10);
  EXPECT_TRUE(one.warnings.empty()) << one.warnings.front();
  const GivenMap g = given_map(GetParam(), coupled(6, 300));
  const SpectrumResult r = compute_spectrum(g.o, g.net);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("the exponents from lambda_"), std::string::npos) << r.warnings[0];
  for (double v : r.exponents) EXPECT_TRUE(std::isfinite(v));
}

// Decoupled, the saturated unit's basis entries shrink until a product of φ′ ≈ e^{−593} with them
// underflows to 0: R_33 = 0 exactly, a −∞ that is not an exactly singular map (before: exit 0,
// λ_3 = −∞ for a true −592.9). Above |h| = 354/2 such a −∞ is an Error.
TEST_P(SaturatedState, UnderflowMinusInfinityIsNotExact) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  const GivenMap g = given_map(GetParam(), diagonal({300.0, 0.5, 0.8}));
  const std::string what = failure(g);
  for (const char* needle : {"saturated", "1 of N = 3 units", "-inf", "--weights-file"})
    EXPECT_NE(what.find(needle), std::string::npos) << needle << " not in: " << what;
}

// A unit far below the underflow but with φ′(h) below ε (|h| = 30: φ′ ≈ 4e^{−60}, a true exponent
// of about −55), coupled weakly (0.158 sin(1.7 e² + 0.5) for entry e) to nine others: its direction
// is resolved only to rounding level, and after a few hundred steps rounding makes its R_ii
// exactly 0 (before: exit 0, λ_10 = −∞, no warning, although the map is not singular). A −∞ with
// a unit beyond (log 4 + log 1/ε)/2 (18.7 in fp64, 8.7 in fp32) is an Error.
TEST_P(SaturatedState, MinusInfinityFromAUnitBelowRoundingIsNotExact) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  if (GetParam() == BackendKind::cpu && lapack_is_mkl())
    GTEST_SKIP() << "MKL's rounding never makes this unit's R_ii exactly 0: no −∞ to refuse";
  std::vector<double> j(100);
  for (std::size_t e = 0; e < j.size(); ++e) {
    const double x = static_cast<double>(e);
    j[e] = 0.158 * std::sin(1.7 * x * x + 0.5);
  }
  j[0] = 30;
  GivenMap g = given_map(GetParam(), j);
  std::string what = failure(g);
  for (const char* needle : {"saturated", "1 of N = 10 units", "|h| > 19", "-inf", "fp64"})
    EXPECT_NE(what.find(needle), std::string::npos) << needle << " not in: " << what;
  g.o.precision = Precision::fp32;
  what = failure(g);
  for (const char* needle : {"saturated", "1 of N = 10 units", "fp32", "--precision fp64"})
    EXPECT_NE(what.find(needle), std::string::npos) << needle << " not in: " << what;
}

// A rate network's leak keeps a saturated unit's exponent at log(1 − dt)/dt (its φ′ term, e^{−2000}
// here, is far below rounding either way): saturation is harmless there and the run goes on, with
// the exact spectrum of the decoupled network, log(1 − dt + dt J_ii φ′(h_i*))/dt.
TEST_P(SaturatedState, RateUnitBeyondTheUnderflowIsExact) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  const GivenMap g = given_map(GetParam(), diagonal({1000.0, 0.5, 0.8}), Model::rate);
  const SpectrumResult r = compute_spectrum(g.o, g.net);
  const double dt = r.schedule.step_time;
  const std::vector<double> truth = {std::log(1 - dt + dt * 0.8) / dt,
                                     std::log(1 - dt + dt * 0.5) / dt, std::log(1 - dt) / dt};
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(r.exponents[i], truth[i], 1e-9) << i;
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
}

RNNLYAP_INSTANTIATE_FOR_BACKENDS(SaturatedState);

// The program: exit 1, one line naming the units (before: exit 0).
TEST_F(NonFinite, SaturatedMapUnitFailsInTheProgram) {
  std::vector<double> w(16);
  for (std::size_t i = 0; i < w.size(); ++i)
    w[i] = 0.3 * std::sin(1.7 * static_cast<double>(i));  // weak couplings
  w[0] = 1000;
  const std::string path = (dir_ / "w.npy").string();
  test::write_file(path, test::make_npy_bytes(w, 4, 4, false, false));
  expect_failed("spectrum --model map --weights-file " + path + kRun,
                {"saturated", "1 of N = 4 units", "--weights-file"});
}

// The basis warning reaches stderr and the JSON (a Lévy map whose single re-orthonormalisations
// exceed what fp64 resolves: test_precision_qr.cpp).
TEST_F(NonFinite, ConditionWarningIsPrinted) {
  const fs::path out = dir_ / "r.json";
  const test::CliRun r =
      run("spectrum --model map --n 60 --weights levy --alpha 1.3 --g 1.2 --seed 1 --backend cpu "
          "--quiet --out " +
          out.string());
  ASSERT_EQ(r.status, 0);
  const std::string& err = r.err;
  EXPECT_NE(err.find("rnnlyap: warning: the exponents from lambda_"), std::string::npos) << err;
  const nlohmann::json j = nlohmann::json::parse(slurp(out));
  ASSERT_EQ(j.at("warnings").size(), 1u);
  EXPECT_NE(j["warnings"][0].get<std::string>().find("from lambda_"), std::string::npos);
}

}  // namespace
}  // namespace rnnlyap
