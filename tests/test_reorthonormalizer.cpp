// The executors' re-orthonormalisers (Executor<T>::make_reorthonormalizer), called directly on
// batches of bases of known difficulty, against truth that owes nothing to LAPACK: classical
// Gram–Schmidt with re-orthogonalisation ("twice is enough") in long double on the very values the
// executor was given (rounded to T).
//
// Bases (rows × k = 120 × 40):
//   well     Gaussian, κ ≈ 3.6
//   scaled   Gaussian with column c scaled by 10^{−8c/(k−1)} (fp32: 10^{−4c/(k−1)}): diag(R)
//            spans 1e8, far beyond auto's fallback ratio, yet each column is well determined
//   ill      U diag(σ) Vᵀ with σ geometric from 1 to 1e-5 (fp32: 1e-2): CholeskyQR2's regime
//   singular U diag(σ) Vᵀ with σ down to 1e-10 (fp32: 1e-4): the Gram matrix is numerically
//            singular, only Householder is right
//
// Tolerances, from the first-order perturbation of R (A + δA = (Q + δQ)(R + δR)):
// δR_ii / R_ii = q_iᵀ δA R⁻¹ e_i, so |δ log|R_ii|| ≤ Σ_{j≤i} ‖δa_j‖ |(R⁻¹)_{ji}|. Householder QR is
// columnwise backward stable (‖δa_j‖ ≤ γ ‖a_j‖; Higham, Thm 19.4): S_i = Σ_{j≤i} ‖a_j‖
// |(R⁻¹)_{ji}|, invariant under column scaling. CholeskyQR2 is normwise backward stable (‖δA‖ ≤ γ
// ‖A‖; Yamamoto et al. 2015): N_i = max_j ‖a_j‖ Σ_{j≤i} |(R⁻¹)_{ji}|. One CholeskyQR pass (auto on
// a well-conditioned basis) computes R from the Gram matrix with |δG_jl| ≤ γ ‖a_j‖ ‖a_l‖, which
// moves log R_ii by up to ~S_i². The allowed error is 4·rows·u·X_i with X_i the bound of every
// path the method may take on that basis; γ ≈ √rows·u is typical, rows·u a safe worst case.
// Q: orthonormal to 16·rows·u (≈ 2e-13 in fp64), equal to the truth's up to column signs within
// the same bound times (2i + 1) max_{j≤i} X_j (δq_i collects F's entries of columns ≤ i).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "backends.hpp"
#include "compare.hpp"
#include "core/executor.hpp"
#include "cpu/blas_lapack.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/options.hpp"

