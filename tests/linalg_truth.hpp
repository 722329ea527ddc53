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

/// Sorted descending.
inline std::vector<double> sorted_desc(std::vector<double> v) {
  std::sort(v.begin(), v.end(), [](double x, double y) { return x > y; });
  return v;
}

}  // namespace rnnlyap::test
