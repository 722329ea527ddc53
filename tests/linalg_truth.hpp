// Independent truth for the tests: eigenvalues and determinants from LAPACK's general (non-QR
// iteration) drivers, used only here, never by the library's algorithm.
#pragma once

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstddef>
#include <stdexcept>
#include <vector>

extern "C" {
void dgeev_(const char*, const char*, const int*, double*, const int*, double*, double*, double*,
            const int*, double*, const int*, double*, const int*, int*, std::size_t, std::size_t);
void dgetrf_(const int*, const int*, double*, const int*, int*, int*);
void dgemm_(const char*, const char*, const int*, const int*, const int*, const double*,
            const double*, const int*, const double*, const int*, const double*, double*,
            const int*, std::size_t, std::size_t);
void dgeqrf_(const int*, const int*, double*, const int*, double*, double*, const int*, int*);
void dorgqr_(const int*, const int*, const int*, double*, const int*, const double*, double*,
             const int*, int*);
}

namespace rnnlyap::test {

/// Eigenvalues of the n×n column-major matrix a.
inline std::vector<std::complex<double>> eigenvalues(std::vector<double> a, int n) {
  std::vector<double> wr(n), wi(n), dummy(1);
  int info = 0, lwork = -1, one = 1;
  double q = 0;
  const char no = 'N';
  dgeev_(&no, &no, &n, a.data(), &n, wr.data(), wi.data(), dummy.data(), &one, dummy.data(), &one,
         &q, &lwork, &info, 1, 1);
  lwork = static_cast<int>(q);
  std::vector<double> work(static_cast<std::size_t>(lwork));
  dgeev_(&no, &no, &n, a.data(), &n, wr.data(), wi.data(), dummy.data(), &one, dummy.data(), &one,
         work.data(), &lwork, &info, 1, 1);
  if (info != 0) throw std::runtime_error("dgeev failed");
  std::vector<std::complex<double>> ev(n);
  for (int i = 0; i < n; ++i) ev[i] = {wr[i], wi[i]};
  return ev;
}

/// Eigenvalues and right eigenvectors of the n×n column-major matrix a, as dgeev returns them: a
/// complex pair's eigenvector u ± iv is stored as the columns u, v at the pair's two positions.
struct EigenSystem {
  std::vector<std::complex<double>> values;
  std::vector<double> vectors;
};

inline EigenSystem eigensystem(std::vector<double> a, int n) {
  std::vector<double> wr(n), wi(n), dummy(1);
  EigenSystem e;
  e.vectors.resize(static_cast<std::size_t>(n) * n);
  int info = 0, lwork = -1, one = 1;
  double q = 0;
  const char no = 'N', yes = 'V';
  dgeev_(&no, &yes, &n, a.data(), &n, wr.data(), wi.data(), dummy.data(), &one, e.vectors.data(),
         &n, &q, &lwork, &info, 1, 1);
  lwork = static_cast<int>(q);
  std::vector<double> work(static_cast<std::size_t>(lwork));
  dgeev_(&no, &yes, &n, a.data(), &n, wr.data(), wi.data(), dummy.data(), &one, e.vectors.data(),
         &n, work.data(), &lwork, &info, 1, 1);
  if (info != 0) throw std::runtime_error("dgeev failed");
  for (int i = 0; i < n; ++i) e.values.push_back({wr[i], wi[i]});
  return e;
}

/// log|det a| by LU with partial pivoting.
inline double log_abs_det(std::vector<double> a, int n) {
  std::vector<int> piv(n);
  int info = 0;
  dgetrf_(&n, &n, a.data(), &n, piv.data(), &info);
  if (info < 0) throw std::runtime_error("dgetrf failed");
  double s = 0;
  for (int i = 0; i < n; ++i) s += std::log(std::fabs(a[static_cast<std::size_t>(i) * n + i]));
  return s;
}

/// The m×k column-major product a (m×n) · b (n×k).
inline std::vector<double> matmul(const std::vector<double>& a, const std::vector<double>& b, int m,
                                  int n, int k) {
  std::vector<double> c(static_cast<std::size_t>(m) * k);
  const double one = 1, zero = 0;
  const char no = 'N';
  dgemm_(&no, &no, &m, &k, &n, &one, a.data(), &m, b.data(), &n, &zero, c.data(), &m, 1, 1);
  return c;
}

/// QR of the m×k column-major a (k ≤ m): a becomes Q; returns log|R_ii|.
inline std::vector<double> qr_in_place(std::vector<double>& a, int m, int k) {
  std::vector<double> tau(static_cast<std::size_t>(k)), logs(static_cast<std::size_t>(k));
  int info = 0, lwork = -1;
  double q = 0;
  dgeqrf_(&m, &k, a.data(), &m, tau.data(), &q, &lwork, &info);
  std::vector<double> work(static_cast<std::size_t>(std::max(q, 1.0)) +
                           static_cast<std::size_t>(k));
  lwork = static_cast<int>(work.size());
  dgeqrf_(&m, &k, a.data(), &m, tau.data(), work.data(), &lwork, &info);
  if (info != 0) throw std::runtime_error("dgeqrf failed");
  for (int i = 0; i < k; ++i)
    logs[static_cast<std::size_t>(i)] =
        std::log(std::fabs(a[static_cast<std::size_t>(i) * m + static_cast<std::size_t>(i)]));
  dorgqr_(&m, &k, &k, a.data(), &m, tau.data(), work.data(), &lwork, &info);
  if (info != 0) throw std::runtime_error("dorgqr failed");
  return logs;
}

/// The k×k factor R (column-major) of the QR factorisation of the m×k column-major a (k ≤ m).
inline std::vector<double> qr_r(std::vector<double> a, int m, int k) {
  std::vector<double> tau(static_cast<std::size_t>(k));
  int info = 0, lwork = -1;
  double q = 0;
  dgeqrf_(&m, &k, a.data(), &m, tau.data(), &q, &lwork, &info);
  std::vector<double> work(static_cast<std::size_t>(std::max(q, 1.0)));
  lwork = static_cast<int>(work.size());
  dgeqrf_(&m, &k, a.data(), &m, tau.data(), work.data(), &lwork, &info);
  if (info != 0) throw std::runtime_error("dgeqrf failed");
  std::vector<double> r(static_cast<std::size_t>(k) * k, 0.0);
  for (int c = 0; c < k; ++c)
    for (int i = 0; i <= c; ++i)
      r[static_cast<std::size_t>(c) * k + i] = a[static_cast<std::size_t>(c) * m + i];
  return r;
}

/// Sorted descending.
inline std::vector<double> sorted_desc(std::vector<double> v) {
  std::sort(v.begin(), v.end(), [](double x, double y) { return x > y; });
  return v;
}

}  // namespace rnnlyap::test
