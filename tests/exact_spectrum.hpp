// A constant map's computed spectrum against its exact exponents, with a tolerance of its own
// (tests/test_exact_below_onset.cpp derives it and computes it case by case): the estimator's
// error is O(1/T), its constant C = log k + 1 for the random start's misalignment with the
// leading subspaces plus the complex pairs' oscillation (the log of their Jordan bases' condition
// numbers; 2 for the small random matrices of these tests). The program's standard errors play no
// part. The exponents are compared in QR order, never sorted: where the exact ones are apart by
// more than the tolerance they must come out in descending order.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <vector>

#include "compare.hpp"
#include "linalg_truth.hpp"

namespace rnnlyap::test {

/// C/T for k exponents over the averaging time t.
inline double exact_tolerance(std::size_t k, double t) {
  return (std::log(static_cast<double>(k)) + 3) / t;
}

/// `got` (QR order) against `exact` (any order; sorted descending here) over averaging time t.
/// Exact exponents below −20 are −∞ (a unit that is off): the computed one must be below −20 too.
inline void expect_exact_spectrum(const std::vector<double>& got, std::vector<double> exact,
                                  double t) {
  exact = sorted_desc(exact);
  ASSERT_EQ(got.size(), exact.size());
  const double tol = exact_tolerance(exact.size(), t);
  for (std::size_t i = 0; i < exact.size(); ++i) {
    if (exact[i] < -20) {
      EXPECT_LT(got[i], -20.0) << "exponent " << i + 1 << " is -inf";
      continue;
    }
    EXPECT_AT_MOST(std::fabs(got[i] - exact[i]), tol)
        << "exponent " << i + 1 << " of " << exact.size() << ": got " << got[i] << ", exact "
        << exact[i] << " (T = " << t << ")";
  }
}

}  // namespace rnnlyap::test
