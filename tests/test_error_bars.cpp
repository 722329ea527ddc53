// Error bars against truth. A standard error says how far an estimate lies from what the same
// computation gives on average; its truth is the spread of the estimate over independent
// repetitions. These tests repeat a run with M independent seeds and compare the sample standard
// deviation s of the estimates with the standard errors the program reported (their root mean
// square σ̄, which estimates the true σ without bias when each reported variance does):
//
//   ratio = s / σ̄.
//
// With M independent, nearly normal estimates, s/σ is distributed as √(χ²_{M−1}/(M−1)). Each band
// below is that distribution's two-sided 10⁻³ interval (quantiles drawn from 2·10⁶ samples of
// χ²), widened by the scatter of σ̄ itself (stated per test). Runs are deterministic (fixed
// seeds), so a test either always passes or always fails; the band bounds the chance that a
// correct program fails for a given choice of seeds. Wrong error bars are caught at these sizes:
// weights w instead of w² in batch means (σ √40 times too large: ratio ≈ 0.16), a halved error
// (ratio ≈ 2), an ensemble error of std/B instead of std/√B (ratio ≈ 3.2).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "compare.hpp"
#include "core/batch_means.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap {
namespace {

struct Spread {
  double sample_std = 0;  ///< s: standard deviation of the estimates over the repetitions
  double rms_error = 0;   ///< σ̄: root mean square of the reported standard errors
  double mean = 0;
  double ratio() const { return sample_std / rms_error; }
};

// A map network's options on the CPU (one thread: runs are independent of the machine's load).
SpectrumOptions map_options(int n, double g, double warmups, double t_sim) {
  SpectrumOptions o;
  o.backend = BackendKind::cpu;
  o.threads = 1;
  o.model = Model::map;
  o.n = n;
  o.g = g;
  o.t_warmup = o.t_ons_warmup = warmups;
  o.t_sim = t_sim;
  return o;
}

Spread spread(const std::vector<double>& estimates, const std::vector<double>& errors) {
  Spread s;
  const double m = static_cast<double>(estimates.size());
  for (double e : estimates) s.mean += e / m;
  double ss = 0, se2 = 0;
  for (double e : estimates) ss += (e - s.mean) * (e - s.mean);
  for (double e : errors) se2 += e * e;
  s.sample_std = std::sqrt(ss / (m - 1));
  s.rms_error = std::sqrt(se2 / static_cast<double>(errors.size()));
  return s;
}

void expect_ratio_in(const std::string& what, const Spread& s, double lo, double hi) {
  const double r = s.ratio();
  std::printf("[ info ] %s: mean %.6g, spread over seeds %.4g, reported error %.4g, ratio %.3f\n",
              what.c_str(), s.mean, s.sample_std, s.rms_error, r);
  EXPECT_TRUE(std::isfinite(r)) << what << ": ratio " << r;
  EXPECT_GE(r, lo) << what << ": the reported standard error (" << s.rms_error
                   << ") is larger than the spread over independent seeds (" << s.sample_std << ")";
  EXPECT_AT_MOST(r, hi) << what << ": the reported standard error (" << s.rms_error
                        << ") is smaller than the spread over independent seeds (" << s.sample_std
                        << ")";
}

// One chaotic network (map, N = 50, g = 3: about 7 positive exponents, D_KY ≈ 13), M = 32 runs
// that differ only in their initial state and basis (network_seed fixed): independent samples
// of the time averages on one attractor. The batch-means errors of λ₁, D_KY and the mean
// exponent each against the spread of that quantity over the runs.
//
// Band: s/σ with 31 degrees of freedom lies in [0.61, 1.43] with probability 0.999. σ̄ pools 32
// batch-means variances of 39 degrees of freedom each (relative scatter of σ̄ about 2 %), and
// batch means with blocks of 25 steps (tens of this map's correlation times) are unbiased to a few
// per cent: [0.55, 1.5].
TEST(ErrorBars, BatchMeansErrorMatchesTheSpreadOverSeeds) {
  constexpr int kSeeds = 32;
  SpectrumOptions o = map_options(50, 3.0, 100, 1000);
  o.network_seed = 11;
  std::vector<double> l1, l1_se, ky, ky_se, mean, mean_se, sum_exp, sum_se;
  for (int s = 0; s < kSeeds; ++s) {
    o.seed = 1000 + static_cast<std::uint64_t>(s);
    const SpectrumResult r = compute_spectrum(o);
    ASSERT_EQ(r.stderr_.size(), r.exponents.size());
    ASSERT_FALSE(r.summary.ky_is_lower_bound);
    ASSERT_GT(r.summary.max_exponent, 0.0) << "the network is chaotic";
    // λ₁'s error is its exponent's: the summary's follows the largest one.
    EXPECT_EQ(r.summary_stderr.max_exponent, r.stderr_.front());
    l1.push_back(r.exponents.front());
    l1_se.push_back(r.stderr_.front());
    ky.push_back(r.summary.ky_dimension);
    ky_se.push_back(r.summary_stderr.ky_dimension);
    mean.push_back(r.summary.mean_exponent);
    mean_se.push_back(r.summary_stderr.mean_exponent);
    sum_exp.push_back(r.summary.sum);
    sum_se.push_back(r.summary_stderr.sum);
  }
  expect_ratio_in("lambda_1", spread(l1, l1_se), 0.55, 1.5);
  expect_ratio_in("D_KY", spread(ky, ky_se), 0.55, 1.5);
  expect_ratio_in("mean exponent", spread(mean, mean_se), 0.55, 1.5);
  expect_ratio_in("sum", spread(sum_exp, sum_se), 0.55, 1.5);
}

// Ensembles: R = 20 ensembles of B = 10 networks each (disjoint seed ranges, so independent), map
// N = 30 at g = 2.5. The ensemble mean's reported error (std over members / √B) against the spread
// of the ensemble means over the R repetitions, for λ₁'s mean and D_KY's mean.
//
// Band: s/σ with 19 degrees of freedom lies in [0.50, 1.55] with probability 0.999; σ̄ pools 20
// sample variances of 9 degrees of freedom (180 in all: relative scatter of σ̄ about 5 %, 0.999
// interval ±17 %): [0.42, 1.8]. The ensemble error of std/B (ratio √10 ≈ 3.2) fails it.
TEST(ErrorBars, EnsembleErrorMatchesTheSpreadOverEnsembles) {
  constexpr int kRepeats = 20, kMembers = 10;
  SpectrumOptions o = map_options(30, 2.5, 50, 300);
  o.ensemble = kMembers;
  std::vector<double> l1, l1_se, ky, ky_se, first, first_se;
  for (int r = 0; r < kRepeats; ++r) {
    o.seed = 500 + static_cast<std::uint64_t>(r) * kMembers;
    const EnsembleResult e = compute_ensemble(o);
    ASSERT_EQ(e.members.size(), static_cast<std::size_t>(kMembers));
    // The definition, on this ensemble: the members' sample standard deviation over √B.
    std::vector<double> m1;
    for (const auto& m : e.members) m1.push_back(m.summary.max_exponent);
    const Spread within = spread(m1, {1.0});
    EXPECT_NEAR(e.stderr_summary.max_exponent, within.sample_std / std::sqrt(double{kMembers}),
                1e-12 * within.sample_std);
    EXPECT_NEAR(e.mean_summary.max_exponent, within.mean, 1e-12 * std::fabs(within.mean));
    l1.push_back(e.mean_summary.max_exponent);
    l1_se.push_back(e.stderr_summary.max_exponent);
    ky.push_back(e.mean_summary.ky_dimension);
    ky_se.push_back(e.stderr_summary.ky_dimension);
    first.push_back(e.mean_exponents.front());
    first_se.push_back(e.stderr_exponents.front());
  }
  expect_ratio_in("ensemble mean of lambda_max", spread(l1, l1_se), 0.42, 1.8);
  expect_ratio_in("ensemble mean of D_KY", spread(ky, ky_se), 0.42, 1.8);
  expect_ratio_in("ensemble mean of exponent 1", spread(first, first_se), 0.42, 1.8);
}

// The summary's errors are those of its quantities as linear functions of the exponents where they
// are linear: the sum's is the error of Σλ_i, the mean's that divided by k, and for a
// non-chaotic run (no positive exponent) the entropy's is 0, as is D_KY's when λ₁ < 0 (D_KY = 0).
TEST(ErrorBars, SummaryErrorsOfLinearQuantities) {
  SpectrumOptions o = map_options(20, 2.0, 100, 400);  // the default warm-ups
  o.seed = 3;
  const SpectrumResult r = compute_spectrum(o);
  EXPECT_NEAR(r.summary_stderr.mean_exponent, r.summary_stderr.sum / o.n,
              1e-12 * r.summary_stderr.sum);
  EXPECT_GT(r.summary_stderr.sum, 0.0);
  o.g = 0.5;
  o.input_std = 0.2;  // a noisy, contracting run: errors, but no positive exponent
  const SpectrumResult q = compute_spectrum(o);
  ASSERT_LT(q.summary.max_exponent, 0.0);
  EXPECT_GT(q.summary_stderr.max_exponent, 0.0);
  EXPECT_EQ(q.summary_stderr.ks_entropy, 0.0);
  EXPECT_EQ(q.summary.ky_dimension, 0.0);
  EXPECT_EQ(q.summary_stderr.ky_dimension, 0.0);
  // One block (t_sim = t_ons): no error can be estimated, and none is reported.
  o.t_sim = 1;
  const SpectrumResult one = compute_spectrum(o);
  EXPECT_TRUE(std::isnan(one.stderr_.front()));
  EXPECT_TRUE(std::isnan(one.summary_stderr.max_exponent));
  EXPECT_TRUE(std::isnan(one.summary_stderr.ky_dimension));
}

// The linearisation itself, against the quantities evaluated block by block: for fluctuations of
// size δ about the estimate, the batch-means error of summarize() applied to each block's rates
// equals the linearised error up to O(δ²) relative. Equal blocks of synthetic rates, an estimate
// with D_KY strictly inside (j = 4) and three positive exponents, in QR order slightly shuffled.
TEST(ErrorBars, SummaryErrorsAreTheBlockwiseQuantitiesLinearised) {
  const std::vector<double> estimate = {0.31,  0.12, 0.05, -0.2, -0.45,
                                        -0.61, -0.8, -1.2, -1.9, -2.5};
  constexpr int kBlocks = 40;
  constexpr double kDelta = 1e-6;
  std::vector<std::vector<double>> rates(kBlocks, estimate);
  std::vector<double> times(kBlocks, 25.0);
  std::uint64_t state = 12345;
  auto uniform = [&] {  // a fixed sequence in (−1, 1)
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) / 4503599627370496.0 - 1.0;
  };
  for (std::size_t i = 0; i < estimate.size(); ++i) {
    double mean = 0;
    for (auto& r : rates) {
      r[i] += kDelta * uniform();
      mean += r[i] / kBlocks;
    }
    for (auto& r : rates) r[i] += estimate[i] - mean;  // the blocks average to the estimate
  }
  const detail::Blocks blocks{rates, times, 0};
  const SpectrumSummary se = detail::summary_stderr(estimate, blocks);
  const SpectrumSummary at = summarize(estimate);
  ASSERT_FALSE(at.ky_is_lower_bound);
  ASSERT_EQ(static_cast<int>(at.ky_dimension), 4);
  // Batch means of a per-block quantity (equal blocks: the sample standard deviation / √B).
  auto blockwise = [&](double SpectrumSummary::*field) {
    double v = 0;
    for (const auto& r : rates) {
      const double d = summarize(r).*field - at.*field;
      v += d * d;
    }
    return std::sqrt(v / (kBlocks - 1) / kBlocks);
  };
  for (auto [name, field] : {std::pair{"max_exponent", &SpectrumSummary::max_exponent},
                             std::pair{"mean_exponent", &SpectrumSummary::mean_exponent},
                             std::pair{"sum", &SpectrumSummary::sum},
                             std::pair{"ky_dimension", &SpectrumSummary::ky_dimension},
                             std::pair{"ks_entropy", &SpectrumSummary::ks_entropy}}) {
    const double want = blockwise(field), got = se.*field;
    ASSERT_GT(want, 0.0) << name;
    EXPECT_AT_MOST(std::fabs(got - want), 1e-4 * want)
        << name << ": linearised " << got << ", block by block " << want;
  }
  // The exponents' errors are the same formula on each exponent.
  const std::vector<double> each = detail::batch_means_stderr(estimate, blocks);
  for (std::size_t i = 0; i < estimate.size(); ++i) {
    double v = 0;
    for (const auto& r : rates) v += (r[i] - estimate[i]) * (r[i] - estimate[i]);
    EXPECT_NEAR(each[i], std::sqrt(v / (kBlocks - 1) / kBlocks), 1e-9 * each[i]) << i;
  }
}

}  // namespace
}  // namespace rnnlyap
