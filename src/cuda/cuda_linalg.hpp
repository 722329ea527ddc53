// The cuBLAS and cuSOLVER calls of the CUDA executor, for T = float or double, checked.
// Column-major; scalars in host pointer mode (read before the call returns); every call is
// asynchronous on the handle's stream. Batched calls take device arrays of per-member pointers,
// and any batch: they call the library in pieces of at most kMaxLibraryBatch members.
#pragma once

#include <cublas_v2.h>
#include <cusolverDn.h>

#include <algorithm>
#include <type_traits>

#include "cuda_check.hpp"

// Calls the double or the float variant of a vendor function, checked by CHECK.
#define RNNLYAP_DS(CHECK, dfn, sfn, ...)     \
  do {                                       \
    if constexpr (std::is_same_v<T, double>) \
      CHECK(dfn(__VA_ARGS__));               \
    else                                     \
      CHECK(sfn(__VA_ARGS__));               \
  } while (0)

namespace rnnlyap::cuda::la {

/// cuBLAS's and cuSOLVER's batched routines take at most this many members per call (a grid
/// dimension of 65535 inside them); larger batches are cut into calls of at most this many.
inline constexpr int kMaxLibraryBatch = 65535;

/// Calls f(first, count) for consecutive pieces [first, first + count) of at most `most` members
/// covering [0, batch): a batched library call per piece, its pointer arrays and strided operands
/// offset to the piece's first member.
template <class F>
void in_pieces(int batch, F&& f, int most = kMaxLibraryBatch) {
  for (int first = 0; first < batch; first += std::min(most, batch - first))
    f(first, std::min(most, batch - first));
}

/// C_b = alpha op(A_b) B_b + beta C_b for b < batch (one plain GEMM when batch = 1).
template <class T>
void gemm(cublasHandle_t h, cublasOperation_t ta, int m, int n, int kk, T alpha, const T* a,
          int lda, long long sa, const T* b, int ldb, long long sb, T beta, T* c, int ldc,
          long long sc, int batch) {
  const cublasOperation_t tb = CUBLAS_OP_N;
  if (batch == 1)
    RNNLYAP_DS(RNNLYAP_CUBLAS_CHECK, cublasDgemm, cublasSgemm, h, ta, tb, m, n, kk, &alpha, a, lda,
               b, ldb, &beta, c, ldc);
  else
    in_pieces(batch, [&](int first, int count) {
      RNNLYAP_DS(RNNLYAP_CUBLAS_CHECK, cublasDgemmStridedBatched, cublasSgemmStridedBatched, h, ta,
                 tb, m, n, kk, &alpha, a + first * sa, lda, sa, b + first * sb, ldb, sb, &beta,
                 c + first * sc, ldc, sc, count);
    });
}

/// B ← B R⁻¹, R k×k upper triangular, B m×k.
template <class T>
void trsm(cublasHandle_t h, int m, int k, const T* r, T* b) {
  const T one = 1;
  RNNLYAP_DS(RNNLYAP_CUBLAS_CHECK, cublasDtrsm, cublasStrsm, h, CUBLAS_SIDE_RIGHT,
             CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_N, CUBLAS_DIAG_NON_UNIT, m, k, &one, r, k, b, m);
}
/// trsm() of every member.
template <class T>
void trsm_batched(cublasHandle_t h, int m, int k, T* const* r, T* const* b, int batch) {
  const T one = 1;
  in_pieces(batch, [&](int first, int count) {
    RNNLYAP_DS(RNNLYAP_CUBLAS_CHECK, cublasDtrsmBatched, cublasStrsmBatched, h, CUBLAS_SIDE_RIGHT,
               CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_N, CUBLAS_DIAG_NON_UNIT, m, k, &one, r + first, k,
               b + first, m, count);
  });
}

/// Cholesky A = RᵀR of the upper triangle of the k×k A, in place; `info` a device int.
template <class T>
void potrf(cusolverDnHandle_t h, int k, T* a, T* work, int lwork, int* info) {
  RNNLYAP_DS(RNNLYAP_CUSOLVER_CHECK, cusolverDnDpotrf, cusolverDnSpotrf, h, CUBLAS_FILL_MODE_UPPER,
             k, a, k, work, lwork, info);
}
/// potrf() of every member; `info` a device array of one int per member.
template <class T>
void potrf_batched(cusolverDnHandle_t h, int k, T** a, int* info, int batch) {
  in_pieces(batch, [&](int first, int count) {
    RNNLYAP_DS(RNNLYAP_CUSOLVER_CHECK, cusolverDnDpotrfBatched, cusolverDnSpotrfBatched, h,
               CUBLAS_FILL_MODE_UPPER, k, a + first, k, info + first, count);
  });
}

/// Householder QR of the m×k A: R in the upper triangle, reflectors below it and in tau.
template <class T>
void geqrf(cusolverDnHandle_t h, int m, int k, T* a, T* tau, T* work, int lwork, int* info) {
  RNNLYAP_DS(RNNLYAP_CUSOLVER_CHECK, cusolverDnDgeqrf, cusolverDnSgeqrf, h, m, k, a, m, tau, work,
             lwork, info);
}
/// geqrf() of every member. `info` is a host int: argument validation only, not the device work.
template <class T>
void geqrf_batched(cublasHandle_t h, int m, int k, T* const* a, T* const* tau, int batch) {
  in_pieces(batch, [&](int first, int count) {
    int info = 0;
    RNNLYAP_DS(RNNLYAP_CUBLAS_CHECK, cublasDgeqrfBatched, cublasSgeqrfBatched, h, m, k, a + first,
               m, tau + first, &info, count);
    if (info != 0)
      throw VendorError("cuBLAS cublas<t>geqrfBatched", info, "invalid argument", __FILE__,
                        __LINE__);
  });
}
/// Forms the m×k Q of geqrf's reflectors in place.
template <class T>
void orgqr(cusolverDnHandle_t h, int m, int k, T* a, const T* tau, T* work, int lwork, int* info) {
  RNNLYAP_DS(RNNLYAP_CUSOLVER_CHECK, cusolverDnDorgqr, cusolverDnSorgqr, h, m, k, k, a, m, tau,
             work, lwork, info);
}

/// The largest workspace (elements) of geqrf and orgqr of an m×k matrix and, with `potrf`, of
/// the k×k Cholesky. The pointers may be null; cuSOLVER may then refuse: a non-success status is
/// returned, not thrown, so that the caller can fall back to an estimate.
template <class T>
cusolverStatus_t workspace(cusolverDnHandle_t h, int m, int k, bool potrf, T* a, T* tau,
                           int& elems) {
  int g = 0, o = 0, p = 0;
  cusolverStatus_t st = CUSOLVER_STATUS_SUCCESS;
  const auto keep = [&](cusolverStatus_t s) {
    if (st == CUSOLVER_STATUS_SUCCESS) st = s;
  };
  RNNLYAP_DS(keep, cusolverDnDgeqrf_bufferSize, cusolverDnSgeqrf_bufferSize, h, m, k, a, m, &g);
  RNNLYAP_DS(keep, cusolverDnDorgqr_bufferSize, cusolverDnSorgqr_bufferSize, h, m, k, k, a, m, tau,
             &o);
  if (potrf)
    RNNLYAP_DS(keep, cusolverDnDpotrf_bufferSize, cusolverDnSpotrf_bufferSize, h,
               CUBLAS_FILL_MODE_UPPER, k, a, k, &p);
  elems = std::max({g, o, p, 1});
  return st;
}

}  // namespace rnnlyap::cuda::la

#undef RNNLYAP_DS
