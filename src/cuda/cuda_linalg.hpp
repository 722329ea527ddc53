// cuBLAS and cuSOLVER calls used by the CUDA backend, overloaded on float/double and checked,
// mirroring src/cpu/blas_lapack.hpp. Column-major; scalars are passed in host pointer mode (read
// before the call returns, so temporaries are fine); every call is asynchronous on the handle's
// stream.
#pragma once

#include <cublas_v2.h>
#include <cusolverDn.h>

#include "cuda_check.hpp"

namespace rnnlyap::cuda::la {

/// C = alpha A B + beta C (no transposes), A m×kk, B kk×n, C m×n.
inline void gemm(cublasHandle_t h, int m, int n, int kk, double alpha, const double* a, int lda,
                 const double* b, int ldb, double beta, double* c, int ldc) {
  RNNLYAP_CUBLAS_CHECK(
      cublasDgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, kk, &alpha, a, lda, b, ldb, &beta, c, ldc));
}
inline void gemm(cublasHandle_t h, int m, int n, int kk, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc) {
  RNNLYAP_CUBLAS_CHECK(
      cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, kk, &alpha, a, lda, b, ldb, &beta, c, ldc));
}

/// C = Aᵀ A (upper triangle), A n×k, C k×k.
inline void syrk_t(cublasHandle_t h, int k, int n, const double* a, int lda, double* c, int ldc) {
  const double one = 1, zero = 0;
  RNNLYAP_CUBLAS_CHECK(
      cublasDsyrk(h, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_T, k, n, &one, a, lda, &zero, c, ldc));
}
inline void syrk_t(cublasHandle_t h, int k, int n, const float* a, int lda, float* c, int ldc) {
  const float one = 1, zero = 0;
  RNNLYAP_CUBLAS_CHECK(
      cublasSsyrk(h, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_T, k, n, &one, a, lda, &zero, c, ldc));
}

/// B ← B R⁻¹ in place, R k×k upper triangular, B m×k.
inline void trsm_right_upper(cublasHandle_t h, int m, int k, const double* r, int ldr, double* b,
                             int ldb) {
  const double one = 1;
  RNNLYAP_CUBLAS_CHECK(cublasDtrsm(h, CUBLAS_SIDE_RIGHT, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_N,
                                   CUBLAS_DIAG_NON_UNIT, m, k, &one, r, ldr, b, ldb));
}
inline void trsm_right_upper(cublasHandle_t h, int m, int k, const float* r, int ldr, float* b,
                             int ldb) {
  const float one = 1;
  RNNLYAP_CUBLAS_CHECK(cublasStrsm(h, CUBLAS_SIDE_RIGHT, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_N,
                                   CUBLAS_DIAG_NON_UNIT, m, k, &one, r, ldr, b, ldb));
}

/// Workspace sizes (in elements). cuSOLVER reports them through a status; a non-success status
/// is returned, not thrown, so that the caller can fall back to an estimate.
inline cusolverStatus_t geqrf_lwork(cusolverDnHandle_t h, int m, int n, double* a, int lda,
                                    int& lwork) {
  return cusolverDnDgeqrf_bufferSize(h, m, n, a, lda, &lwork);
}
inline cusolverStatus_t geqrf_lwork(cusolverDnHandle_t h, int m, int n, float* a, int lda,
                                    int& lwork) {
  return cusolverDnSgeqrf_bufferSize(h, m, n, a, lda, &lwork);
}
inline cusolverStatus_t orgqr_lwork(cusolverDnHandle_t h, int m, int n, int k, const double* a,
                                    int lda, const double* tau, int& lwork) {
  return cusolverDnDorgqr_bufferSize(h, m, n, k, a, lda, tau, &lwork);
}
inline cusolverStatus_t orgqr_lwork(cusolverDnHandle_t h, int m, int n, int k, const float* a,
                                    int lda, const float* tau, int& lwork) {
  return cusolverDnSorgqr_bufferSize(h, m, n, k, a, lda, tau, &lwork);
}
inline cusolverStatus_t potrf_lwork(cusolverDnHandle_t h, int n, double* a, int lda, int& lwork) {
  return cusolverDnDpotrf_bufferSize(h, CUBLAS_FILL_MODE_UPPER, n, a, lda, &lwork);
}
inline cusolverStatus_t potrf_lwork(cusolverDnHandle_t h, int n, float* a, int lda, int& lwork) {
  return cusolverDnSpotrf_bufferSize(h, CUBLAS_FILL_MODE_UPPER, n, a, lda, &lwork);
}

/// Householder QR, A = QR: R in the upper triangle, reflectors below it and in tau. `info` is a
/// device pointer, written asynchronously.
inline void geqrf(cusolverDnHandle_t h, int m, int n, double* a, int lda, double* tau, double* work,
                  int lwork, int* info) {
  RNNLYAP_CUSOLVER_CHECK(cusolverDnDgeqrf(h, m, n, a, lda, tau, work, lwork, info));
}
inline void geqrf(cusolverDnHandle_t h, int m, int n, float* a, int lda, float* tau, float* work,
                  int lwork, int* info) {
  RNNLYAP_CUSOLVER_CHECK(cusolverDnSgeqrf(h, m, n, a, lda, tau, work, lwork, info));
}

/// Forms the first n columns of Q from geqrf's reflectors, in place.
inline void orgqr(cusolverDnHandle_t h, int m, int n, int k, double* a, int lda, const double* tau,
                  double* work, int lwork, int* info) {
  RNNLYAP_CUSOLVER_CHECK(cusolverDnDorgqr(h, m, n, k, a, lda, tau, work, lwork, info));
}
inline void orgqr(cusolverDnHandle_t h, int m, int n, int k, float* a, int lda, const float* tau,
                  float* work, int lwork, int* info) {
  RNNLYAP_CUSOLVER_CHECK(cusolverDnSorgqr(h, m, n, k, a, lda, tau, work, lwork, info));
}

/// Cholesky A = RᵀR of the upper triangle, in place.
inline void potrf_upper(cusolverDnHandle_t h, int n, double* a, int lda, double* work, int lwork,
                        int* info) {
  RNNLYAP_CUSOLVER_CHECK(cusolverDnDpotrf(h, CUBLAS_FILL_MODE_UPPER, n, a, lda, work, lwork, info));
}
inline void potrf_upper(cusolverDnHandle_t h, int n, float* a, int lda, float* work, int lwork,
                        int* info) {
  RNNLYAP_CUSOLVER_CHECK(cusolverDnSpotrf(h, CUBLAS_FILL_MODE_UPPER, n, a, lda, work, lwork, info));
}

}  // namespace rnnlyap::cuda::la
