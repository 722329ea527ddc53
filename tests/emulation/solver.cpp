// The emulated cuSOLVER dense API (test-only): the entry points the CUDA executor calls, defined
// with the signatures of the toolkit's cusolverDn.h, each checking its documented contract at call
// time (any breach, including one the real library reports as a status or a negative devInfo, is a
// violation) and queuing the arithmetic, host LAPACK on the same memory, on the handle's stream.
// devInfo / infoArray receive LAPACK's info when the work runs: > 0 (a leading minor not positive
// definite) is a result, not a violation.
//
// Citations are to NVIDIA's cuSOLVER API Reference (docs.nvidia.com/cuda/cusolver), by section:
// "cuSolverDN Helper Function Reference" (cusolverDnCreate(), cusolverDnDestroy(),
// cusolverDnSetStream(), cusolverDnGetStream()) and "Dense Linear Solver Reference (legacy)"
// (cusolverDn<t>potrf(), cusolverDn<t>potrfBatched(), cusolverDn<t>geqrf(),
// cusolverDn<t>orgqr(), with their _bufferSize companions).
#include <cusolverDn.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "emu_runtime.hpp"
#include "lapack_decls.hpp"

/// A cuSOLVER dense handle: the stream its work goes to and the workspace sizes (elements) its
/// _bufferSize queries reported, by routine and sizes.
struct cusolverDnContext {
  cudaStream_t stream = nullptr;  // the legacy default stream until cusolverDnSetStream
  std::map<std::string, int> reported;
};