namespace rnnlyap {
namespace {

constexpr int kRows = 120, kCols = 40;

enum class Basis { well, scaled, ill, singular };

const char* basis_name(Basis b) {
  switch (b) {
    case Basis::well:
      return "well-conditioned";
    case Basis::scaled:
      return "column-scaled";
    case Basis::ill:
      return "ill-conditioned";
    case Basis::singular:
      return "numerically singular Gram";
  }
  return "?";
}

using Matrix = std::vector<long double>;  // column-major rows × cols

// Q with orthonormal columns (rows × cols), from a Gaussian matrix by long-double Gram–Schmidt.
Matrix random_orthonormal(int rows, int cols, std::mt19937_64& rng);

// The truth: A = Q R by classical Gram–Schmidt with one re-orthogonalisation, in long double.
struct Truth {
  Matrix q, r;  // r: cols × cols upper triangular, column-major; r_ii > 0
};

Truth gram_schmidt(const Matrix& a, int rows, int cols) {
  Truth t;
  t.q = a;
  t.r.assign(static_cast<std::size_t>(cols) * cols, 0.0L);
  const std::size_t m = static_cast<std::size_t>(rows);
  for (int c = 0; c < cols; ++c) {
    long double* v = t.q.data() + c * m;
    for (int pass = 0; pass < 2; ++pass) {
      std::vector<long double> dots(static_cast<std::size_t>(c), 0.0L);
      for (int j = 0; j < c; ++j)
        for (std::size_t r = 0; r < m; ++r) dots[j] += t.q[j * m + r] * v[r];
      for (int j = 0; j < c; ++j) {
        for (std::size_t r = 0; r < m; ++r) v[r] -= dots[j] * t.q[j * m + r];
        t.r[static_cast<std::size_t>(c) * cols + j] += dots[j];
      }
    }
    long double norm = 0;
    for (std::size_t r = 0; r < m; ++r) norm += v[r] * v[r];
    norm = std::sqrt(norm);
    for (std::size_t r = 0; r < m; ++r) v[r] /= norm;
    t.r[static_cast<std::size_t>(c) * cols + c] = norm;
  }
  return t;
}

Matrix random_orthonormal(int rows, int cols, std::mt19937_64& rng) {
  std::normal_distribution<double> n01(0, 1);
  Matrix g(static_cast<std::size_t>(rows) * cols);
  for (long double& v : g) v = n01(rng);
  return gram_schmidt(g, rows, cols).q;
}

// A basis of the given kind, rows × cols, in double.
std::vector<double> make_basis(Basis kind, bool fp32, int rows, int cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n01(0, 1);
  const std::size_t m = static_cast<std::size_t>(rows);
  std::vector<double> a(m * cols);
  if (kind == Basis::well || kind == Basis::scaled) {
    const double decades = fp32 ? 4.0 : 8.0;
    for (int c = 0; c < cols; ++c) {
      const double s = kind == Basis::scaled ? std::pow(10.0, -decades * c / (cols - 1)) : 1.0;
      for (std::size_t r = 0; r < m; ++r) a[c * m + r] = s * n01(rng);
    }
    return a;
  }
  const double floor_decades = kind == Basis::ill ? (fp32 ? 2.0 : 5.0) : (fp32 ? 4.0 : 10.0);
  const Matrix u = random_orthonormal(rows, cols, rng), v = random_orthonormal(cols, cols, rng);
  for (int c = 0; c < cols; ++c)
    for (std::size_t r = 0; r < m; ++r) {
      long double s = 0;
      for (int j = 0; j < cols; ++j)
        s += u[j * m + r] * std::pow(10.0L, -floor_decades * j / (cols - 1)) *
             v[static_cast<std::size_t>(j) * cols + c];  // Vᵀ(j, c) = V(c, j), V column-major
      a[c * m + r] = static_cast<double>(s);
    }
  return a;
}

struct Bounds {
  std::vector<double> log_r;       // log R_ii of the truth
  std::vector<double> s, nrm, s2;  // S_i, N_i, S_i²
  double diag_ratio = 0;           // max/min R_ii
  Truth truth;
};

Bounds bounds_of(const std::vector<double>& a, int rows, int cols) {
  Bounds b;
  const std::size_t m = static_cast<std::size_t>(rows), k = static_cast<std::size_t>(cols);
  Matrix al(a.begin(), a.end());
  b.truth = gram_schmidt(al, rows, cols);
  const Matrix& r = b.truth.r;
  // R⁻¹ by back substitution, column by column.
  Matrix rinv(k * k, 0.0L);
  for (std::size_t c = 0; c < k; ++c) {
    rinv[c * k + c] = 1 / r[c * k + c];
    for (std::size_t i = c; i-- > 0;) {
      long double s = 0;
      for (std::size_t j = i + 1; j <= c; ++j) s += r[j * k + i] * rinv[c * k + j];
      rinv[c * k + i] = -s / r[i * k + i];
    }
  }
  std::vector<long double> norms(k);
  long double max_norm = 0;
  for (std::size_t c = 0; c < k; ++c) {
    long double s = 0;
    for (std::size_t i = 0; i < m; ++i) s += al[c * m + i] * al[c * m + i];
    norms[c] = std::sqrt(s);
    max_norm = std::max(max_norm, norms[c]);
  }
  long double rmax = 0, rmin = INFINITY;
  for (std::size_t i = 0; i < k; ++i) {
    long double s = 0, col = 0;
    for (std::size_t j = 0; j <= i; ++j) {
      s += norms[j] * std::fabs(rinv[i * k + j]);
      col += std::fabs(rinv[i * k + j]);
    }
    b.log_r.push_back(static_cast<double>(std::log(r[i * k + i])));
    b.s.push_back(static_cast<double>(s));
    b.nrm.push_back(static_cast<double>(max_norm * col));
    b.s2.push_back(static_cast<double>(s * s));
    rmax = std::max(rmax, r[i * k + i]);
    rmin = std::min(rmin, r[i * k + i]);
  }
  b.diag_ratio = static_cast<double>(rmax / rmin);
  return b;
}

// X_i: the bound of every path `method` may take on a basis of this kind (see the top).
std::vector<double> allowed(QrMethod method, Basis kind, const Bounds& b) {
  std::vector<double> x = b.s;  // Householder, and any fallback to it
  if (method == QrMethod::householder) return x;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (kind == Basis::well || kind == Basis::ill) x[i] = std::max(x[i], b.nrm[i]);  // two passes
    if (kind == Basis::well && method == QrMethod::auto_select)
      x[i] = std::max(x[i], b.s2[i]);  // one pass
  }
  return x;
}

// cpu_threads: the CPU executor's threads (0: the BLAS library's count; from two, a team).
template <class T>
std::unique_ptr<detail::Executor<T>> executor(BackendKind kind, int cpu_threads = 0) {
  if (kind == BackendKind::cuda) return detail::make_cuda_executor<T>(0);
  return detail::make_cpu_executor<T>(cpu_threads);
}

constexpr double unit_roundoff(bool fp32) {
  return fp32 ? 0x1p-24 : 0x1p-53;
}

// Member b's Q after a re-orthonormalisation: orthonormal, and the truth's up to column signs.
template <class T>
void check_q(const std::string& what, QrMethod method, Basis kind, const Bounds& bounds,
             const std::vector<T>& q, std::size_t b, bool fp32) {
  const double u = unit_roundoff(fp32);
  const std::size_t m = kRows, k = kCols;
  const std::vector<double> x = allowed(method, kind, bounds);
  const T* qb = q.data() + b * m * k;
  double worst_q = 0, worst_orth = 0, max_x = 0;
  std::size_t at_q = 0;
  for (std::size_t i = 0; i < k; ++i) {
    max_x = std::max(max_x, x[i]);
    long double dot = 0;
    for (std::size_t r = 0; r < m; ++r) dot += qb[i * m + r] * bounds.truth.q[i * m + r];
    const long double sign = dot < 0 ? -1 : 1;
    const double e = test::max_abs_of(
        m, [&](std::size_t r) { return sign * qb[i * m + r] - bounds.truth.q[i * m + r]; });
    const double qerr = e / (4 * kRows * u * (2.0 * static_cast<double>(i) + 1) * max_x);
    if (!std::isnan(worst_q) && !(qerr <= worst_q)) {  // keeps the first NaN
      worst_q = qerr;
      at_q = i;
    }
    for (std::size_t j = 0; j <= i; ++j) {
      long double d = 0;
      for (std::size_t r = 0; r < m; ++r)
        d += static_cast<long double>(qb[i * m + r]) * qb[j * m + r];
      worst_orth = test::nan_max(worst_orth, static_cast<double>(std::fabs(d - (i == j ? 1 : 0))));
    }
  }
  EXPECT_AT_MOST(worst_q, 1.0) << what << ": Q off the truth by " << worst_q
                               << " × its bound at column " << at_q;
  EXPECT_AT_MOST(worst_orth, 16 * kRows * u) << what << ": QᵀQ − I";
}

// Logs (k values from `logs` at `from`) against `want` within 4·rows·u·`x`.
void check_logs(const std::string& what, const std::vector<double>& logs, std::size_t from,
                const std::vector<double>& want, const std::vector<double>& x, bool fp32) {
  const double u = unit_roundoff(fp32);
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double err = std::fabs(logs[from + i] - want[i]) / (4 * kRows * u * x[i]);
    if (!std::isnan(worst) && !(err <= worst)) {  // keeps the first NaN
      worst = err;
      at = i;
    }
  }
  EXPECT_AT_MOST(worst, 1.0) << what << ": log|R_ii| off the truth by " << worst
                             << " × its bound at i = " << at << " (got " << logs[from + at]
                             << ", truth " << want[at] << ")";
}

