// What the emulated cuBLAS (blas.cpp) and cuSOLVER (solver.cpp) share (test-only): the host
// BLAS/LAPACK they compute with (the CPU executor's Fortran declarations, src/cpu/blas_lapack.hpp,
// with the general trsm and potrf these routines need), the registry of live handles, and the
// checks of column-major operands against the device allocations: the elements a call touches,
// the members of a batch, and outputs that overlap.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cpu/blas_lapack.hpp"
#include "emu_runtime.hpp"

namespace rnnlyap::emu::la {

// --- Host BLAS/LAPACK, overloaded on float/double (LAPACK's info is returned) --------------------
using rnnlyap::cpu::gemm;
inline void trsm(char side, char uplo, char trans, char diag, int m, int n, double alpha,
                 const double* a, int lda, double* b, int ldb) {
  dtrsm_(&side, &uplo, &trans, &diag, &m, &n, &alpha, a, &lda, b, &ldb, 1, 1, 1, 1);
}
inline void trsm(char side, char uplo, char trans, char diag, int m, int n, float alpha,
                 const float* a, int lda, float* b, int ldb) {
  strsm_(&side, &uplo, &trans, &diag, &m, &n, &alpha, a, &lda, b, &ldb, 1, 1, 1, 1);
}
inline int geqrf(int m, int n, double* a, int lda, double* tau, double* work, int lwork) {
  int info = 0;
  dgeqrf_(&m, &n, a, &lda, tau, work, &lwork, &info);
  return info;
}
inline int geqrf(int m, int n, float* a, int lda, float* tau, float* work, int lwork) {
  int info = 0;
  sgeqrf_(&m, &n, a, &lda, tau, work, &lwork, &info);
  return info;
}
inline int orgqr(int m, int n, int k, double* a, int lda, const double* tau, double* work,
                 int lwork) {
  int info = 0;
  dorgqr_(&m, &n, &k, a, &lda, tau, work, &lwork, &info);
  return info;
}
inline int orgqr(int m, int n, int k, float* a, int lda, const float* tau, float* work, int lwork) {
  int info = 0;
  sorgqr_(&m, &n, &k, a, &lda, tau, work, &lwork, &info);
  return info;
}
inline int potrf(char uplo, int n, double* a, int lda) {
  int info = 0;
  dpotrf_(&uplo, &n, a, &lda, &info, 1);
  return info;
}
inline int potrf(char uplo, int n, float* a, int lda) {
  int info = 0;
  spotrf_(&uplo, &n, a, &lda, &info, 1);
  return info;
}

/// LAPACK's optimal workspace (elements, at least 1) of geqrf (k < 0) or orgqr of m×n, k
/// reflectors: its lwork = -1 query, which reads no matrix.
template <class T>
int optimal_lwork(int m, int n, int k, int lda) {
  T dummy[1] = {T(0)}, work[1] = {T(0)};
  const int info = k < 0 ? geqrf(m, n, dummy, lda, dummy, work, -1)
                         : orgqr(m, n, k, dummy, lda, dummy, work, -1);
  if (info != 0) return 1;
  return std::max(1, static_cast<int>(work[0]));
}

// --- Handles -------------------------------------------------------------------------------------
/// The live handles of one library: created, checked by every call, destroyed.
template <class Context>
class Handles {
 public:
  Context* create() {
    auto* h = new Context;
    std::lock_guard<std::mutex> lock(mutex_);
    live_.insert(h);
    return h;
  }
  bool live(const Context* h) {
    std::lock_guard<std::mutex> lock(mutex_);
    return h != nullptr && live_.count(h) != 0;
  }
  void destroy(Context* h) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      live_.erase(h);
    }
    delete h;
  }

 private:
  std::mutex mutex_;
  std::set<const Context*> live_;
};

// --- Messages ------------------------------------------------------------------------------------
/// The arguments streamed into one string.
template <class... A>
std::string cat(const A&... a) {
  std::ostringstream s;
  (s << ... << a);
  return s.str();
}
/// violation(api, what) unless ok.
inline void require(bool ok, const char* api, const std::string& what) {
  if (!ok) violation(api, what);
}

// --- Extents -------------------------------------------------------------------------------------
/// The elements from the first of a column-major rows×cols matrix of leading dimension ld to its
/// last, inclusive (0 when it has none): what a call touches, not ld·cols.
inline std::size_t span(int rows, int cols, int ld) {
  if (rows <= 0 || cols <= 0) return 0;
  return static_cast<std::size_t>(cols - 1) * static_cast<std::size_t>(ld) +
         static_cast<std::size_t>(rows);
}
/// a·b, saturated at the largest size_t (no device allocation is that big).
inline std::size_t sat_mul(std::size_t a, std::size_t b) {
  return b != 0 && a > std::numeric_limits<std::size_t>::max() / b
             ? std::numeric_limits<std::size_t>::max()
             : a * b;
}

