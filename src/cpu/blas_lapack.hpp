// Fortran BLAS/LAPACK entry points (LP64), overloaded on float/double. Declared here rather than
// through a vendor header so that any BLAS found by CMake's FindBLAS links. The trailing size_t
// arguments are the hidden lengths of the character arguments (gfortran's calling convention).
#pragma once

#include <cstddef>
#include <string>

extern "C" {
void dgemm_(const char*, const char*, const int*, const int*, const int*, const double*,
            const double*, const int*, const double*, const int*, const double*, double*,
            const int*, std::size_t, std::size_t);
void sgemm_(const char*, const char*, const int*, const int*, const int*, const float*,
            const float*, const int*, const float*, const int*, const float*, float*, const int*,
            std::size_t, std::size_t);
void dsyrk_(const char*, const char*, const int*, const int*, const double*, const double*,
            const int*, const double*, double*, const int*, std::size_t, std::size_t);
void ssyrk_(const char*, const char*, const int*, const int*, const float*, const float*,
            const int*, const float*, float*, const int*, std::size_t, std::size_t);
void dtrsm_(const char*, const char*, const char*, const char*, const int*, const int*,
            const double*, const double*, const int*, double*, const int*, std::size_t, std::size_t,
            std::size_t, std::size_t);
void strsm_(const char*, const char*, const char*, const char*, const int*, const int*,
            const float*, const float*, const int*, float*, const int*, std::size_t, std::size_t,
            std::size_t, std::size_t);
void dgeqrf_(const int*, const int*, double*, const int*, double*, double*, const int*, int*);
void sgeqrf_(const int*, const int*, float*, const int*, float*, float*, const int*, int*);
void dorgqr_(const int*, const int*, const int*, double*, const int*, const double*, double*,
             const int*, int*);
void sorgqr_(const int*, const int*, const int*, float*, const int*, const float*, float*,
             const int*, int*);
void dpotrf_(const char*, const int*, double*, const int*, int*, std::size_t);
void spotrf_(const char*, const int*, float*, const int*, int*, std::size_t);
void dlarft_(const char*, const char*, const int*, const int*, const double*, const int*,
             const double*, double*, const int*, std::size_t, std::size_t);
void slarft_(const char*, const char*, const int*, const int*, const float*, const int*,
             const float*, float*, const int*, std::size_t, std::size_t);
void dlarfb_(const char*, const char*, const char*, const char*, const int*, const int*, const int*,
             const double*, const int*, const double*, const int*, double*, const int*, double*,
             const int*, std::size_t, std::size_t, std::size_t, std::size_t);
void slarfb_(const char*, const char*, const char*, const char*, const int*, const int*, const int*,
             const float*, const int*, const float*, const int*, float*, const int*, float*,
             const int*, std::size_t, std::size_t, std::size_t, std::size_t);
}