template <class T>
void check_member(const std::string& what, QrMethod method, Basis kind, const Bounds& bounds,
                  const std::vector<T>& q, std::size_t b, const std::vector<double>& logs,
                  bool fp32) {
  check_logs(what, logs, b * kCols, bounds.log_r, allowed(method, kind, bounds), fp32);
  check_q(what, method, kind, bounds, q, b, fp32);
}

struct Member {
  Basis kind;
  std::vector<double> a;
  Bounds bounds;
};

Member make_member(Basis kind, bool fp32, std::uint64_t seed) {
  Member m{kind, make_basis(kind, fp32, kRows, kCols, seed), {}};
  if (fp32)
    for (double& v : m.a) v = static_cast<float>(v);  // the truth of what the executor gets
  m.bounds = bounds_of(m.a, kRows, kCols);
  return m;
}

// One re-orthonormalisation of a batch; returns the logs and Q.
template <class T>
std::pair<std::vector<double>, std::vector<T>> reorthonormalize_once(
    detail::Executor<T>& ex, detail::Reorthonormalizer<T>& qr, detail::Buffer<T>& buf,
    const std::vector<const Member*>& batch) {
  const std::size_t mk = static_cast<std::size_t>(kRows) * kCols;
  std::vector<T> host(batch.size() * mk);
  for (std::size_t b = 0; b < batch.size(); ++b)
    std::copy(batch[b]->a.begin(), batch[b]->a.end(), host.begin() + b * mk);
  ex.copy_in(buf.get(), host.data(), host.size() * sizeof(T));
  qr.reorthonormalize(buf.get(), true);
  std::vector<double> logs = qr.take_log_sums_blocking();
  ex.copy_out_blocking(host.data(), buf.get(), host.size() * sizeof(T));
  return {logs, host};
}

class Reorthonormalizers : public testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override { RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam()); }
};

template <class T>
void check_all_kinds(BackendKind backend, int cpu_threads = 0) {
  constexpr bool fp32 = std::is_same_v<T, float>;
  auto ex = executor<T>(backend, cpu_threads);
  const Basis kinds[] = {Basis::well, Basis::scaled, Basis::ill, Basis::singular};
  std::vector<Member> members;
  for (Basis kind : kinds) members.push_back(make_member(kind, fp32, 100 + members.size()));
  // The bases are what they claim (diag(R) ratio against auto's thresholds: second pass above
  // 1e3 / 10, fallback above 1e6 / 3e2 for fp64 / fp32).
  const double second = fp32 ? 10 : 1e3, fallback = fp32 ? 3e2 : 1e6;
  EXPECT_LT(members[0].bounds.diag_ratio, second);
  EXPECT_GT(members[1].bounds.diag_ratio, 10 * fallback);
  EXPECT_GT(members[2].bounds.diag_ratio, second);
  EXPECT_LT(members[2].bounds.diag_ratio, fallback);
  EXPECT_GT(members[3].bounds.diag_ratio, fallback);
  for (QrMethod method : {QrMethod::householder, QrMethod::cholesky2, QrMethod::auto_select}) {
    const std::string name = std::string(to_string(method)) + (fp32 ? " fp32" : " fp64");
    // All four kinds as one batch: each member is re-orthonormalised on its own.
    const int batch = 4;
    auto qr = ex->make_reorthonormalizer(batch, kRows, kCols, method);
    detail::Buffer<T> buf(*ex, static_cast<std::size_t>(batch) * kRows * kCols);
    std::vector<const Member*> ptrs;
    for (const Member& m : members) ptrs.push_back(&m);
    const auto [logs, q] = reorthonormalize_once(*ex, *qr, buf, ptrs);
    ASSERT_EQ(logs.size(), static_cast<std::size_t>(batch) * kCols);
    for (int b = 0; b < batch; ++b)
      check_member(
          name + ", " + basis_name(members[b].kind) + " (member " + std::to_string(b) + " of 4)",
          method, members[b].kind, members[b].bounds, q, b, logs, fp32);
    // Each kind alone in a batch of one: the same results.
    for (const Member& m : members) {
      auto one = ex->make_reorthonormalizer(1, kRows, kCols, method);
      detail::Buffer<T> b1(*ex, static_cast<std::size_t>(kRows) * kCols);
      const auto [l1, q1] = reorthonormalize_once(*ex, *one, b1, {&m});
      check_member(name + ", " + basis_name(m.kind) + " alone", method, m.kind, m.bounds, q1, 0, l1,
                   fp32);
    }
  }
}

TEST_P(Reorthonormalizers, EveryMethodMatchesGramSchmidtTruthFp64) {
  check_all_kinds<double>(GetParam());
}

TEST_P(Reorthonormalizers, EveryMethodMatchesGramSchmidtTruthFp32) {
  check_all_kinds<float>(GetParam());
}

// A CPU executor of three threads keeps a team of three (cpu_executor.cpp), which shares
// Householder's panel updates, the Gram matrix and the solve (k = 40: two panels, the last of 8
// columns shared three ways, so some shares are empty): the same truth, the same bounds. The
// BLAS library's count is its own again afterwards.
TEST(ReorthonormalizersCpuTeam, EveryMethodMatchesGramSchmidtTruthWithATeamOfThree) {
  const int before = cpu::blas_threads();
  check_all_kinds<double>(BackendKind::cpu, 3);
  check_all_kinds<float>(BackendKind::cpu, 3);
  EXPECT_EQ(cpu::blas_threads(), before) << "the executors gave the library its threads back";
}

