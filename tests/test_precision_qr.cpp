// The fast paths against the reference path on the same network and trajectory:
// - fp32 against fp64 below onset, where the spectrum is a deterministic function of J;
// - CholeskyQR2 against Householder QR (the state does not depend on the basis, so both runs see
//   the same trajectory and differ only by the QR's rounding);
// - fp32 on a chaotic network, where its trajectory is another realisation: statistical agreement.
//
// Rounding model for the tolerances: every step perturbs each log|R_ii| by a relative ε, amplified
// by the condition of the basis before a re-orthonormalisation, κ = e^{(λ_1 - λ_k) t_ons}; a bias
// of ε κ per step is ε κ / Δt per unit time. The Gram matrix of CholeskyQR squares the condition:
// ε κ² / Δt. We allow 50 times these.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "backends.hpp"
#include "compare.hpp"
#include "core/propagator.hpp"
#include "core/random.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap {
namespace {

double condition(const SpectrumResult& r) {
  const auto [lo, hi] = std::minmax_element(r.exponents.begin(), r.exponents.end());
  return std::exp((*hi - *lo) * r.options.t_ons);
}

// NaN or inf when an exponent is not finite, inf when the counts differ (compare.hpp).
double max_abs_diff(const SpectrumResult& a, const SpectrumResult& b) {
  return test::max_abs_diff(a.exponents, b.exponents);
}

SpectrumOptions opts(BackendKind b, Model m, int n, double g) {
  SpectrumOptions o;
  o.backend = b;
  o.model = m;
  o.n = test::size_for(b, n, n / 2);  // smaller on the emulated device (backends.hpp)
  o.g = g;
  o.t_warmup = 300;
  o.t_ons_warmup = 50;
  o.t_sim = 300;
  return o;
}

class PrecisionAndQr : public testing::TestWithParam<BackendKind> {};

TEST_P(PrecisionAndQr, Fp32MatchesFp64BelowOnset) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  for (Model m : {Model::rate, Model::map}) {
    SpectrumOptions o = opts(GetParam(), m, 120, m == Model::map ? 0.5 : 0.7);
    const Network net = gaussian_network(o.n, o.g, 7);
    const SpectrumResult f64 = compute_spectrum(o, net);
    o.precision = Precision::fp32;
    const SpectrumResult f32 = compute_spectrum(o, net);
    EXPECT_EQ(f32.options.precision, Precision::fp32);
    const double eps = std::numeric_limits<float>::epsilon();
    const double tol = 50 * eps * condition(f64) / f64.schedule.step_time;
    EXPECT_AT_MOST(max_abs_diff(f32, f64), tol) << to_string(m);
    EXPECT_GT(max_abs_diff(f32, f64), 0.0) << "fp32 must really run in single precision";
  }
}

TEST_P(PrecisionAndQr, Cholesky2MatchesHouseholder) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  for (Model m : {Model::rate, Model::map}) {
    SpectrumOptions o = opts(GetParam(), m, 120, m == Model::map ? 2.0 : 3.0);
    o.input_std = 0.2;
    const Network net = gaussian_network(o.n, o.g, 7);
    const SpectrumResult hh = compute_spectrum(o, net);
    o.qr = QrMethod::cholesky2;
    const SpectrumResult chol = compute_spectrum(o, net);
    const double k = condition(hh);
    const double tol = 50 * std::numeric_limits<double>::epsilon() * k * k / hh.schedule.step_time;
    EXPECT_AT_MOST(max_abs_diff(chol, hh), tol) << to_string(m);
  }
}

// An ill-conditioned basis (a long t_ons on a map with tiny eigenvalues: κ ≈ e^{23}) makes the Gram
// matrix numerically singular (κ² ≫ 1/ε); cholesky2 must fall back to Householder and stay right.
// Here Householder itself resolves the trailing R_ii only to ε κ per re-orthonormalisation, and
// the well-conditioned first QRs (which do use CholeskyQR2) move Q at rounding level, so the bound
// is the conditioning-limited one, 50 ε κ / t_ons. Without the fallback the result is not finite.
TEST_P(PrecisionAndQr, Cholesky2FallsBackWhenIllConditioned) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  SpectrumOptions o = opts(GetParam(), Model::map, 80, 0.5);
  o.t_ons = 8;
  o.t_sim = 400;
  const Network net = gaussian_network(o.n, o.g, 7);
  const SpectrumResult hh = compute_spectrum(o, net);
  ASSERT_GT(condition(hh), 1e10) << "the case must be ill-conditioned to test the fallback";
  o.qr = QrMethod::cholesky2;
  const SpectrumResult chol = compute_spectrum(o, net);
  const double tol = 50 * std::numeric_limits<double>::epsilon() * condition(hh) / o.t_ons;
  EXPECT_AT_MOST(max_abs_diff(chol, hh), tol);
}