namespace rnnlyap::cpu {

/// C = alpha op(A) op(B) + beta C, column-major.
inline void gemm(char ta, char tb, int m, int n, int k, double alpha, const double* a, int lda,
                 const double* b, int ldb, double beta, double* c, int ldc) {
  dgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc, 1, 1);
}
inline void gemm(char ta, char tb, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc) {
  sgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc, 1, 1);
}
/// C = alpha Aᵀ A + beta C (upper triangle), A is n×k.
inline void syrk_t(int k, int n, double alpha, const double* a, int lda, double beta, double* c,
                   int ldc) {
  const char u = 'U', t = 'T';
  dsyrk_(&u, &t, &k, &n, &alpha, a, &lda, &beta, c, &ldc, 1, 1);
}
inline void syrk_t(int k, int n, float alpha, const float* a, int lda, float beta, float* c,
                   int ldc) {
  const char u = 'U', t = 'T';
  ssyrk_(&u, &t, &k, &n, &alpha, a, &lda, &beta, c, &ldc, 1, 1);
}
/// B ← B R⁻¹ with R upper triangular k×k, B m×k.
inline void trsm_right_upper(int m, int k, const double* r, int ldr, double* b, int ldb) {
  const char s = 'R', u = 'U', n = 'N', d = 'N';
  const double one = 1;
  dtrsm_(&s, &u, &n, &d, &m, &k, &one, r, &ldr, b, &ldb, 1, 1, 1, 1);
}
inline void trsm_right_upper(int m, int k, const float* r, int ldr, float* b, int ldb) {
  const char s = 'R', u = 'U', n = 'N', d = 'N';
  const float one = 1;
  strsm_(&s, &u, &n, &d, &m, &k, &one, r, &ldr, b, &ldb, 1, 1, 1, 1);
}
/// A ← R⁻ᵀA with R upper triangular m×m, A m×n.
inline void trsm_left_upper_transposed(int m, int n, const double* r, int ldr, double* a, int lda) {
  const char s = 'L', u = 'U', t = 'T', d = 'N';
  const double one = 1;
  dtrsm_(&s, &u, &t, &d, &m, &n, &one, r, &ldr, a, &lda, 1, 1, 1, 1);
}
inline void trsm_left_upper_transposed(int m, int n, const float* r, int ldr, float* a, int lda) {
  const char s = 'L', u = 'U', t = 'T', d = 'N';
  const float one = 1;
  strsm_(&s, &u, &t, &d, &m, &n, &one, r, &ldr, a, &lda, 1, 1, 1, 1);
}
inline void geqrf(int m, int n, double* a, int lda, double* tau, double* work, int lwork,
                  int& info) {
  dgeqrf_(&m, &n, a, &lda, tau, work, &lwork, &info);
}
inline void geqrf(int m, int n, float* a, int lda, float* tau, float* work, int lwork, int& info) {
  sgeqrf_(&m, &n, a, &lda, tau, work, &lwork, &info);
}
inline void orgqr(int m, int n, int k, double* a, int lda, const double* tau, double* work,
                  int lwork, int& info) {
  dorgqr_(&m, &n, &k, a, &lda, tau, work, &lwork, &info);
}
inline void orgqr(int m, int n, int k, float* a, int lda, const float* tau, float* work, int lwork,
                  int& info) {
  sorgqr_(&m, &n, &k, a, &lda, tau, work, &lwork, &info);
}
/// The k×k triangular factor T (ldt) of the block reflector H = I − VTVᵀ of k Householder
/// vectors stored columnwise in the m×k V (ldv) as geqrf leaves them (LAPACK larft, forward).
inline void larft(int m, int k, const double* v, int ldv, const double* tau, double* t, int ldt) {
  const char f = 'F', c = 'C';
  dlarft_(&f, &c, &m, &k, v, &ldv, tau, t, &ldt, 1, 1);
}
inline void larft(int m, int k, const float* v, int ldv, const float* tau, float* t, int ldt) {
  const char f = 'F', c = 'C';
  slarft_(&f, &c, &m, &k, v, &ldv, tau, t, &ldt, 1, 1);
}
/// C ← H C ('N') or Hᵀ C ('T'), C m×n (ldc), H = I − VTVᵀ from larft; work n×k (ldwork ≥ n).
inline void larfb_left(char trans, int m, int n, int k, const double* v, int ldv, const double* t,
                       int ldt, double* c, int ldc, double* work, int ldwork) {
  const char l = 'L', f = 'F', col = 'C';
  dlarfb_(&l, &trans, &f, &col, &m, &n, &k, v, &ldv, t, &ldt, c, &ldc, work, &ldwork, 1, 1, 1, 1);
}
inline void larfb_left(char trans, int m, int n, int k, const float* v, int ldv, const float* t,
                       int ldt, float* c, int ldc, float* work, int ldwork) {
  const char l = 'L', f = 'F', col = 'C';
  slarfb_(&l, &trans, &f, &col, &m, &n, &k, v, &ldv, t, &ldt, c, &ldc, work, &ldwork, 1, 1, 1, 1);
}
inline void potrf_upper(int n, double* a, int lda, int& info) {
  const char u = 'U';
  dpotrf_(&u, &n, a, &lda, &info, 1);
}
inline void potrf_upper(int n, float* a, int lda, int& info) {
  const char u = 'U';
  spotrf_(&u, &n, a, &lda, &info, 1);
}

}  // namespace rnnlyap::cpu