// Householder by panels (cpu/orthonormalize.hpp: with a team, and on one thread for
// 48 ≤ k < 128, where LAPACK's geqrf would run unblocked) against LAPACK's geqrf + orgqr called
// here, on Gaussian bases (κ ≲ 10): both are backward-stable Householder QR with the same
// reflectors, so Q and log|R_ii| agree within about rows·u·κ ≈ 3e-13; 1e-11 allows 30× that, and
// a wrong block update is off by O(1). Shapes: narrow panels on one thread (k = 48, 100, 127),
// wide panels with a team (k = 200), fewer columns left than threads × 8.
TEST(ReorthonormalizersCpuTeam, HouseholderByPanelsEqualsLapackToRounding) {
  std::mt19937_64 rng(29);
  std::normal_distribution<double> normal;
  for (const int threads : {1, 3}) {
    for (const auto& [rows, k] :
         {std::pair{150, 48}, {150, 100}, {127, 127}, {300, 200}, {60, 50}}) {
      const std::string what = std::to_string(rows) + "×" + std::to_string(k) + ", " +
                               std::to_string(threads) + " thread(s)";
      std::vector<double> a(static_cast<std::size_t>(rows) * k);
      for (double& v : a) v = normal(rng);
      auto ex = detail::make_cpu_executor<double>(threads);
      auto qr = ex->make_reorthonormalizer(1, rows, k, QrMethod::householder);
      detail::Buffer<double> buf(*ex, a.size());
      ex->copy_in(buf.get(), a.data(), a.size() * sizeof(double));
      qr->reorthonormalize(buf.get(), true);
      const std::vector<double> logs = qr->take_log_sums_blocking();
      std::vector<double> q(a.size());
      ex->copy_out_blocking(q.data(), buf.get(), q.size() * sizeof(double));

      std::vector<double> l = a, tau(static_cast<std::size_t>(k)), work(64 * std::size_t(k) + 64);
      int info = 0;
      const int lwork = static_cast<int>(work.size());
      cpu::geqrf(rows, k, l.data(), rows, tau.data(), work.data(), lwork, info);
      ASSERT_EQ(info, 0);
      double worst_log = 0, worst_q = 0;
      for (int i = 0; i < k; ++i)
        worst_log = std::max(
            worst_log,
            std::fabs(logs[i] - std::log(std::fabs(l[static_cast<std::size_t>(i) * rows + i]))));
      cpu::orgqr(rows, k, k, l.data(), rows, tau.data(), work.data(), lwork, info);
      ASSERT_EQ(info, 0);
      for (std::size_t i = 0; i < l.size(); ++i)
        worst_q = std::max(worst_q, std::fabs(q[i] - l[i]));
      EXPECT_LE(worst_log, 1e-11) << what << ": log|R_ii|";
      EXPECT_LE(worst_q, 1e-11) << what << ": Q";
    }
  }
}

// The sums accumulate over calls with `accumulate`, not without, and taking them zeroes them.
// After a member falls back to Householder, CholeskyQR2 and auto skip CholeskyQR for that member
// for 15 re-orthonormalisations: only results are observable, so every call of a sequence that
// starts with a numerically singular Gram matrix for member 0 (and has another at call 17, an
// ill-conditioned basis at call 5, well-conditioned bases otherwise; member 1 well-conditioned
// throughout) must stay right, through the skip and after it. The sums are taken every third
// call, so each is at most three calls' logs (bounds added).
TEST_P(Reorthonormalizers, SequencesAccumulateAndStayRightThroughFallbacks) {
  auto ex = executor<double>(GetParam());
  const std::size_t mk = static_cast<std::size_t>(kRows) * kCols;
  for (QrMethod method : {QrMethod::householder, QrMethod::cholesky2, QrMethod::auto_select}) {
    const std::string name(to_string(method));
    auto qr = ex->make_reorthonormalizer(2, kRows, kCols, method);
    detail::Buffer<double> buf(*ex, 2 * mk);
    std::vector<double> want(2 * kCols, 0.0), x(2 * kCols, 0.0);
    for (int call = 0; call < 21; ++call) {
      const Basis kind0 = call == 0 || call == 17 ? Basis::singular
                          : call == 5             ? Basis::ill
                                                  : Basis::well;
      const Member m0 = make_member(kind0, false, 1000 + static_cast<std::uint64_t>(call));
      const Member m1 = make_member(Basis::well, false, 2000 + static_cast<std::uint64_t>(call));
      std::vector<double> host(m0.a);
      host.insert(host.end(), m1.a.begin(), m1.a.end());
      ex->copy_in(buf.get(), host.data(), host.size() * sizeof(double));
      const bool accumulate = call % 4 != 1;
      qr->reorthonormalize(buf.get(), accumulate);
      ex->copy_out_blocking(host.data(), buf.get(), host.size() * sizeof(double));
      const std::string what = name + ", call " + std::to_string(call);
      check_q(what + ", member 0 (" + basis_name(kind0) + ")", method, kind0, m0.bounds, host, 0,
              false);
      check_q(what + ", member 1", method, Basis::well, m1.bounds, host, 1, false);
      if (accumulate) {
        const std::vector<double> x0 = allowed(method, kind0, m0.bounds),
                                  x1 = allowed(method, Basis::well, m1.bounds);
        for (int i = 0; i < kCols; ++i) {
          want[i] += m0.bounds.log_r[i];
          want[kCols + i] += m1.bounds.log_r[i];
          x[i] += x0[i];
          x[kCols + i] += x1[i];
        }
      }
      if (call % 3 == 2) {
        const std::vector<double> got = qr->take_log_sums_blocking();
        ASSERT_EQ(got.size(), want.size());
        check_logs(what + ": sums since the last take", got, 0, want, x, false);
        EXPECT_EQ(qr->take_log_sums_blocking(), std::vector<double>(2 * kCols, 0.0))
            << what << ": taking zeroes the sums";
        std::fill(want.begin(), want.end(), 0.0);
        std::fill(x.begin(), x.end(), 0.0);
      }
    }
  }
}

// `auto` keeps one CholeskyQR pass when the first factor's diagonal ratio is at most 1e3: on a
// basis of condition κ = 300 (U diag(σ) Vᵀ, σ geometric from 1 to 1/300, so the ratio is ≤ κ) one
// pass leaves an orthogonality error of order κ²ε ≈ 1e-11, the second pass of cholesky2 brings it
// to order ε. Both give the same log|R_ii| to far better than the exponents need. A two-pass `auto`
// (or Householder) would fail the first expectation.
// max |QᵀQ − I| of a rows × k basis.
double orthogonality_error(const std::vector<double>& q, int rows, int k) {
  double err = 0;
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j) {
      double d = 0;
      for (int r = 0; r < rows; ++r) d += q[i * rows + r] * q[j * rows + r];
      err = test::nan_max(err, std::fabs(d - (i == j ? 1.0 : 0.0)));
    }
  return err;
}

