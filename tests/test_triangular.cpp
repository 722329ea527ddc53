// The CPU's recursive triangular steps of CholeskyQR (src/cpu/triangular.hpp) against truth in
// long double: the solve X R = B and the factorisation A = RᵀR, for orders below, at and above the
// blocks where the recursion hands over to the library (32, 64), odd ones included, fp64 and fp32.
//
// Tolerances (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed.), componentwise and
// free of conditioning: a triangular solve is backward stable row by row, x_i (R + δR_i) = b_i
// with |δR_i| ≤ γ_n |R| (Thm 8.5), γ_n = nu/(1 − nu); Cholesky gives RᵀR = A + δA with
// |δA| ≤ γ_{n+1} |Rᵀ||R| (Thm 10.3). Both hold for any order of the sums, which is all the
// recursion changes; a wrong block (a sign, an offset, a transposition) is off by O(1). The same
// bounds hold for the overloads that share the work over a thread team (rows, columns, parts of a
// triangle): sharing changes which thread adds, not what.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "cpu/triangular.hpp"

namespace rnnlyap {
namespace {

template <class T>
struct Matrices {
  int rows, n;
  std::vector<T> r;  // n×n upper triangular, well conditioned (a Cholesky factor)
  std::vector<T> a;  // RᵀR (full), SPD
  std::vector<T> b;  // rows×n
};

template <class T>
Matrices<T> make(int rows, int n, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  Matrices<T> m{rows, n, std::vector<T>(static_cast<std::size_t>(n) * n, T(0)),
                std::vector<T>(static_cast<std::size_t>(n) * n, T(0)),
                std::vector<T>(static_cast<std::size_t>(rows) * n)};
  for (int c = 0; c < n; ++c)
    for (int r = 0; r <= c; ++r)  // diagonal 1 … 2, off-diagonal small: κ(R) of order 10
      m.r[static_cast<std::size_t>(c) * n + r] = static_cast<T>(
          r == c ? 1.0 + 0.5 * (1.0 + std::sin(c)) : 0.5 * normal(gen) / std::sqrt(n));
  for (int c = 0; c < n; ++c)
    for (int r = 0; r < n; ++r) {
      long double s = 0;
      for (int l = 0; l <= std::min(r, c); ++l)
        s += static_cast<long double>(m.r[static_cast<std::size_t>(r) * n + l]) *
             m.r[static_cast<std::size_t>(c) * n + l];
      m.a[static_cast<std::size_t>(c) * n + r] = static_cast<T>(s);
    }
  for (T& v : m.b) v = static_cast<T>(normal(gen));
  return m;
}

template <class T>
long double gamma(int n) {
  const long double u = std::numeric_limits<T>::epsilon() / 2;
  return n * u / (1 - n * u);
}

template <class T>
void check_solve(int rows, int n, cpu::ThreadTeam* team = nullptr) {
  const Matrices<T> m = make<T>(rows, n, 11u + static_cast<unsigned>(n));
  std::vector<T> x = m.b;
  cpu::solve_right_upper(rows, n, m.r.data(), n, x.data(), rows, team);
  // Each row x_i satisfies x_i (R + δR_i) = b_i with |δR_i| ≤ γ_n |R|: entry by entry,
  // |x_i R − b_i| ≤ γ_n |x_i| |R| (4γ_n allowed).
  long double worst = 0;
  for (int c = 0; c < n; ++c)
    for (int i = 0; i < rows; ++i) {
      long double s = 0, bound = 0;
      for (int l = 0; l <= c; ++l) {
        const long double p = static_cast<long double>(x[static_cast<std::size_t>(l) * rows + i]) *
                              m.r[static_cast<std::size_t>(c) * n + l];
        s += p;
        bound += std::fabs(p);
      }
      worst = std::max(worst, std::fabs(s - m.b[static_cast<std::size_t>(c) * rows + i]) / bound);
    }
  EXPECT_LE(worst, 4 * gamma<T>(n)) << rows << "×" << n;
}

template <class T>
void check_cholesky(int n, cpu::ThreadTeam* team = nullptr) {
  const Matrices<T> m = make<T>(1, n, 5u + static_cast<unsigned>(n));
  std::vector<T> f = m.a;
  // Only the upper triangle is input (the strictly lower one is not read): NaN there must not
  // reach R.
  for (int c = 0; c < n; ++c)
    for (int r = c + 1; r < n; ++r)
      f[static_cast<std::size_t>(c) * n + r] = std::numeric_limits<T>::quiet_NaN();
  ASSERT_EQ(cpu::cholesky_upper(n, f.data(), n, team), 0) << n;
  const long double allowed = 4 * gamma<T>(n + 1);
  long double worst = 0;
  for (int c = 0; c < n; ++c)
    for (int r = 0; r <= c; ++r) {
      long double s = 0, bound = 0;
      for (int l = 0; l <= r; ++l) {  // R's upper triangle only
        const long double p = static_cast<long double>(f[static_cast<std::size_t>(r) * n + l]) *
                              f[static_cast<std::size_t>(c) * n + l];
        s += p;
        bound += std::fabs(p);
      }
      worst = std::max(worst, std::fabs(s - m.a[static_cast<std::size_t>(c) * n + r]) / bound);
    }
  EXPECT_LE(worst, allowed) << "RᵀR against A, n = " << n;
  // The factor itself: R is unique with a positive diagonal, and well conditioned here.
  long double rerr = 0;
  for (int c = 0; c < n; ++c)
    for (int r = 0; r <= c; ++r)
      rerr = std::max(rerr,
                      std::fabs(static_cast<long double>(f[static_cast<std::size_t>(c) * n + r]) -
                                m.r[static_cast<std::size_t>(c) * n + r]));
  EXPECT_LE(rerr, 100 * n * gamma<T>(n + 1)) << "R against the factor A was made from, n = " << n;
}

// The upper triangle of BᵀB (B rows×n): |G − BᵀB| ≤ γ_rows |B|ᵀ|B| entry by entry (Higham,
// §3.1), 4γ allowed.
template <class T>
void check_gram(int rows, int n, cpu::ThreadTeam* team) {
  const Matrices<T> m = make<T>(rows, n, 3u + static_cast<unsigned>(n));
  std::vector<T> g(static_cast<std::size_t>(n) * n, T(-7));  // β = 0 must overwrite this
  cpu::syrk_t(n, rows, T(1), m.b.data(), rows, T(0), g.data(), n, team);
  long double worst = 0;
  for (int c = 0; c < n; ++c)
    for (int r = 0; r <= c; ++r) {
      long double s = 0, bound = 0;
      for (int i = 0; i < rows; ++i) {
        const long double p =
            static_cast<long double>(m.b[static_cast<std::size_t>(r) * rows + i]) *
            m.b[static_cast<std::size_t>(c) * rows + i];
        s += p;
        bound += std::fabs(p);
      }
      worst = std::max(worst, std::fabs(s - g[static_cast<std::size_t>(c) * n + r]) / bound);
    }
  EXPECT_LE(worst, 4 * gamma<T>(rows))
      << rows << "×" << n << ", team of " << (team ? team->size() : 1);
}

TEST(Triangular, SolveMatchesSubstitution) {
  for (const int n : {1, 17, 32, 33, 64, 65, 100, 129, 257}) {
    check_solve<double>(150, n);
    check_solve<float>(150, n);
  }
  check_solve<double>(3, 200);  // fewer rows than columns
}

TEST(Triangular, CholeskyReproducesTheMatrix) {
  for (const int n : {1, 17, 64, 65, 100, 129, 257}) {
    check_cholesky<double>(n);
    check_cholesky<float>(n);
  }
}

// Shared over teams of two and three: orders where the shared Cholesky recursion takes over
// (above 2·64), shares that are empty or uneven (fewer columns than threads × 8), odd orders.
TEST(Triangular, SharedOverATeamWithinTheSameBounds) {
  for (const int size : {2, 3}) {
    cpu::ThreadTeam team(size);
    for (const int n : {1, 17, 129, 200, 301}) {
      check_solve<double>(150, n, &team);
      check_solve<float>(150, n, &team);
      check_cholesky<double>(n, &team);
      check_cholesky<float>(n, &team);
      check_gram<double>(150, n, &team);
      check_gram<float>(150, n, &team);
    }
    check_solve<double>(5, 300, &team);  // fewer rows than threads × 8
  }
  check_gram<double>(150, 129, nullptr);
}

// A matrix whose leading minor of order j + 1 is the first not positive definite: LAPACK's info
// is j + 1, wherever j falls in the recursion (the first block, the second, a base block), on one
// thread and shared over a team.
TEST(Triangular, CholeskyReportsTheFirstFailingMinor) {
  cpu::ThreadTeam team(3);
  for (cpu::ThreadTeam* t : {static_cast<cpu::ThreadTeam*>(nullptr), &team}) {
    const int n = 300;
    for (const int j : {0, 30, 63, 64, 100, 150, 200, 299}) {
      std::vector<double> a(static_cast<std::size_t>(n) * n, 0.0);
      for (int i = 0; i < n; ++i) a[static_cast<std::size_t>(i) * n + i] = i == j ? -1.0 : 2.0;
      for (int i = 0; i + 1 < n; ++i) a[static_cast<std::size_t>(i + 1) * n + i] = 0.1;  // coupling
      EXPECT_EQ(cpu::cholesky_upper(n, a.data(), n, t), j + 1)
          << "failing pivot " << j << (t ? ", team of 3" : "");
    }
  }
}

}  // namespace
}  // namespace rnnlyap