namespace {

namespace emu = rnnlyap::emu;
namespace la = rnnlyap::emu::la;
using la::cat;
using la::require;

la::Handles<cusolverDnContext> handles;

// Every function but cusolverDnCreate: "CUSOLVER_STATUS_NOT_INITIALIZED the library was not
// initialized" (each function's status table); a destroyed handle is no better.
void require_handle(cusolverDnHandle_t h, const char* api) {
  require(handles.live(h), api,
          "handle is null, was not created by cusolverDnCreate or was destroyed "
          "(cuSOLVER docs: CUSOLVER_STATUS_NOT_INITIALIZED)");
}

// potrf / potrfBatched: "uplo host input: indicates if matrix A lower or upper part is stored".
void require_uplo(cublasFillMode_t uplo, const char* api) {
  require(uplo == CUBLAS_FILL_MODE_LOWER || uplo == CUBLAS_FILL_MODE_UPPER, api,
          "uplo must be CUBLAS_FILL_MODE_LOWER or CUBLAS_FILL_MODE_UPPER (cuSOLVER docs, "
          "cusolverDn<t>potrf(): uplo)");
}
char uplo_char(cublasFillMode_t uplo) {
  return uplo == CUBLAS_FILL_MODE_UPPER ? 'U' : 'L';
}

// The size checks of each routine, shared by the query and the call; `doc` names the section.
// potrf: CUSOLVER_STATUS_INVALID_VALUE "n < 0 or lda < max(1, n)".
void check_potrf(const char* api, cublasFillMode_t uplo, int n, int lda) {
  require_uplo(uplo, api);
  require(n >= 0 && lda >= std::max(1, n), api,
          cat("n = ", n, ", lda = ", lda,
              ": needs n >= 0 and lda >= max(1, n) (cuSOLVER docs, cusolverDn<t>potrf(): "
              "CUSOLVER_STATUS_INVALID_VALUE)"));
}
// geqrf: CUSOLVER_STATUS_INVALID_VALUE "m, n < 0 or lda < max(1, m)" (no m >= n requirement).
void check_geqrf(const char* api, int m, int n, int lda) {
  require(m >= 0 && n >= 0 && lda >= std::max(1, m), api,
          cat("m = ", m, ", n = ", n, ", lda = ", lda,
              ": needs m, n >= 0 and lda >= max(1, m) (cuSOLVER docs, cusolverDn<t>geqrf(): "
              "CUSOLVER_STATUS_INVALID_VALUE)"));
}
// orgqr: "m >= 0", "m >= n >= 0", "n >= k >= 0", "lda >= max(1, m)"; CUSOLVER_STATUS_INVALID_VALUE
// "m, n, k < 0, n > m, k > n or lda < m".
void check_orgqr(const char* api, int m, int n, int k, int lda) {
  require(m >= n && n >= k && k >= 0 && lda >= std::max(1, m), api,
          cat("m = ", m, ", n = ", n, ", k = ", k, ", lda = ", lda,
              ": needs m >= n >= k >= 0 and lda >= max(1, m) (cuSOLVER docs, "
              "cusolverDn<t>orgqr(): CUSOLVER_STATUS_INVALID_VALUE)"));
}

// A _bufferSize query: A (and tau) are only looked at for their sizes, so they may be null (the
// project relies on it for a plan without memory); a non-null one must be device memory
// ("A device"). Records and returns `value` in *lwork ("Lwork host output").
cusolverStatus_t report(cusolverDnHandle_t h, const char* api, const void* a, const void* tau,
                        const std::string& key, int value, int* lwork) {
  if (a != nullptr) emu::require_device(a, 0, api, "A");
  if (tau != nullptr) emu::require_device(tau, 0, api, "tau");
  emu::require_host(lwork, api, "Lwork");
  h->reported[key] = value;
  *lwork = value;
  return CUSOLVER_STATUS_SUCCESS;
}

// The workspace and devInfo of a call: "Lwork host input: size of Workspace, returned by
// <routine>_bufferSize" (so a query for these sizes on this handle must precede it, and Lwork be
// at least what it reported); "Workspace device in/out: working space, <type> array of size
// Lwork"; "devInfo device output" (one int). Both must stay clear of the operands `[p, p + bytes)`.
template <class T>
void check_work(cusolverDnHandle_t h, const char* api, const std::string& key, const T* work,
                int lwork, const int* dev_info,
                std::initializer_list<std::pair<const void*, std::size_t>> operands) {
  const auto found = h->reported.find(key);
  require(found != h->reported.end(), api,
          cat("Lwork = ", lwork,
              " was not obtained from the _bufferSize query for these sizes on this handle "
              "(cuSOLVER docs: Lwork is the size of Workspace returned by _bufferSize)"));
  require(lwork >= found->second, api,
          cat("Lwork = ", lwork, " < ", found->second,
              ", the size the _bufferSize query reported for these sizes (cuSOLVER docs: Lwork)"));
  const std::size_t wbytes = la::sat_mul(static_cast<std::size_t>(lwork), sizeof(T));
  emu::require_device(work, wbytes, api, "Workspace");
  emu::require_device(dev_info, sizeof(int), api, "devInfo");
  la::require_apart(work, wbytes, dev_info, sizeof(int), api, "Workspace overlaps devInfo");
  for (const auto& [p, bytes] : operands) {
    la::require_apart(work, wbytes, p, bytes, api, "Workspace overlaps an operand");
    la::require_apart(dev_info, sizeof(int), p, bytes, api, "devInfo overlaps an operand");
  }
}

// The device pointers a call touches, for enqueue: the workspace, devInfo and the operands with
// elements.
std::vector<const void*> touched(const void* work, const int* dev_info,
                                 std::initializer_list<std::pair<const void*, std::size_t>> ops) {
  std::vector<const void*> out{work, dev_info};
  for (const auto& [p, bytes] : ops)
    if (bytes != 0) out.push_back(p);
  return out;
}

// The workspace's contents are undefined after a call: poisoned before the work uses it.
template <class T>
void poison(T* p, std::size_t count) {
  std::fill(p, p + count, std::numeric_limits<T>::quiet_NaN());
}

// LAPACK's info into devInfo: < 0 (an argument LAPACK rejects) is a violation.
void store_info(const char* api, int info, int* dev_info) {
  require(info >= 0, api, cat("host LAPACK rejected argument ", -info, " (devInfo = ", info, ")"));
  *dev_info = info;
}

template <class T>
std::string key(const char* routine, int a, int b, int c, int d) {
  return cat(routine, sizeof(T) == sizeof(double) ? "<d>" : "<s>", ' ', a, ' ', b, ' ', c, ' ', d);
}

// --- cusolverDn<t>potrf() ------------------------------------------------------------------------
// "only lower or upper part is meaningful"; the factor replaces that triangle, "the other part is
// not referenced" (untouched, as LAPACK leaves it).
template <class T>
cusolverStatus_t potrf_buffer_size(const char* api, cusolverDnHandle_t h, cublasFillMode_t uplo,
                                   int n, const T* a, int lda, int* lwork) {
  require_handle(h, api);
  check_potrf(api, uplo, n, lda);
  // No LAPACK workspace; a realistic size, deterministic: 64 per column.
  const int value = static_cast<int>(std::clamp(64LL * n, 1LL, static_cast<long long>(INT_MAX)));
  return report(h, api, a, nullptr, key<T>("potrf", uplo, n, lda, 0), value, lwork);
}

template <class T>
cusolverStatus_t potrf(const char* api, cusolverDnHandle_t h, cublasFillMode_t uplo, int n, T* a,
                       int lda, T* work, int lwork, int* dev_info) {
  require_handle(h, api);
  check_potrf(api, uplo, n, lda);
  const std::size_t abytes = la::span(n, n, lda) * sizeof(T);
  la::require_matrix(a, n, n, lda, api, "A");
  check_work(h, api, key<T>("potrf", uplo, n, lda, 0), work, lwork, dev_info, {{a, abytes}});
  const char u = uplo_char(uplo);
  emu::enqueue(
      h->stream, api,
      [=] {
        poison(work, static_cast<std::size_t>(lwork));
        store_info(api, n == 0 ? 0 : la::potrf(u, n, a, lda), dev_info);
      },
      touched(work, dev_info, {{a, abytes}}));
  return CUSOLVER_STATUS_SUCCESS;
}

// --- cusolverDn<t>potrfBatched() -----------------------------------------------------------------
// "Aarray device in/out: array of pointers to <type> array of dimension lda * n with lda is not
// less than max(1, n)"; "infoArray device output: array of size batchSize"; "batchSize host input:
// number of pointers in Aarray"; CUSOLVER_STATUS_INVALID_VALUE "n < 0 or lda < max(1, n) or
// batchSize < 1". Both fill modes are documented ("If input parameter uplo is
// CUBLAS_FILL_MODE_UPPER, only upper triangular part of A is processed, and replaced by upper
// triangular Cholesky factor U"), but "Remark: the other part of A is used as a workspace. For
// example, if uplo is CUBLAS_FILL_MODE_UPPER, upper triangle of A contains Cholesky factor U and
// lower triangle of A is destroyed after potrfBatched": the other triangle is poisoned with NaN.
template <class T>
cusolverStatus_t potrf_batched(const char* api, cusolverDnHandle_t h, cublasFillMode_t uplo, int n,
                               T* a[], int lda, int* info, int batch) {
  require_handle(h, api);
  check_potrf(api, uplo, n, lda);
  require(batch >= 1, api,
          cat("batchSize = ", batch,
              " < 1 (cuSOLVER docs, cusolverDn<t>potrfBatched(): CUSOLVER_STATUS_INVALID_VALUE)"));
  emu::require_device(a, la::sat_mul(static_cast<std::size_t>(batch), sizeof(T*)), api, "Aarray");
  const std::size_t ibytes = la::sat_mul(static_cast<std::size_t>(batch), sizeof(int));
  emu::require_device(info, ibytes, api, "infoArray");
  const char u = uplo_char(uplo);
  const auto nb = static_cast<std::size_t>(batch);
  emu::enqueue(h->stream, api,
               [=] {
                 const std::vector<T*> as = la::members(a, batch);
                 std::vector<std::uintptr_t> starts;
                 for (std::size_t i = 0; i < nb; ++i) {
                   la::require_matrix(as[i], n, n, lda, api, cat("Aarray[", i, "]"));
                   la::require_apart(as[i], la::span(n, n, lda) * sizeof(T), info, ibytes, api,
                                     cat("Aarray[", i, "] overlaps infoArray"));
                   starts.push_back(reinterpret_cast<std::uintptr_t>(as[i]));
                 }
                 la::require_disjoint(std::move(starts), n, n, lda, sizeof(T), api, "Aarray");
                 for (std::size_t i = 0; i < nb; ++i) {
                   store_info(api, n == 0 ? 0 : la::potrf(u, n, as[i], lda), info + i);
                   for (int j = 0; j < n; ++j)  // the other triangle, destroyed
                     for (int r = u == 'U' ? j + 1 : 0; r < (u == 'U' ? n : j); ++r)
                       as[i][static_cast<std::size_t>(j) * static_cast<std::size_t>(lda) +
                             static_cast<std::size_t>(r)] = std::numeric_limits<T>::quiet_NaN();
                 }
               },
               {a, info});
  return CUSOLVER_STATUS_SUCCESS;
}

// --- cusolverDn<t>geqrf() ------------------------------------------------------------------------
// "A device in/out: <type> array of dimension lda * n with lda is not less than max(1, m)";
// "TAU device output: <type> array of dimension at least min(m, n)". R in the upper triangle, the
// reflectors below it.
template <class T>
cusolverStatus_t geqrf_buffer_size(const char* api, cusolverDnHandle_t h, int m, int n, const T* a,
                                   int lda, int* lwork) {
  require_handle(h, api);
  check_geqrf(api, m, n, lda);
  return report(h, api, a, nullptr, key<T>("geqrf", m, n, lda, 0),
                la::optimal_lwork<T>(m, n, -1, lda), lwork);
}

template <class T>
cusolverStatus_t geqrf(const char* api, cusolverDnHandle_t h, int m, int n, T* a, int lda, T* tau,
                       T* work, int lwork, int* dev_info) {
  require_handle(h, api);
  check_geqrf(api, m, n, lda);
  const int kt = std::min(m, n);
  la::require_matrix(a, m, n, lda, api, "A");
  la::require_matrix(tau, kt, 1, std::max(1, kt), api, "TAU");
  const std::size_t abytes = la::span(m, n, lda) * sizeof(T);
  const std::size_t tbytes = static_cast<std::size_t>(kt) * sizeof(T);
  la::require_apart(a, abytes, tau, tbytes, api, "TAU overlaps A");
  check_work(h, api, key<T>("geqrf", m, n, lda, 0), work, lwork, dev_info,
             {{a, abytes}, {tau, tbytes}});
  emu::enqueue(
      h->stream, api,
      [=] {
        poison(work, static_cast<std::size_t>(lwork));
        store_info(api, la::geqrf(m, n, a, lda, tau, work, lwork), dev_info);
      },
      touched(work, dev_info, {{a, abytes}, {tau, tbytes}}));
  return CUSOLVER_STATUS_SUCCESS;
}

// --- cusolverDn<t>orgqr() ------------------------------------------------------------------------
// "A device in/out: <type> array of dimension lda * n with lda is not less than max(1, m)", its
// first k columns geqrf's reflectors; "tau device input: <type> array of dimension k". Q (m×n)
// overwrites A.
template <class T>
cusolverStatus_t orgqr_buffer_size(const char* api, cusolverDnHandle_t h, int m, int n, int k,
                                   const T* a, int lda, const T* tau, int* lwork) {
  require_handle(h, api);
  check_orgqr(api, m, n, k, lda);
  return report(h, api, a, tau, key<T>("orgqr", m, n, k, lda), la::optimal_lwork<T>(m, n, k, lda),
                lwork);
}

template <class T>
cusolverStatus_t orgqr(const char* api, cusolverDnHandle_t h, int m, int n, int k, T* a, int lda,
                       const T* tau, T* work, int lwork, int* dev_info) {
  require_handle(h, api);
  check_orgqr(api, m, n, k, lda);
  la::require_matrix(a, m, n, lda, api, "A");
  la::require_matrix(tau, k, 1, std::max(1, k), api, "tau");
  const std::size_t abytes = la::span(m, n, lda) * sizeof(T);
  const std::size_t tbytes = static_cast<std::size_t>(k) * sizeof(T);
  la::require_apart(a, abytes, tau, tbytes, api, "tau overlaps A");
  check_work(h, api, key<T>("orgqr", m, n, k, lda), work, lwork, dev_info,
             {{a, abytes}, {tau, tbytes}});
  emu::enqueue(
      h->stream, api,
      [=] {
        poison(work, static_cast<std::size_t>(lwork));
        store_info(api, la::orgqr(m, n, k, a, lda, tau, work, lwork), dev_info);
      },
      touched(work, dev_info, {{a, abytes}, {tau, tbytes}}));
  return CUSOLVER_STATUS_SUCCESS;
}

}  // namespace