TEST_P(Reorthonormalizers, AutoStopsAfterOnePassOnAWellConditionedBasis) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  constexpr int rows = 200, k = 20;
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal;
  auto orthonormal = [&](int m, int n) {  // modified Gram–Schmidt, twice
    std::vector<double> q(static_cast<std::size_t>(m) * n);
    for (double& v : q) v = normal(rng);
    for (int pass = 0; pass < 2; ++pass)
      for (int c = 0; c < n; ++c) {
        double* qc = q.data() + static_cast<std::size_t>(c) * m;
        for (int p = 0; p < c; ++p) {
          const double* qp = q.data() + static_cast<std::size_t>(p) * m;
          double d = 0;
          for (int r = 0; r < m; ++r) d += qp[r] * qc[r];
          for (int r = 0; r < m; ++r) qc[r] -= d * qp[r];
        }
        double nrm = 0;
        for (int r = 0; r < m; ++r) nrm += qc[r] * qc[r];
        for (int r = 0; r < m; ++r) qc[r] /= std::sqrt(nrm);
      }
    return q;
  };
  const std::vector<double> u = orthonormal(rows, k), v = orthonormal(k, k);
  std::vector<double> a(static_cast<std::size_t>(rows) * k, 0.0);
  for (int c = 0; c < k; ++c)
    for (int j = 0; j < k; ++j) {
      const double w = std::pow(300.0, -static_cast<double>(j) / (k - 1)) * v[c * k + j];
      for (int r = 0; r < rows; ++r)
        a[static_cast<std::size_t>(c) * rows + r] += u[j * rows + r] * w;
    }
  auto run = [&](QrMethod m, std::vector<double>& logs) {
    auto ex = GetParam() == BackendKind::cuda ? detail::make_cuda_executor<double>(0)
                                              : detail::make_cpu_executor<double>();
    auto qr = ex->make_reorthonormalizer(1, rows, k, m);
    detail::Buffer<double> q(*ex, a.size());
    ex->copy_in(q.get(), a.data(), a.size() * sizeof(double));
    qr->reorthonormalize(q.get(), true);
    logs = qr->take_log_sums_blocking();
    std::vector<double> out(a.size());
    ex->copy_out_blocking(out.data(), q.get(), out.size() * sizeof(double));
    return orthogonality_error(out, rows, k);
  };
  std::vector<double> logs_auto, logs_two, logs_hh;
  const double err_auto = run(QrMethod::auto_select, logs_auto);
  const double err_two = run(QrMethod::cholesky2, logs_two);
  const double err_hh = run(QrMethod::householder, logs_hh);
  EXPECT_GT(err_auto, 20 * test::nan_max(err_two, err_hh)) << "auto should stop after one pass";
  EXPECT_LT(err_auto, 1e3 * 1e3 * 2.2e-16) << "one pass loses at most about cond² ε";
  EXPECT_LT(err_two, 1e-13);
  for (int i = 0; i < k; ++i) {
    EXPECT_NEAR(logs_auto[i], logs_hh[i], 1e-9) << i;
    EXPECT_NEAR(logs_two[i], logs_hh[i], 1e-9) << i;
  }

  // After a fallback (columns scaled over 8 decades: diag ratio 1e8 > 1e6), the next 15
  // re-orthonormalisations of that member go straight to Householder (orthogonal to ~ε even on
  // the κ = 300 basis); the 16th tries CholeskyQR again (one pass: the κ²ε error is back).
  auto ex = GetParam() == BackendKind::cuda ? detail::make_cuda_executor<double>(0)
                                            : detail::make_cpu_executor<double>();
  auto qr = ex->make_reorthonormalizer(1, rows, k, QrMethod::auto_select);
  detail::Buffer<double> q(*ex, a.size());
  std::vector<double> bad(a.size()), out(a.size());
  for (int c = 0; c < k; ++c)
    for (int r = 0; r < rows; ++r)
      bad[static_cast<std::size_t>(c) * rows + r] =
          normal(rng) * std::pow(10.0, -8.0 * c / (k - 1));
  auto orthogonality_after = [&](const std::vector<double>& basis) {
    ex->copy_in(q.get(), basis.data(), basis.size() * sizeof(double));
    qr->reorthonormalize(q.get(), false);
    ex->copy_out_blocking(out.data(), q.get(), out.size() * sizeof(double));
    return orthogonality_error(out, rows, k);
  };
  EXPECT_LT(orthogonality_after(bad), 1e-13) << "the fallback is Householder";
  for (int call = 0; call < 15; ++call)
    EXPECT_LT(orthogonality_after(a), err_auto / 20) << "skipped call " << call;
  EXPECT_GT(orthogonality_after(a), 20 * test::nan_max(err_two, err_hh)) << "CholeskyQR again";
}

// last_r_blocking() on both backends alike: refused (rnnlyap::Error naming keep_r) unless R is
// being kept; zeros once keep_r(true) is on and nothing was factorised since; the R of the last
// re-orthonormalisation after one (Q_before = Q_after R); never a stale R after keep_r(false) and
// back on.
TEST_P(Reorthonormalizers, LastRIsRefusedUnlessKept) {
  constexpr int batch = 2, rows = 12, k = 4;
  const std::size_t kk = static_cast<std::size_t>(k) * k, rk = static_cast<std::size_t>(rows) * k;
  const std::vector<double> zeros(batch * kk, 0.0);
  auto ex = executor<double>(GetParam());
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0, 1);
  std::vector<double> a(batch * rk), after(a.size());
  for (double& v : a) v = normal(rng);
  auto expect_refused = [](detail::Reorthonormalizer<double>& qr, const std::string& when) {
    try {
      (void)qr.last_r_blocking();
      ADD_FAILURE() << "last_r_blocking() " << when << " returned instead of refusing";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("keep_r"), std::string::npos) << e.what();
    }
  };
  for (QrMethod method : {QrMethod::householder, QrMethod::cholesky2, QrMethod::auto_select}) {
    SCOPED_TRACE(std::string(to_string(method)));
    auto qr = ex->make_reorthonormalizer(batch, rows, k, method);
    detail::Buffer<double> q(*ex, a.size());
    expect_refused(*qr, "before keep_r(true)");
    qr->keep_r(true);
    EXPECT_EQ(qr->last_r_blocking(), zeros) << "before the first re-orthonormalisation";

    ex->copy_in(q.get(), a.data(), a.size() * sizeof(double));
    qr->reorthonormalize(q.get(), false);
    ex->copy_out_blocking(after.data(), q.get(), after.size() * sizeof(double));
    const std::vector<double> r = qr->last_r_blocking();
    ASSERT_EQ(r.size(), zeros.size());
    for (int b = 0; b < batch; ++b) {  // Q_after R rebuilds the basis
      const std::size_t qo = static_cast<std::size_t>(b) * rk,
                        ro = static_cast<std::size_t>(b) * kk;
      const double err = test::max_abs_of(rk, [&](std::size_t at) {
        const std::size_t i = at % rows, j = at / rows;
        double s = 0;
        for (std::size_t l = 0; l <= j; ++l) s += after[qo + l * rows + i] * r[ro + j * k + l];
        return s - a[qo + at];
      });
      EXPECT_AT_MOST(err, 1e-12) << "member " << b;
    }

    qr->keep_r(false);
    expect_refused(*qr, "after keep_r(false)");
    qr->reorthonormalize(q.get(), false);  // not kept: R must not survive to the next keep_r(true)
    expect_refused(*qr, "after a re-orthonormalisation without keep_r");
    qr->keep_r(true);
    EXPECT_EQ(qr->last_r_blocking(), zeros) << "keep_r(true) again: no stale R";
  }
}