/// a + b, saturated likewise.
inline std::size_t sat_add(std::size_t a, std::size_t b) {
  return a > std::numeric_limits<std::size_t>::max() - b ? std::numeric_limits<std::size_t>::max()
                                                         : a + b;
}

/// Requires the rows×cols matrix at p (leading dimension ld) to lie in one device allocation;
/// nothing when it has no element (the call touches none).
template <class T>
void require_matrix(const T* p, int rows, int cols, int ld, const char* api,
                    const std::string& arg) {
  const std::size_t n = span(rows, cols, ld);
  if (n != 0) require_device(p, sat_mul(n, sizeof(T)), api, arg.c_str());
}

/// Requires the `batch` members p + b·stride (b < batch) of a strided batch to lie in one device
/// allocation, from the lowest member to the end of the highest (a stride may be 0 or negative).
template <class T>
void require_strided(const T* p, int rows, int cols, int ld, long long stride, int batch,
                     const char* api, const char* arg) {
  const std::size_t one = span(rows, cols, ld);
  if (one == 0 || batch <= 0) return;
  const std::size_t step =
      stride < 0 ? static_cast<std::size_t>(-(stride + 1)) + 1 : static_cast<std::size_t>(stride);
  const std::size_t reach = sat_mul(sat_mul(static_cast<std::size_t>(batch - 1), step), sizeof(T));
  const auto base = reinterpret_cast<std::uintptr_t>(p);
  const std::size_t below = stride < 0 ? reach : 0;
  require(below <= base, api, cat(arg, ": the negative stride reaches below address 0"));
  require_device(reinterpret_cast<const void*>(base - below),
                 sat_add(reach, sat_mul(one, sizeof(T))), api, arg);
}

/// Whether two rows×cols matrices of leading dimension ld >= rows, d >= 0 elements apart, share an
/// element: d = di + dj·ld with |di| < rows, 0 <= dj < cols.
inline bool share_element(std::size_t d, int rows, int cols, int ld) {
  const std::size_t r = static_cast<std::size_t>(rows), l = static_cast<std::size_t>(ld);
  const std::size_t dj = d / l;  // the nearest column offsets are dj and dj + 1
  if (dj < static_cast<std::size_t>(cols) && d - dj * l < r) return true;
  return dj + 1 < static_cast<std::size_t>(cols) && (dj + 1) * l - d < r;
}

/// Requires the batch members at `starts` (rows×cols, leading dimension ld, elements of `size`
/// bytes) to share no element: they are outputs that the device computes concurrently, so an
/// overlap makes the result depend on the schedule (the emulation's rule; it also catches a
/// pointer array that names one matrix twice).
inline void require_disjoint(std::vector<std::uintptr_t> starts, int rows, int cols, int ld,
                             std::size_t size, const char* api, const char* what) {
  const std::size_t n = span(rows, cols, ld);
  if (n == 0 || starts.size() < 2) return;
  std::sort(starts.begin(), starts.end());
  const std::size_t bytes = sat_mul(n, size);
  for (std::size_t i = 0; i + 1 < starts.size(); ++i)
    for (std::size_t j = i + 1; j < starts.size() && starts[j] - starts[i] < bytes; ++j) {
      const std::size_t d = starts[j] - starts[i];
      require(d % size == 0 && !share_element(d / size, rows, cols, ld), api,
              cat(what, ": two members (at ", reinterpret_cast<const void*>(starts[i]), " and ",
                  reinterpret_cast<const void*>(starts[j]),
                  ") share elements; outputs computed concurrently must not overlap"));
    }
}

/// Requires [p, p + bytes) and [q, q + qbytes) to be disjoint (the emulation's rule for a
/// workspace or a status word against the operands).
inline void require_apart(const void* p, std::size_t bytes, const void* q, std::size_t qbytes,
                          const char* api, const std::string& what) {
  const auto a = reinterpret_cast<std::uintptr_t>(p), b = reinterpret_cast<std::uintptr_t>(q);
  if (bytes == 0 || qbytes == 0) return;
  require(a >= b ? a - b >= qbytes : b - a >= bytes, api, what);
}

/// The member pointers of a device array of `batch` pointers (read when the work runs: a kernel
/// queued before may have written them).
template <class P>
std::vector<P> members(const P* array, int batch) {
  return std::vector<P>(array, array + batch);
}

}  // namespace rnnlyap::emu::la
