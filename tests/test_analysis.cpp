// Summaries of a spectrum against hand-computed values (docs/design.md definitions).
#include <gtest/gtest.h>

#include "rnnlyap/result.hpp"

namespace rnnlyap {
namespace {

TEST(Summary, KaplanYorkeAndEntropy) {
  // Sorted: 0.5, 0.2, -0.1, -0.4, -1.0. Partial sums 0.5, 0.7, 0.6, 0.2, -0.8 → j = 4,
  // D = 4 + 0.2 / 1.0 = 4.2; H = 0.7.
  const SpectrumSummary s = summarize({0.2, -1.0, 0.5, -0.4, -0.1});
  EXPECT_DOUBLE_EQ(s.ky_dimension, 4.2);
  EXPECT_FALSE(s.ky_is_lower_bound);
  EXPECT_DOUBLE_EQ(s.ks_entropy, 0.7);
  EXPECT_EQ(s.n_positive, 2);
  EXPECT_DOUBLE_EQ(s.max_exponent, 0.5);
  EXPECT_NEAR(s.sum, -0.8, 1e-15);
  EXPECT_NEAR(s.mean_exponent, -0.16, 1e-15);
}

TEST(Summary, StableSpectrumHasDimensionZero) {
  const SpectrumSummary s = summarize({-0.1, -0.3});
  EXPECT_DOUBLE_EQ(s.ky_dimension, 0.0);
  EXPECT_DOUBLE_EQ(s.ks_entropy, 0.0);
  EXPECT_EQ(s.n_positive, 0);
}

TEST(Summary, PartialSpectrumWithPositiveSumIsLowerBound) {
  const SpectrumSummary s = summarize({0.3, 0.1, -0.2});
  EXPECT_DOUBLE_EQ(s.ky_dimension, 3.0);
  EXPECT_TRUE(s.ky_is_lower_bound);
}

}  // namespace
}  // namespace rnnlyap