// A batch beyond the 65535 members cuBLAS's and cuSOLVER's batched routines take per call (the
// CUDA executor calls them in pieces): every member, those of the last piece too, is
// re-orthonormalised on its own. Member b's basis has columns (1, 1 + b mod 7, 1/2) and
// (3/10, −1, 2 + b mod 5), so a piece that read another piece's members gets wrong logs.
TEST_P(Reorthonormalizers, BatchesBeyondTheLibrariesLimitPerCall) {
  constexpr int batch = 65535 + 5, rows = 3, k = 2;
  constexpr std::size_t rk = static_cast<std::size_t>(rows) * k;
  auto ex = executor<double>(GetParam());
  std::vector<double> a(batch * rk), want(static_cast<std::size_t>(batch) * k);
  for (std::size_t b = 0; b < static_cast<std::size_t>(batch); ++b) {
    const double c1[3] = {1, 1.0 + static_cast<double>(b % 7), 0.5},
                 c2[3] = {0.3, -1, 2.0 + static_cast<double>(b % 5)};
    std::copy(c1, c1 + 3, a.begin() + static_cast<std::ptrdiff_t>(b * rk));
    std::copy(c2, c2 + 3, a.begin() + static_cast<std::ptrdiff_t>(b * rk + 3));
    // Gram–Schmidt: R_11 = |c1|, R_22 = |c2 − (q1·c2) q1|.
    const double r11 = std::sqrt(c1[0] * c1[0] + c1[1] * c1[1] + c1[2] * c1[2]);
    const double p = (c1[0] * c2[0] + c1[1] * c2[1] + c1[2] * c2[2]) / r11;
    double r22 = 0;
    for (int i = 0; i < 3; ++i) r22 += (c2[i] - p * c1[i] / r11) * (c2[i] - p * c1[i] / r11);
    want[2 * b] = std::log(r11);
    want[2 * b + 1] = 0.5 * std::log(r22);
  }
  for (QrMethod method : {QrMethod::householder, QrMethod::cholesky2}) {
    SCOPED_TRACE(std::string(to_string(method)));
    auto qr = ex->make_reorthonormalizer(batch, rows, k, method);
    detail::Buffer<double> q(*ex, a.size());
    ex->copy_in(q.get(), a.data(), a.size() * sizeof(double));
    qr->reorthonormalize(q.get(), true);
    const std::vector<double> logs = qr->take_log_sums_blocking();
    std::vector<double> out(a.size());
    ex->copy_out_blocking(out.data(), q.get(), out.size() * sizeof(double));
    EXPECT_MAX_ABS_DIFF_LE(logs, want, 1e-13);
    const double orth = test::max_abs_of(static_cast<std::size_t>(batch) * 3, [&](std::size_t at) {
      const double* m = out.data() + at / 3 * rk;  // member at / 3: entry at % 3 of QᵀQ − I
      const int i = at % 3 == 2 ? 1 : 0, j = at % 3 == 0 ? 0 : 1;
      double d = 0;
      for (int r = 0; r < rows; ++r) d += m[i * rows + r] * m[j * rows + r];
      return d - (i == j ? 1.0 : 0.0);
    });
    EXPECT_AT_MOST(orth, 1e-14);
  }
}

// --- A failed Cholesky factorisation, in either pass, falls back --------------------------------
// Bases built to break CholeskyQR in each pass. No re-orthonormalisation may end with an error;
// the broken member gets what Householder QR gives it (the same routine on the same values, so to
// rounding), its batch mates keep their CholeskyQR result, and the fallback counts toward the 15
// re-orthonormalisations that go straight to Householder.
//   zero pivot   a Gaussian basis with rows 0 and 1 emptied and columns 10, 11 replaced by
//                (1, 0, 0…) and (1, δ, 0…), δ² below half an ulp of 1 (δ = 2⁻³⁰; fp32 2⁻¹³): every
//                Gram entry the factorisation touches is exact and the first potrf meets an exact
//                zero pivot (info 12). Householder resolves R₁₁,₁₁ = δ.
//   overflow     a Gaussian basis with column 7 scaled by 1e160 (fp32 1e20): the Gram matrix
//                overflows. OpenBLAS's potrf then returns info 0 with a factor that is not
//                finite; the first pass must see that as the failure it is.
//   second pass  A = U D (I − 2N), U orthonormal, N the strictly upper triangle of ones, D
//                geometric from 1 to 10^−4.5 (fp32 10^−2): the first factor's diagonal ratio (8e3;
//                fp32 36) passes the conditioning check and makes auto take a second pass too,
//                but cond(A) ≈ 3⁴⁰ leaves Q R₁⁻¹ so far from orthonormal that the second potrf
//                fails. Which such bases fail in the second pass rather than the first depends
//                on rounding: these seeds were picked so that they do with OpenBLAS 0.3.21's
//                Haswell kernels, with MKL 2025.3 and on the emulated device (syrk and gemm Gram
//                matrices alike; fp32 seed 10, which did with OpenBLAS, passes both with MKL, and
//                the test then showed CholeskyQR2 accepting a basis it cannot handle). On another
//                LAPACK the basis may fail in the first pass (still a fallback) or pass both, with
//                the same consequence.
enum class Break { zero_pivot, overflow, second_pass };

