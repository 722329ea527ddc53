// The BLACS, PBLAS and ScaLAPACK routines the distributed executor calls (Netlib's reference
// ScaLAPACK, Debian's libscalapack-openmpi), declared here as the library exports them (Fortran
// names, every argument by address) and overloaded on the working precision.
#pragma once

extern "C" {
void Cblacs_pinfo(int* me, int* procs);
void Cblacs_get(int context, int what, int* value);
void Cblacs_gridinit(int* context, const char* order, int rows, int cols);
void Cblacs_gridinfo(int context, int* rows, int* cols, int* row, int* col);
void Cblacs_gridexit(int context);
int numroc_(const int* n, const int* nb, const int* iproc, const int* isrc, const int* nprocs);
void descinit_(int* desc, const int* m, const int* n, const int* mb, const int* nb,
               const int* irsrc, const int* icsrc, const int* context, const int* lld, int* info);
void pdgemm_(const char*, const char*, const int*, const int*, const int*, const double*,
             const double*, const int*, const int*, const int*, const double*, const int*,
             const int*, const int*, const double*, double*, const int*, const int*, const int*);
void psgemm_(const char*, const char*, const int*, const int*, const int*, const float*,
             const float*, const int*, const int*, const int*, const float*, const int*, const int*,
             const int*, const float*, float*, const int*, const int*, const int*);
void pdsyrk_(const char*, const char*, const int*, const int*, const double*, const double*,
             const int*, const int*, const int*, const double*, double*, const int*, const int*,
             const int*);
void pssyrk_(const char*, const char*, const int*, const int*, const float*, const float*,
             const int*, const int*, const int*, const float*, float*, const int*, const int*,
             const int*);
void pdtrsm_(const char*, const char*, const char*, const char*, const int*, const int*,
             const double*, const double*, const int*, const int*, const int*, double*, const int*,
             const int*, const int*);
void pstrsm_(const char*, const char*, const char*, const char*, const int*, const int*,
             const float*, const float*, const int*, const int*, const int*, float*, const int*,
             const int*, const int*);
void pdpotrf_(const char*, const int*, double*, const int*, const int*, const int*, int*);
void pspotrf_(const char*, const int*, float*, const int*, const int*, const int*, int*);
void pdgeqrf_(const int*, const int*, double*, const int*, const int*, const int*, double*, double*,
              const int*, int*);
void psgeqrf_(const int*, const int*, float*, const int*, const int*, const int*, float*, float*,
              const int*, int*);
void pdorgqr_(const int*, const int*, const int*, double*, const int*, const int*, const int*,
              const double*, double*, const int*, int*);
void psorgqr_(const int*, const int*, const int*, float*, const int*, const int*, const int*,
              const float*, float*, const int*, int*);
}

namespace rnnlyap::distributed::pblas {

// A global matrix from its first element (row 1, column 1) and its descriptor.
template <class T>
struct Sub {
  T* a;
  const int* desc;
};

inline void gemm(int m, int n, int k, double alpha, Sub<const double> a, Sub<const double> b,
                 double beta, Sub<double> c) {
  const int one = 1;
  pdgemm_("N", "N", &m, &n, &k, &alpha, a.a, &one, &one, a.desc, b.a, &one, &one, b.desc, &beta,
          c.a, &one, &one, c.desc);
}
inline void gemm(int m, int n, int k, float alpha, Sub<const float> a, Sub<const float> b,
                 float beta, Sub<float> c) {
  const int one = 1;
  psgemm_("N", "N", &m, &n, &k, &alpha, a.a, &one, &one, a.desc, b.a, &one, &one, b.desc, &beta,
          c.a, &one, &one, c.desc);
}
// The upper triangle of C = AᵀA (A rows × k, C k × k).
inline void syrk_t(int k, int rows, Sub<const double> a, Sub<double> c) {
  const int one = 1;
  const double alpha = 1, beta = 0;
  pdsyrk_("U", "T", &k, &rows, &alpha, a.a, &one, &one, a.desc, &beta, c.a, &one, &one, c.desc);
}
inline void syrk_t(int k, int rows, Sub<const float> a, Sub<float> c) {
  const int one = 1;
  const float alpha = 1, beta = 0;
  pssyrk_("U", "T", &k, &rows, &alpha, a.a, &one, &one, a.desc, &beta, c.a, &one, &one, c.desc);
}
// B ← B R⁻¹ (R upper triangular k × k, B rows × k).
inline void solve_right_upper(int rows, int k, Sub<const double> r, Sub<double> b) {
  const int one = 1;
  const double alpha = 1;
  pdtrsm_("R", "U", "N", "N", &rows, &k, &alpha, r.a, &one, &one, r.desc, b.a, &one, &one, b.desc);
}
inline void solve_right_upper(int rows, int k, Sub<const float> r, Sub<float> b) {
  const int one = 1;
  const float alpha = 1;
  pstrsm_("R", "U", "N", "N", &rows, &k, &alpha, r.a, &one, &one, r.desc, b.a, &one, &one, b.desc);
}
inline int potrf_upper(int k, Sub<double> a) {
  const int one = 1;
  int info = 0;
  pdpotrf_("U", &k, a.a, &one, &one, a.desc, &info);
  return info;
}
inline int potrf_upper(int k, Sub<float> a) {
  const int one = 1;
  int info = 0;
  pspotrf_("U", &k, a.a, &one, &one, a.desc, &info);
  return info;
}
inline int geqrf(int m, int n, Sub<double> a, double* tau, double* work, int lwork) {
  const int one = 1;
  int info = 0;
  pdgeqrf_(&m, &n, a.a, &one, &one, a.desc, tau, work, &lwork, &info);
  return info;
}
inline int geqrf(int m, int n, Sub<float> a, float* tau, float* work, int lwork) {
  const int one = 1;
  int info = 0;
  psgeqrf_(&m, &n, a.a, &one, &one, a.desc, tau, work, &lwork, &info);
  return info;
}
inline int orgqr(int m, int n, Sub<double> a, const double* tau, double* work, int lwork) {
  const int one = 1;
  int info = 0;
  pdorgqr_(&m, &n, &n, a.a, &one, &one, a.desc, tau, work, &lwork, &info);
  return info;
}
inline int orgqr(int m, int n, Sub<float> a, const float* tau, float* work, int lwork) {
  const int one = 1;
  int info = 0;
  psorgqr_(&m, &n, &n, a.a, &one, &one, a.desc, tau, work, &lwork, &info);
  return info;
}

}  // namespace rnnlyap::distributed::pblas
