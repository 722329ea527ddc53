// The one place where tests form a maximum or a difference they compare against a tolerance.
// std::max(m, x) drops a NaN x (NaN < m is false), so a running maximum over an all-NaN result is
// 0 and passes any tolerance. Here a non-finite element makes the result non-finite (NaN for a
// NaN, inf for an inf), and the assertions below fail on it, saying so.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <iterator>
#include <limits>

namespace rnnlyap::test {

/// max(a, b), but NaN when either is NaN (std::max drops a NaN second argument).
inline double nan_max(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  return a < b ? b : a;
}

/// max_i |f(i)| for i < count (0 for none): NaN if any f(i) is NaN, else inf if any is ±inf.
template <class F>
double max_abs_of(std::size_t count, F&& f) {
  double m = 0;
  for (std::size_t i = 0; i < count; ++i) m = nan_max(m, std::fabs(static_cast<double>(f(i))));
  return m;
}

/// max_i |a_i| of a sized, indexable range (a vector, a span).
template <class A>
double max_abs(const A& a) {
  return max_abs_of(std::size(a), [&](std::size_t i) { return a[i]; });
}

/// max_i |a_i − b_i|: inf when the sizes differ, non-finite when any element of either is.
template <class A, class B>
double max_abs_diff(const A& a, const B& b) {
  if (std::size(a) != std::size(b)) return std::numeric_limits<double>::infinity();
  return max_abs_of(std::size(a), [&](std::size_t i) {
    return static_cast<double>(a[i]) - static_cast<double>(b[i]);
  });
}

/// Predicate-format check of `value` ≤ `bound` that names a NaN or infinite value (a non-finite
/// element among the values it was formed from) and a NaN bound.
inline testing::AssertionResult at_most(const char* value_expr, const char* bound_expr,
                                        double value, double bound) {
  if (std::isnan(bound))
    return testing::AssertionFailure() << "the bound " << bound_expr << " is NaN";
  if (std::isnan(value))
    return testing::AssertionFailure() << value_expr << " is NaN: a compared value is NaN (bound "
                                       << bound_expr << " = " << bound << ")";
  if (value <= bound) return testing::AssertionSuccess();
  return testing::AssertionFailure() << value_expr << " = " << value
                                     << (std::isinf(value) ? " (a compared value is infinite)" : "")
                                     << " exceeds " << bound_expr << " = " << bound;
}

/// max_i |a_i − b_i| ≤ tol, naming the worst index, the first non-finite one, and the sizes.
template <class A, class B>
testing::AssertionResult max_abs_diff_at_most(const char* a_expr, const char* b_expr,
                                              const char* tol_expr, const A& a, const B& b,
                                              double tol) {
  if (std::size(a) != std::size(b))
    return testing::AssertionFailure()
           << a_expr << " has " << std::size(a) << " values, " << b_expr << " " << std::size(b);
  const double d = max_abs_diff(a, b);
  if (!std::isnan(tol) && d <= tol) return testing::AssertionSuccess();
  std::size_t worst = 0, bad = std::size(a);
  double worst_d = -1;
  for (std::size_t i = 0; i < std::size(a); ++i) {
    const double di = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    if (!std::isfinite(di) && bad == std::size(a)) bad = i;
    if (di > worst_d) {
      worst_d = di;
      worst = i;
    }
  }
  testing::AssertionResult out = testing::AssertionFailure();
  out << "max |" << a_expr << " − " << b_expr << "| = " << d << ", tolerance " << tol_expr << " = "
      << tol;
  if (bad != std::size(a))
    out << "; first non-finite difference at " << bad << ": " << static_cast<double>(a[bad])
        << " vs " << static_cast<double>(b[bad]);
  else if (worst_d >= 0)
    out << "; largest at " << worst << ": " << static_cast<double>(a[worst]) << " vs "
        << static_cast<double>(b[worst]);
  return out;
}

}  // namespace rnnlyap::test

/// EXPECT/ASSERT value ≤ bound, failing with a message when either is NaN.
#define EXPECT_AT_MOST(value, bound) EXPECT_PRED_FORMAT2(::rnnlyap::test::at_most, value, bound)
#define ASSERT_AT_MOST(value, bound) ASSERT_PRED_FORMAT2(::rnnlyap::test::at_most, value, bound)
/// EXPECT/ASSERT max_i |a_i − b_i| ≤ tol (equal sizes; any non-finite difference fails).
#define EXPECT_MAX_ABS_DIFF_LE(a, b, tol) \
  EXPECT_PRED_FORMAT3(::rnnlyap::test::max_abs_diff_at_most, a, b, tol)
#define ASSERT_MAX_ABS_DIFF_LE(a, b, tol) \
  ASSERT_PRED_FORMAT3(::rnnlyap::test::max_abs_diff_at_most, a, b, tol)