extern "C" {

// cusolverDnCreate(): "handle: the pointer to the handle to the cuSolverDN context".
cusolverStatus_t cusolverDnCreate(cusolverDnHandle_t* handle) {
  emu::require_host(handle, "cusolverDnCreate", "handle");
  *handle = handles.create();
  return CUSOLVER_STATUS_SUCCESS;
}

// cusolverDnDestroy(): "releases CPU-side resources used by the cuSolverDN library" (the queued
// work keeps no reference to the handle).
cusolverStatus_t cusolverDnDestroy(cusolverDnHandle_t handle) {
  require_handle(handle, "cusolverDnDestroy");
  handles.destroy(handle);
  return CUSOLVER_STATUS_SUCCESS;
}

// cusolverDnSetStream(): "sets the stream to be used by the cuSolverDN library to execute its
// routines".
cusolverStatus_t cusolverDnSetStream(cusolverDnHandle_t handle, cudaStream_t streamId) {
  require_handle(handle, "cusolverDnSetStream");
  handle->stream = streamId;
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnGetStream(cusolverDnHandle_t handle, cudaStream_t* streamId) {
  require_handle(handle, "cusolverDnGetStream");
  emu::require_host(streamId, "cusolverDnGetStream", "streamId");
  *streamId = handle->stream;
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnDpotrf_bufferSize(cusolverDnHandle_t handle, cublasFillMode_t uplo,
                                             int n, double* A, int lda, int* Lwork) {
  return potrf_buffer_size("cusolverDnDpotrf_bufferSize", handle, uplo, n, A, lda, Lwork);
}
cusolverStatus_t cusolverDnSpotrf_bufferSize(cusolverDnHandle_t handle, cublasFillMode_t uplo,
                                             int n, float* A, int lda, int* Lwork) {
  return potrf_buffer_size("cusolverDnSpotrf_bufferSize", handle, uplo, n, A, lda, Lwork);
}
cusolverStatus_t cusolverDnDpotrf(cusolverDnHandle_t handle, cublasFillMode_t uplo, int n,
                                  double* A, int lda, double* Workspace, int Lwork, int* devInfo) {
  return potrf("cusolverDnDpotrf", handle, uplo, n, A, lda, Workspace, Lwork, devInfo);
}
cusolverStatus_t cusolverDnSpotrf(cusolverDnHandle_t handle, cublasFillMode_t uplo, int n, float* A,
                                  int lda, float* Workspace, int Lwork, int* devInfo) {
  return potrf("cusolverDnSpotrf", handle, uplo, n, A, lda, Workspace, Lwork, devInfo);
}

cusolverStatus_t cusolverDnDpotrfBatched(cusolverDnHandle_t handle, cublasFillMode_t uplo, int n,
                                         double* Aarray[], int lda, int* infoArray, int batchSize) {
  return potrf_batched("cusolverDnDpotrfBatched", handle, uplo, n, Aarray, lda, infoArray,
                       batchSize);
}
cusolverStatus_t cusolverDnSpotrfBatched(cusolverDnHandle_t handle, cublasFillMode_t uplo, int n,
                                         float* Aarray[], int lda, int* infoArray, int batchSize) {
  return potrf_batched("cusolverDnSpotrfBatched", handle, uplo, n, Aarray, lda, infoArray,
                       batchSize);
}

cusolverStatus_t cusolverDnDgeqrf_bufferSize(cusolverDnHandle_t handle, int m, int n, double* A,
                                             int lda, int* lwork) {
  return geqrf_buffer_size("cusolverDnDgeqrf_bufferSize", handle, m, n, A, lda, lwork);
}
cusolverStatus_t cusolverDnSgeqrf_bufferSize(cusolverDnHandle_t handle, int m, int n, float* A,
                                             int lda, int* lwork) {
  return geqrf_buffer_size("cusolverDnSgeqrf_bufferSize", handle, m, n, A, lda, lwork);
}
cusolverStatus_t cusolverDnDgeqrf(cusolverDnHandle_t handle, int m, int n, double* A, int lda,
                                  double* TAU, double* Workspace, int Lwork, int* devInfo) {
  return geqrf("cusolverDnDgeqrf", handle, m, n, A, lda, TAU, Workspace, Lwork, devInfo);
}
cusolverStatus_t cusolverDnSgeqrf(cusolverDnHandle_t handle, int m, int n, float* A, int lda,
                                  float* TAU, float* Workspace, int Lwork, int* devInfo) {
  return geqrf("cusolverDnSgeqrf", handle, m, n, A, lda, TAU, Workspace, Lwork, devInfo);
}

cusolverStatus_t cusolverDnDorgqr_bufferSize(cusolverDnHandle_t handle, int m, int n, int k,
                                             const double* A, int lda, const double* tau,
                                             int* lwork) {
  return orgqr_buffer_size("cusolverDnDorgqr_bufferSize", handle, m, n, k, A, lda, tau, lwork);
}
cusolverStatus_t cusolverDnSorgqr_bufferSize(cusolverDnHandle_t handle, int m, int n, int k,
                                             const float* A, int lda, const float* tau,
                                             int* lwork) {
  return orgqr_buffer_size("cusolverDnSorgqr_bufferSize", handle, m, n, k, A, lda, tau, lwork);
}
cusolverStatus_t cusolverDnDorgqr(cusolverDnHandle_t handle, int m, int n, int k, double* A,
                                  int lda, const double* tau, double* work, int lwork, int* info) {
  return orgqr("cusolverDnDorgqr", handle, m, n, k, A, lda, tau, work, lwork, info);
}
cusolverStatus_t cusolverDnSorgqr(cusolverDnHandle_t handle, int m, int n, int k, float* A, int lda,
                                  const float* tau, float* work, int lwork, int* info) {
  return orgqr("cusolverDnSorgqr", handle, m, n, k, A, lda, tau, work, lwork, info);
}

}  // extern "C"