TEST_P(PrecisionAndQr, Fp32ChaoticAgreesStatistically) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  SpectrumOptions o = opts(GetParam(), Model::rate, 120, 3.0);
  o.t_sim = 600;
  const Network net = gaussian_network(o.n, o.g, 7);
  const SpectrumResult f64 = compute_spectrum(o, net);
  o.precision = Precision::fp32;
  const SpectrumResult f32 = compute_spectrum(o, net);
  for (int i = 0; i < 10; ++i)
    EXPECT_NEAR(f32.exponents[i], f64.exponents[i], 4 * std::hypot(f32.stderr_[i], f64.stderr_[i]))
        << i;
  // The mean exponent (−1/τ up to O(1/N) for tanh rate networks) is a trajectory average with a
  // small spread: same 4-σ rule on its batch-means error, estimated from the exponents' errors.
  EXPECT_NEAR(f32.summary.mean_exponent, f64.summary.mean_exponent, 0.01);
}

// Which QR ran is visible in the signs of R's diagonal: CholeskyQR2 gives R_cc = q_out_c · q_in_c >
// 0 for every column, Householder flips about half. A well-conditioned basis must take the
// CholeskyQR2 path and a basis with columns scaled over 8 decades (R₁ diagonal ratio 1e8 > 1e6) the
// fallback.
TEST_P(PrecisionAndQr, Cholesky2PathIsChosenByConditioning) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  const int n = 120, k = 40;
  for (double decades : {0.0, 8.0}) {
    std::vector<double> q = detail::initial_basis(n, k, 13);
    for (int c = 0; c < k; ++c)
      for (int r = 0; r < n; ++r)
        q[static_cast<std::size_t>(c) * n + r] *= std::pow(10.0, -decades * c / (k - 1));
    const Network net = gaussian_network(n, 1.0, 1);
    auto p = detail::make_network_propagator({GetParam(), 0, Precision::fp64, QrMethod::cholesky2},
                                             {&net}, detail::Dynamics{}, {1}, k);
    p->set_basis(q);
    p->reorthonormalize(true);
    const std::vector<double> out = p->basis_blocking();
    int negative = 0;
    for (int c = 0; c < k; ++c) {
      double dot = 0;
      for (int r = 0; r < n; ++r)
        dot += q[static_cast<std::size_t>(c) * n + r] * out[static_cast<std::size_t>(c) * n + r];
      negative += dot < 0;
    }
    if (decades == 0)
      EXPECT_EQ(negative, 0) << "CholeskyQR2 must run on a well-conditioned basis";
    else
      EXPECT_GT(negative, 0) << "the Householder fallback must run on an ill-conditioned basis";
  }
}

// Issue 19: on a Lévy map (`rnnlyap spectrum --model map --weights levy --alpha 1.3 --g 1.2 --n 60
// --seed 8`, the full spectrum) a re-orthonormalisation's second CholeskyQR pass fails its
// Cholesky factorisation; that member falls back to Householder QR, so --qr cholesky2 and --qr
// auto finish, on the same trajectory, within the statistical error of Householder's exponents.
TEST(PrecisionAndQrLevy, CholeskyFailuresOnALevyMapFallBack) {
  SpectrumOptions o;
  o.backend = BackendKind::cpu;
  o.model = Model::map;
  o.weights = WeightKind::levy;
  o.alpha = 1.3;
  o.g = 1.2;
  o.n = 60;
  o.seed = 8;
  const SpectrumResult hh = compute_spectrum(o);
  ASSERT_EQ(hh.exponents.size(), 60u);
  for (QrMethod m : {QrMethod::cholesky2, QrMethod::auto_select}) {
    o.qr = m;
    SpectrumResult r;
    ASSERT_NO_THROW(r = compute_spectrum(o)) << to_string(m);
    ASSERT_EQ(r.exponents.size(), hh.exponents.size());
    for (std::size_t i = 0; i < r.exponents.size(); ++i)
      EXPECT_NEAR(r.exponents[i], hh.exponents[i], 4 * hh.stderr_[i]) << to_string(m) << " " << i;
  }
}

