// Heavy-tailed weights (docs/design.md): the symmetric α-stable generator stable_at, levy_network,
// the finite-size transition prediction g* = exp(−⟨Ξ⟩), and `--weights levy` end to end.
//
// Every statistical check compares a sample mean of M i.i.d. draws with an EXACT property of the
// law, and allows 5 standard errors: a sample mean of M i.i.d. copies of Y has standard error
// √(Var Y / M), and Var Y is itself exact here:
//   S_2 = N(0, 2):  Var X = 2;  Var X² = E X⁴ − (E X²)² = 3·2² − 2² = 8;
//                   Var X⁴ = E X⁸ − (E X⁴)² = 105·2⁴ − 12² = 1536.
//   indicator 1{X ∈ A} with P(A) = p:  Var = p(1 − p)  (Cauchy: P(|X| < 1) = 1/2,
//                   P(|X| < tan(3π/8)) = 3/4, P(X < 0) = 1/2); the sample median of a density f
//                   with f(0) = 1/π has standard error 1/(2 f(0) √M) = π/(2√M).
//   characteristic function φ(t) = E cos(tX) = exp(−|t|^α):  cos² = (1 + cos 2·)/2 gives
//                   Var cos(tX) = (1 + φ(2t))/2 − φ(t)²; sin² = (1 − cos 2·)/2 and E sin(tX) = 0
//                   give Var sin(tX) = (1 − φ(2t))/2.
// The draws come from a fixed seed, so each check is deterministic; a correct generator misses a
// 5σ band with probability ≈ 6e-7 per check.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "compare.hpp"
#include "core/elementwise.hpp"
#include "core/random.hpp"
#include "program_fixture.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/network.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap {
namespace {

using detail::stable_at;

constexpr int kM = 200'000;  // draws per statistical check
constexpr double kSigmas = 5;

std::uint64_t test_key() {
  return detail::mix_seed(20250101);
}

/// M draws of S_α from stream kStreamWeights, counters (i, 3).
std::vector<double> draws(double alpha, int m = kM) {
  std::vector<double> x(static_cast<std::size_t>(m));
  for (int i = 0; i < m; ++i)
    x[static_cast<std::size_t>(i)] =
        stable_at(test_key(), detail::kStreamWeights, static_cast<std::uint64_t>(i), 3u, alpha);
  return x;
}

template <class F>
double sample_mean(const std::vector<double>& x, F f) {
  double s = 0;
  for (const double v : x) s += f(v);
  return s / static_cast<double>(x.size());
}

double se(double variance, std::size_t m) {
  return std::sqrt(variance / static_cast<double>(m));
}

/// Digamma ψ and trigamma ψ′: recurrence up to x ≥ 10, then the asymptotic series (error < 1e-13).
double digamma(double x) {
  double r = 0;
  while (x < 10) r -= 1 / x, x += 1;
  const double y = 1 / (x * x);
  return r + std::log(x) - 0.5 / x -
         y * (1.0 / 12 - y * (1.0 / 120 - y * (1.0 / 252 - y * (1.0 / 240 - y / 132))));
}
double trigamma(double x) {
  double r = 0;
  while (x < 10) r += 1 / (x * x), x += 1;
  const double y = 1 / (x * x);
  return r + 1 / x + y / 2 + (y / x) * (1.0 / 6 - y * (1.0 / 30 - y * (1.0 / 42 - y / 30)));
}

// --- stable_at -------------------------------------------------------------------------------

TEST(StableAt, GaussianMomentsAtAlphaTwo) {
  const auto x = draws(2.0);
  const double m1 = sample_mean(x, [](double v) { return v; });
  const double m2 = sample_mean(x, [](double v) { return v * v; });
  const double m4 = sample_mean(x, [](double v) { return v * v * v * v; });
  EXPECT_NEAR(m1, 0.0, kSigmas * se(2, x.size()));
  EXPECT_NEAR(m2, 2.0, kSigmas * se(8, x.size()));
  EXPECT_NEAR(m4, 12.0, kSigmas * se(1536, x.size()));
  EXPECT_NEAR(m4 / (m2 * m2), 3.0, 0.05);  // kurtosis; ≈ 5 se by the delta method
  std::printf("[ info ] alpha=2: mean %.2e (se %.1e), E X^2 %.4f (se %.1e), E X^4 %.3f (se %.2e)\n",
              m1, se(2, x.size()), m2, se(8, x.size()), m4, se(1536, x.size()));
}

TEST(StableAt, CauchyQuantilesAtAlphaOne) {
  const auto x = draws(1.0);
  const double t38 = std::tan(3 * std::numbers::pi / 8);  // ≈ 2.414: P(|X| < t38) = 3/4
  const double p1 = sample_mean(x, [](double v) { return std::fabs(v) < 1 ? 1.0 : 0.0; });
  const double p2 = sample_mean(x, [&](double v) { return std::fabs(v) < t38 ? 1.0 : 0.0; });
  const double p0 = sample_mean(x, [](double v) { return v < 0 ? 1.0 : 0.0; });
  EXPECT_NEAR(p1, 0.5, kSigmas * se(0.25, x.size()));
  EXPECT_NEAR(p2, 0.75, kSigmas * se(0.1875, x.size()));
  EXPECT_NEAR(p0, 0.5, kSigmas * se(0.25, x.size()));
  auto sorted = x;
  std::nth_element(sorted.begin(), sorted.begin() + kM / 2, sorted.end());
  const double median = sorted[kM / 2];
  EXPECT_NEAR(median, 0.0, kSigmas * std::numbers::pi / (2 * std::sqrt(double(kM))));
  std::printf(
      "[ info ] alpha=1: P(|X|<1) %.5f, P(|X|<2.414) %.5f, P(X<0) %.5f (se %.1e), median %.2e\n",
      p1, p2, p0, se(0.25, x.size()), median);
}

TEST(StableAt, CharacteristicFunction) {
  double worst = 0;  // largest |deviation| / se over all checks
  for (const double alpha : {0.5, 1.0, 1.5, 1.8, 2.0}) {
    const auto x = draws(alpha);
    for (const double t : {0.25, 0.5, 1.0, 2.0}) {
      const double phi = std::exp(-std::pow(t, alpha));
      const double phi2 = std::exp(-std::pow(2 * t, alpha));
      const double c = sample_mean(x, [t](double v) { return std::cos(t * v); });
      const double s = sample_mean(x, [t](double v) { return std::sin(t * v); });
      const double se_c = se((1 + phi2) / 2 - phi * phi, x.size());
      const double se_s = se((1 - phi2) / 2, x.size());
      EXPECT_NEAR(c, phi, kSigmas * se_c) << "alpha " << alpha << " t " << t;
      EXPECT_NEAR(s, 0.0, kSigmas * se_s) << "alpha " << alpha << " t " << t;
      worst = test::nan_max(worst, test::nan_max(std::fabs(c - phi) / se_c, std::fabs(s) / se_s));
    }
  }
  std::printf("[ info ] characteristic function: worst deviation %.2f standard errors\n", worst);
}

TEST(StableAt, ContinuousInAlphaAtSpecialCases) {
  // α = 1 (tan V) and α = 2 (2 sin V √W) are evaluated by their own formulas; the general one
  // must meet them: the CMS map is continuous in α for fixed (V, W).
  for (std::uint64_t i = 0; i < 1000; ++i) {
    for (const double a : {1.0, 2.0}) {
      const double exact = stable_at(test_key(), 9, i, 0, a);
      for (const double near : {a - 1e-9, a + 1e-9}) {
        if (near > 2) continue;
        const double v = stable_at(test_key(), 9, i, 0, near);
        EXPECT_NEAR(v, exact, 1e-6 * std::fabs(exact) + 1e-12) << "alpha " << near << " i " << i;
      }
    }
  }
}

TEST(StableAt, Reproducible) {
  const std::uint64_t key = test_key();
  for (const double alpha : {0.3, 1.0, 1.5, 2.0}) {
    const double v = stable_at(key, 1, 123456789012ull, 77, alpha);
    EXPECT_EQ(v, stable_at(key, 1, 123456789012ull, 77, alpha));
    EXPECT_NE(v, stable_at(key + 1, 1, 123456789012ull, 77, alpha));
    EXPECT_NE(v, stable_at(key, 2, 123456789012ull, 77, alpha));
    EXPECT_NE(v, stable_at(key, 1, 123456789013ull, 77, alpha));
    EXPECT_NE(v, stable_at(key, 1, 123456789012ull, 78, alpha));
    // The high word of a is part of the counter.
    EXPECT_NE(v, stable_at(key, 1, 123456789012ull + (1ull << 32), 77, alpha));
  }
}

TEST(StableAt, FiniteForEveryCounter) {
  const std::uint64_t key = test_key();
  for (const double alpha : {0.3, 1.99}) {
    std::int64_t bad = 0;
    double biggest = 0;
    for (std::uint32_t i = 0; i < 1'000'000; ++i) {
      const double v = stable_at(key, 7, i, i * 2654435761u, alpha);
      bad += !std::isfinite(v);
      biggest = std::max(biggest, std::fabs(v));
    }
    EXPECT_EQ(bad, 0) << "alpha " << alpha;
    std::printf("[ info ] alpha=%.2f: largest |X| of 1e6 draws %.3g\n", alpha, biggest);
  }
  // Tails so heavy that |X| would pass the double range are capped, not infinite.
  for (std::uint32_t i = 0; i < 100'000; ++i) {
    const double v = stable_at(key, 7, i, 0, 0.02);
    ASSERT_TRUE(std::isfinite(v)) << i;
  }
}

// --- levy_network ----------------------------------------------------------------------------

TEST(LevyNetwork, EntriesComeFromTheGenerator) {
  const int n = 40;
  const double g = 1.3, alpha = 1.5;
  const std::uint64_t seed = 7;
  const Network net = levy_network(n, g, alpha, seed);
  ASSERT_EQ(net.n, n);
  ASSERT_EQ(net.j.size(), std::size_t(n) * n);
  ASSERT_EQ(net.bias, std::vector<double>(n, 0.0));
  const double scale = g * std::pow(double(n), -1 / alpha);
  const std::array<std::pair<int, int>, 6> entries{
      {{0, 0}, {1, 0}, {0, 1}, {17, 23}, {39, 38}, {39, 39}}};
  for (const auto& [r, c] : entries)
    EXPECT_DOUBLE_EQ(net(r, c), scale * stable_at(detail::mix_seed(seed), detail::kStreamWeights,
                                                  std::uint64_t(r), std::uint32_t(c), alpha))
        << r << "," << c;
}

TEST(LevyNetwork, VarianceAtAlphaTwo) {
  // α = 2: N J_ij² / g² = S_2² with mean 2 and variance 8 (see the top of the file).
  const int n = 450;  // M = 202 500 entries
  const double g = 0.7;
  const Network net = levy_network(n, g, 2.0, 11);
  const double m2 = sample_mean(net.j, [&](double v) { return n * v * v / (g * g); });
  EXPECT_NEAR(m2, 2.0, kSigmas * se(8, net.j.size()));
  std::printf("[ info ] levy_network alpha=2: mean N J^2/g^2 = %.4f (se %.1e)\n", m2,
              se(8, net.j.size()));
}

TEST(LevyNetwork, MakeNetworkDrawsLevyWeights) {
  SpectrumOptions opt;
  opt.weights = WeightKind::levy;
  opt.n = 30;
  opt.g = 1.1;
  opt.alpha = 0.8;
  opt.seed = 5;
  EXPECT_EQ(make_network(opt).j, levy_network(30, 1.1, 0.8, 5).j);
  opt.zero_diagonal = true;
  const Network z = make_network(opt);
  for (int i = 0; i < z.n; ++i) EXPECT_EQ(z(i, i), 0.0);
  EXPECT_NE(z(1, 0), 0.0);
  opt.alpha = 2.5;
  EXPECT_THROW(make_network(opt), InvalidInput);
  EXPECT_THROW(levy_network(10, 1, 0.0, 1), InvalidInput);
}

// --- the finite-size transition g* = exp(−⟨Ξ⟩) -----------------------------------------------

// For α = 2, (1/N) Σ z_j² with z ~ N(0, 2) is 2χ²_N/N, and E ln χ²_N = ψ(N/2) + ln 2,
// Var ln χ²_N = ψ′(N/2), so ⟨Ξ⟩ = ½ (2 ln 2 + ψ(N/2) − ln N) and Var Ξ = ψ′(N/2)/4 exactly.
void check_log_scale_at_alpha_two(int n, int samples) {
  const auto [mean, stderr_mean] = levy_log_scale_stats(n, 2.0, 3, samples);
  const double exact = 0.5 * (2 * std::log(2.0) + digamma(n / 2.0) - std::log(double(n)));
  const double exact_se = std::sqrt(trigamma(n / 2.0) / 4 / samples);
  EXPECT_NEAR(mean, exact, kSigmas * exact_se) << "n " << n;
  // The estimated standard error: its relative error is about 1/√(2(samples − 1)) (≈ 5% at 200),
  // and ln-scale fluctuations are near-Gaussian for large n; 30% is a generous 5σ band there.
  EXPECT_NEAR(stderr_mean / exact_se, 1.0, n > 1 ? 0.3 : 0.5) << "n " << n;
  const double gstar = levy_transition_gain(n, 2.0, 3, samples);
  EXPECT_DOUBLE_EQ(gstar, std::exp(-mean));
  // g* = exp(−⟨Ξ⟩): by the delta method its standard error is g*·se(Ξ).
  EXPECT_NEAR(gstar, std::exp(-exact), kSigmas * gstar * exact_se) << "n " << n;
  std::printf("[ info ] n=%d: <Xi> %.5f vs exact %.5f (se %.1e est %.1e), g* %.5f vs %.5f\n", n,
              mean, exact, exact_se, stderr_mean, gstar, std::exp(-exact));
}

TEST(LevyTransition, ExactExpectationAtAlphaTwo) {
  check_log_scale_at_alpha_two(1000, 200);
  EXPECT_NEAR(levy_transition_gain(1000, 2.0, 3, 200), 1 / std::sqrt(2.0), 0.01);
}

TEST(LevyTransition, ExactExpectationAtAlphaTwoSingleNeuron) {
  // N = 1: ψ(1/2) = −γ − 2 ln 2, far from the large-N limit; Ξ = ½ ln z² is skewed, hence the
  // looser check of the estimated standard error.
  check_log_scale_at_alpha_two(1, 20'000);
}

TEST(LevyTransition, HeavyTailsAndArguments) {
  for (const double alpha : {0.5, 1.0, 1.5}) {
    const double gstar = levy_transition_gain(200, alpha, 1, 50);
    EXPECT_TRUE(std::isfinite(gstar) && gstar > 0) << alpha;
    EXPECT_EQ(gstar, levy_transition_gain(200, alpha, 1, 50));
  }
  EXPECT_TRUE(std::isnan(levy_log_scale_stats(10, 1.5, 1, 1).second));
  EXPECT_THROW(levy_transition_gain(0, 1.5, 1, 10), InvalidInput);
  EXPECT_THROW(levy_transition_gain(10, 1.5, 1, 0), InvalidInput);
  EXPECT_THROW(levy_transition_gain(10, 2.1, 1, 10), InvalidInput);
}

// --- end to end ------------------------------------------------------------------------------

TEST(LevySpectrum, ComputeSpectrumWithLevyWeights) {
  SpectrumOptions opt;
  opt.weights = WeightKind::levy;
  opt.alpha = 1.5;
  opt.n = 60;
  opt.g = 1;
  opt.t_warmup = 20;
  opt.t_ons_warmup = 20;
  opt.t_sim = 50;
  opt.backend = BackendKind::cpu;
  const SpectrumResult r = compute_spectrum(opt);
  ASSERT_EQ(r.exponents.size(), 60u);
  for (const double l : r.exponents) EXPECT_TRUE(std::isfinite(l));
  EXPECT_EQ(r.options.weights, WeightKind::levy);
  EXPECT_EQ(r.options.alpha, 1.5);
  // Sanity of the scale: the mean exponent of the rate model is close to −1/τ.
  EXPECT_NEAR(r.summary.mean_exponent, -1.0, 0.2);
  std::printf("[ info ] levy alpha=1.5 n=60 g=1: max %.4f, mean %.4f, n_positive %d\n",
              r.summary.max_exponent, r.summary.mean_exponent, r.summary.n_positive);
}

TEST(LevySpectrum, CommandLineAcceptsLevyWeights) {
  namespace fs = std::filesystem;
  const test::TempDir temp;
  const std::filesystem::path& dir = temp.path();
  const fs::path out = dir / "result.json";
  const std::string args =
      "spectrum --quiet --weights levy --alpha 1.5 --n 30 --g 1 --t-warmup 10"
      " --t-ons-warmup 10 --t-sim 20 --backend cpu --out " +
      out.string();
  const test::CliRun r = test::run_cli(args);
  ASSERT_EQ(r.status, 0) << args << "\n" << r.err;
  std::ifstream f(out);
  const auto j = nlohmann::json::parse(f);
  ASSERT_EQ(j.at("exponents").size(), 30u);
  for (const auto& l : j.at("exponents")) EXPECT_TRUE(l.is_number() && std::isfinite(double(l)));
  EXPECT_EQ(j.at("params").at("weights"), "levy");
  EXPECT_EQ(j.at("params").at("alpha"), 1.5);
}

}  // namespace
}  // namespace rnnlyap