const char* break_name(Break b) {
  switch (b) {
    case Break::zero_pivot:
      return "first pass: exact zero pivot";
    case Break::overflow:
      return "first pass: Gram matrix overflows";
    case Break::second_pass:
      return "second pass";
  }
  return "?";
}

std::vector<double> broken_basis(Break kind, bool fp32, int seed = -1) {
  const std::size_t m = kRows;
  if (kind == Break::second_pass) {
    std::mt19937_64 rng(seed >= 0 ? seed : fp32 ? 16 : 3);
    const Matrix u = random_orthonormal(kRows, kCols, rng);
    const double decades =
        fp32 ? 2.0 : 4.5;  // the exponents in double, as when the seeds were picked
    std::vector<double> a(m * kCols);
    for (int j = 0; j < kCols; ++j)
      for (std::size_t r = 0; r < m; ++r) {
        long double s = 0;
        for (int i = 0; i <= j; ++i)
          s += u[i * m + r] * std::pow(10.0L, -decades * i / (kCols - 1)) * (i == j ? 1.0L : -2.0L);
        a[j * m + r] = static_cast<double>(s);
      }
    return a;
  }
  std::vector<double> a = make_basis(Basis::well, fp32, kRows, kCols, 300);
  if (kind == Break::overflow) {
    for (std::size_t r = 0; r < m; ++r) a[7 * m + r] *= fp32 ? 1e20 : 1e160;
    return a;
  }
  for (int c = 0; c < kCols; ++c) a[c * m] = a[c * m + 1] = 0;
  for (std::size_t c : {10, 11})
    for (std::size_t r = 0; r < m; ++r) a[c * m + r] = 0;
  a[10 * m] = a[11 * m] = 1;
  a[11 * m + 1] = fp32 ? 0x1p-13 : 0x1p-30;
  return a;
}

// One accumulating re-orthonormalisation of the given bases as one batch: logs and Q.
template <class T>
std::pair<std::vector<double>, std::vector<T>> run_batch(
    detail::Executor<T>& ex, QrMethod method,
    const std::vector<const std::vector<double>*>& bases) {
  const std::size_t mk = static_cast<std::size_t>(kRows) * kCols;
  auto qr = ex.make_reorthonormalizer(static_cast<int>(bases.size()), kRows, kCols, method);
  detail::Buffer<T> buf(ex, bases.size() * mk);
  std::vector<T> host(bases.size() * mk);
  for (std::size_t b = 0; b < bases.size(); ++b)
    std::transform(bases[b]->begin(), bases[b]->end(), host.begin() + b * mk,
                   [](double v) { return static_cast<T>(v); });
  ex.copy_in(buf.get(), host.data(), host.size() * sizeof(T));
  qr->reorthonormalize(buf.get(), true);
  std::vector<double> logs = qr->take_log_sums_blocking();
  ex.copy_out_blocking(host.data(), buf.get(), host.size() * sizeof(T));
  return {logs, host};
}

// Member b of `got` equals member c of `want` to rounding: log|R_ii| within 64·rows·u·max(1,
// |log|), each column of Q within 64·rows·u up to its sign.
template <class T>
void expect_same_member(const std::string& what,
                        const std::pair<std::vector<double>, std::vector<T>>& got, std::size_t b,
                        const std::pair<std::vector<double>, std::vector<T>>& want, std::size_t c) {
  const double tol = 64 * kRows * unit_roundoff(std::is_same_v<T, float>);
  const std::size_t m = kRows, k = kCols;
  double worst_log = 0, worst_q = 0;
  for (std::size_t i = 0; i < k; ++i) {
    const double w = want.first[c * k + i];
    worst_log =
        test::nan_max(worst_log, std::fabs(got.first[b * k + i] - w) / std::max(1.0, std::fabs(w)));
    const T* g = got.second.data() + (b * k + i) * m;
    const T* h = want.second.data() + (c * k + i) * m;
    const double plus = test::max_abs_of(
        m, [&](std::size_t r) { return static_cast<double>(g[r]) - static_cast<double>(h[r]); });
    const double minus = test::max_abs_of(
        m, [&](std::size_t r) { return static_cast<double>(g[r]) + static_cast<double>(h[r]); });
    worst_q = test::nan_max(worst_q, std::min(plus, minus));
  }
  EXPECT_AT_MOST(worst_log, tol) << what << ": log|R_ii|";
  EXPECT_AT_MOST(worst_q, tol) << what << ": Q";
}

// How many columns of member b's Q point against the basis they came from: none after CholeskyQR
// (R_cc > 0), about half after Householder QR.
template <class T>
int flipped_columns(const std::vector<T>& q, std::size_t b, const std::vector<double>& basis) {
  const std::size_t m = kRows;
  int flipped = 0;
  for (std::size_t c = 0; c < static_cast<std::size_t>(kCols); ++c) {
    double dot = 0;
    for (std::size_t r = 0; r < m; ++r)
      dot += static_cast<double>(q[(b * kCols + c) * m + r]) * basis[c * m + r];
    flipped += dot < 0;
  }
  return flipped;
}