// timing.qr_paths counts every re-orthonormalisation of the run by the path it took, and only
// the paths the method allows: Householder alone under `householder`; under `auto` on a chaotic
// rate network with t_ons = 1 (single-interval ratios ~20, far below 1e3) one pass each, none
// falling back; two passes each under `cholesky2`; and on the Lévy map of issue 19 (single
// ratios beyond 1e6, Cholesky failures) Householder for some. An ensemble sums its members'.
TEST_P(PrecisionAndQr, QrPathsCountEveryReorthonormalisation) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  SpectrumOptions o;
  o.backend = GetParam();
  o.n = 40;
  o.g = 3;
  o.t_warmup = 20;
  o.t_ons_warmup = 10;
  o.t_sim = 40;
  const auto total = [](const QrPaths& p) {
    return p.cholesky_one_pass + p.cholesky_two_passes + p.householder;
  };
  o.qr = QrMethod::householder;
  const SpectrumResult hh = compute_spectrum(o);
  EXPECT_EQ(hh.timing.qr_paths.householder, hh.timing.qr_count);
  EXPECT_EQ(total(hh.timing.qr_paths), hh.timing.qr_count);
  o.qr = QrMethod::auto_select;
  const SpectrumResult au = compute_spectrum(o);
  EXPECT_EQ(au.timing.qr_paths.cholesky_one_pass, au.timing.qr_count) << "every one in one pass";
  o.qr = QrMethod::cholesky2;
  const SpectrumResult c2 = compute_spectrum(o);
  EXPECT_EQ(c2.timing.qr_paths.cholesky_two_passes, c2.timing.qr_count);
  o.qr = QrMethod::auto_select;
  o.ensemble = 3;
  const EnsembleResult e = compute_ensemble(o);
  EXPECT_EQ(total(e.timing.qr_paths), e.timing.qr_count);
  EXPECT_EQ(e.timing.qr_count, 3 * au.timing.qr_count);
  SpectrumOptions levy = o;
  levy.ensemble = 1;
  levy.model = Model::map;
  levy.weights = WeightKind::levy;
  levy.alpha = 1.3;
  levy.g = 1.2;
  levy.n = 60;
  levy.seed = 8;
  levy.t_warmup = 100;
  levy.t_ons_warmup = 100;
  levy.t_sim = 400;
  const SpectrumResult lv = compute_spectrum(levy);
  EXPECT_GT(lv.timing.qr_paths.householder, 0) << "the Lévy map's basis falls back";
  EXPECT_EQ(total(lv.timing.qr_paths), lv.timing.qr_count);
}

// --- the basis condition of single re-orthonormalisations (issue 19, section 3) -----------------
// Column i of the basis is resolved to ~ε|R_11| per re-orthonormalisation: past |R_11/R_ii| ≈
// 1/(100 ε) its log|R_ii| is rounding noise. The warning must judge that from the largest ratio of
// a single re-orthonormalisation (heavy-tailed weights have single intervals far beyond the
// average), and name the first unreliable exponent.

double resolvable_log_condition(Precision p) {
  const double eps = p == Precision::fp32 ? std::numeric_limits<float>::epsilon()
                                          : std::numeric_limits<double>::epsilon();
  return std::log(1 / eps) - std::log(100.0);
}

// The first exponent the warning calls unreliable (1-based), and its e^X; 0 when no such warning.
struct ConditionWarning {
  int from = 0;
  double log_condition = 0;
};
ConditionWarning condition_warning(const SpectrumResult& r) {
  for (const std::string& w : r.warnings) {
    const auto at = w.find("the exponents from lambda_");
    if (at == std::string::npos) continue;
    ConditionWarning c;
    c.from = std::stoi(w.substr(at + 26));
    const auto e = w.find("reached e^");
    if (e != std::string::npos) c.log_condition = std::stod(w.substr(e + 10));
    return c;
  }
  return {};
}