template <class T>
void check_breaks(BackendKind backend) {
  constexpr bool fp32 = std::is_same_v<T, float>;
  auto ex = executor<T>(backend);
  const std::vector<double> well1 = make_basis(Basis::well, fp32, kRows, kCols, 400),
                            well2 = make_basis(Basis::well, fp32, kRows, kCols, 401);
  for (Break kind : {Break::zero_pivot, Break::overflow, Break::second_pass}) {
    const std::vector<double> broken = broken_basis(kind, fp32);
    const auto householder = run_batch<T>(*ex, QrMethod::householder, {&broken});
    for (QrMethod method : {QrMethod::cholesky2, QrMethod::auto_select}) {
      const std::string name =
          std::string(to_string(method)) + (fp32 ? " fp32, " : " fp64, ") + break_name(kind);
      SCOPED_TRACE(name);
      // Alone: the Householder result, no error.
      const auto alone = run_batch<T>(*ex, method, {&broken});
      expect_same_member(name + ", alone", alone, 0, householder, 0);
      // Second of three: it alone falls back; the others keep their CholeskyQR result.
      const auto batch = run_batch<T>(*ex, method, {&well1, &broken, &well2});
      expect_same_member(name + ", member 1 of 3", batch, 1, householder, 0);
      const std::vector<double>* others[] = {&well1, &well2};
      for (std::size_t o = 0; o < 2; ++o) {
        const auto own = run_batch<T>(*ex, method, {others[o]});
        expect_same_member(name + ", member " + std::to_string(2 * o) + " of 3", batch, 2 * o, own,
                           0);
        EXPECT_EQ(flipped_columns(batch.second, 2 * o, *others[o]), 0)
            << name << ", member " << 2 * o << " of 3 must keep CholeskyQR";
      }
      // The fallback counts: the next 15 re-orthonormalisations of that member are Householder
      // (columns flipped), the 16th CholeskyQR again.
      const std::size_t mk = static_cast<std::size_t>(kRows) * kCols;
      auto qr = ex->make_reorthonormalizer(1, kRows, kCols, method);
      detail::Buffer<T> buf(*ex, mk);
      std::vector<T> host(mk);
      for (int call = 0; call < 17; ++call) {
        const std::vector<double>& basis = call == 0 ? broken : well1;
        std::transform(basis.begin(), basis.end(), host.begin(),
                       [](double v) { return static_cast<T>(v); });
        ex->copy_in(buf.get(), host.data(), mk * sizeof(T));
        qr->reorthonormalize(buf.get(), false);
        ex->copy_out_blocking(host.data(), buf.get(), mk * sizeof(T));
        if (call == 0) continue;
        if (call <= 15)
          EXPECT_GT(flipped_columns(host, 0, basis), 0) << name << ": call " << call << " skips";
        else
          EXPECT_EQ(flipped_columns(host, 0, basis), 0) << name << ": call 16 is CholeskyQR";
      }
      EXPECT_NO_THROW((void)qr->take_log_sums_blocking()) << name;
      // A basis that keeps failing: the first CholeskyQR after the skip falls back again and the
      // next skip is 30; a CholeskyQR that succeeds brings it back to 15. Broken at calls 0, 16
      // and 48: Householder for 1–15 and, after the second fallback, 17–46; CholeskyQR at 47
      // (well: success); Householder 49–63 after the third fallback (15 again); CholeskyQR at 64.
      auto again = ex->make_reorthonormalizer(1, kRows, kCols, method);
      for (int call = 0; call <= 64; ++call) {
        const bool is_broken = call == 0 || call == 16 || call == 48;
        const std::vector<double>& basis = is_broken ? broken : well1;
        std::transform(basis.begin(), basis.end(), host.begin(),
                       [](double v) { return static_cast<T>(v); });
        ex->copy_in(buf.get(), host.data(), mk * sizeof(T));
        again->reorthonormalize(buf.get(), false);
        ex->copy_out_blocking(host.data(), buf.get(), mk * sizeof(T));
        if (is_broken) continue;
        if (call == 47 || call == 64)
          EXPECT_EQ(flipped_columns(host, 0, basis), 0)
              << name << ": call " << call << " is CholeskyQR";
        else
          EXPECT_GT(flipped_columns(host, 0, basis), 0) << name << ": call " << call << " skips";
      }
    }
  }
}

TEST_P(Reorthonormalizers, CholeskyFailureInEitherPassFallsBackFp64) {
  check_breaks<double>(GetParam());
}

TEST_P(Reorthonormalizers, CholeskyFailureInEitherPassFallsBackFp32) {
  check_breaks<float>(GetParam());
}

// Ill-conditioned beyond what the first factor shows: the second-pass bases above for 40 seeds
// (κ ≈ 3⁴⁰ with unit-diagonal R, a first factor's diagonal ratio of about 34 in fp32 and 8e3 in
// fp64, both below the limits). Whichever way each goes on this LAPACK (a factorisation fails, or
// both succeed and R₂'s diagonal ratio exceeds √3: qr_policy.hpp, kMaxSecondPassRatio), the Q
// returned must be orthonormal to rounding, max |QᵀQ − I| ≤ 64·rows·u: Householder's after a
// fallback. Without that limit, on OpenBLAS 0.3.21 (Haswell kernels) and on the emulated device,
// CholeskyQR2 and `auto` returned Q up to 0.52 from orthonormal in fp32 (seed 3) and 0.54 in fp64
// (seed 5), with no fallback and no warning.
template <class T>
void check_beyond_the_first_factor(BackendKind backend) {
  constexpr bool fp32 = std::is_same_v<T, float>;
  auto ex = executor<T>(backend);
  const double tol = 64 * kRows * unit_roundoff(fp32);
  for (QrMethod method : {QrMethod::cholesky2, QrMethod::auto_select}) {
    double worst = 0;
    int worst_seed = -1;
    for (int seed = 0; seed < 40; ++seed) {
      const std::vector<double> basis = broken_basis(Break::second_pass, fp32, seed);
      const auto got = run_batch<T>(*ex, method, {&basis});
      const double orth = orthogonality_error(
          std::vector<double>(got.second.begin(), got.second.end()), kRows, kCols);
      if (!(orth <= worst)) {
        worst = orth;
        worst_seed = seed;
      }
    }
    EXPECT_AT_MOST(worst, tol) << to_string(method) << (fp32 ? " fp32" : " fp64")
                               << ": max |QᵀQ − I|, seed " << worst_seed;
  }
}

TEST_P(Reorthonormalizers, IllConditionedBeyondTheFirstFactorFallsBack) {
  check_beyond_the_first_factor<float>(GetParam());
  check_beyond_the_first_factor<double>(GetParam());
}

RNNLYAP_INSTANTIATE_FOR_BACKENDS(Reorthonormalizers);

}  // namespace
}  // namespace rnnlyap