SpectrumOptions levy_map(BackendKind b, std::uint64_t seed) {
  SpectrumOptions o;
  o.backend = b;
  o.model = Model::map;
  o.n = 60;
  o.weights = WeightKind::levy;
  o.alpha = 1.3;
  o.g = 1.2;
  o.seed = seed;
  return o;  // the map's default schedule: t_ons one step
}

// Lévy maps (N = 60, α = 1.3, g = 1.2) whose averaged spread (λ_1 − λ_60) t_ons stays below the
// limit while single re-orthonormalisations exceed it (seeds 1 and 8: spreads ≈ 23 and 27 against
// 31.4, single ratios ≈ e^39 and e^41): the warning names the exponent from which on they are
// unreliable; every exponent before it passed the limit in no re-orthonormalisation. Their
// trailing exponents differ by ~0.07 between builds (roundings).
TEST_P(PrecisionAndQr, SingleReorthonormalisationBeyondThePrecisionWarns) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  const double limit = resolvable_log_condition(Precision::fp64);
  for (const std::uint64_t seed : {1, 8}) {
    const SpectrumResult r = compute_spectrum(levy_map(GetParam(), seed));
    const double spread = (r.exponents.front() - r.exponents.back()) * r.options.t_ons;
    ASSERT_LT(spread, limit) << "seed " << seed << ": the case must pass the averaged test";
    const ConditionWarning w = condition_warning(r);
    ASSERT_GE(w.from, 2) << "seed " << seed << ": no warning from lambda_i";
    EXPECT_LE(w.from, 60);
    EXPECT_GT(w.log_condition, std::round(limit)) << "seed " << seed;
    // The averaged spread up to the named exponent is a lower bound of its largest single ratio.
    EXPECT_GE(w.log_condition + 0.5,
              (r.exponents.front() - r.exponents[w.from - 1]) * r.options.t_ons);
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_NE(r.warnings[0].find("--k " + std::to_string(w.from - 1)), std::string::npos)
        << r.warnings[0];
    EXPECT_EQ(r.warnings[0].find("--t-ons"), std::string::npos)
        << "t_ons is one step of the map already: " << r.warnings[0];
  }
}

// A well-conditioned run (rate, N = 50, g = 2: (λ_1 − λ_50) t_ons ≈ 1) has no warning in either
// precision; a map (N = 40, g = 3) resolved by fp64 but not by fp32 warns only in fp32, and says
// so.
TEST_P(PrecisionAndQr, ConditionWarningFollowsThePrecision) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  SpectrumOptions o;
  o.backend = GetParam();
  o.model = Model::rate;
  o.n = test::size_for(GetParam(), 50, 24);
  o.g = 2;
  o.t_sim = 200;
  for (const Precision p : {Precision::fp64, Precision::fp32}) {
    o.precision = p;
    const SpectrumResult r = compute_spectrum(o);
    EXPECT_TRUE(r.warnings.empty()) << to_string(p) << ": " << r.warnings.front();
  }
  o = SpectrumOptions();  // the map's default schedule
  o.backend = GetParam();
  o.model = Model::map;
  o.n = 40;
  o.g = 3;
  const SpectrumResult f64 = compute_spectrum(o);
  EXPECT_TRUE(f64.warnings.empty()) << f64.warnings.front();
  o.precision = Precision::fp32;
  const SpectrumResult f32 = compute_spectrum(o);
  const ConditionWarning w = condition_warning(f32);
  ASSERT_GE(w.from, 2) << "fp32 must warn";
  EXPECT_GT(w.log_condition, std::round(resolvable_log_condition(Precision::fp32)));
  EXPECT_NE(f32.warnings[0].find("fp32"), std::string::npos) << f32.warnings[0];
  EXPECT_NE(f32.warnings[0].find("--precision fp64"), std::string::npos) << f32.warnings[0];
}

RNNLYAP_INSTANTIATE_FOR_BACKENDS(PrecisionAndQr);

}  // namespace
}  // namespace rnnlyap
