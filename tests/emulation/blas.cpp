// The emulated cuBLAS (test-only): the entry points the CUDA executor calls, defined with the
// signatures of the toolkit's cublas_v2.h (whose macros map cublasCreate to cublasCreate_v2 and so
// on), each checking its documented contract at call time (any breach, including one the real
// library reports as a status, is a violation) and queuing the arithmetic, host BLAS/LAPACK on the
// same memory, on the handle's stream. Scalars are in host pointer mode: read at call time.
//
// Citations are to NVIDIA's cuBLAS Library documentation (docs.nvidia.com/cuda/cublas), by section:
// "cuBLAS Helper Function Reference" (cublasCreate(), cublasDestroy(), cublasSetStream(),
// cublasGetStream()), "cuBLAS Level-3 Function Reference" (cublas<t>gemm(),
// cublas<t>gemmStridedBatched(), cublas<t>trsm(), cublas<t>trsmBatched()) and "BLAS-like Extension"
// (cublas<t>geqrfBatched()).
#include <cublas_v2.h>

#include <cstdint>
#include <string>
#include <vector>

#include "emu_runtime.hpp"
#include "lapack_decls.hpp"

/// A cuBLAS handle: the stream its work goes to and the pointer mode of its scalars.
struct cublasContext {
  cudaStream_t stream = nullptr;  // the legacy default stream until cublasSetStream
  cublasPointerMode_t pointer_mode = CUBLAS_POINTER_MODE_HOST;
};

namespace {

namespace emu = rnnlyap::emu;
namespace la = rnnlyap::emu::la;
using la::cat;
using la::require;

la::Handles<cublasContext> handles;

// Every function but cublasCreate: "CUBLAS_STATUS_NOT_INITIALIZED the library was not
// initialized" (cuBLAS docs, each function's status table); a destroyed handle is no better.
void require_handle(cublasHandle_t h, const char* api) {
  require(handles.live(h), api,
          "handle is null, was not created by cublasCreate or was destroyed "
          "(cuBLAS docs: CUBLAS_STATUS_NOT_INITIALIZED)");
}

const char* op_name(cublasOperation_t op) {
  return op == CUBLAS_OP_N ? "N" : "T";
}
bool valid_op(cublasOperation_t op) {
  return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C;
}

// A host scalar (host pointer mode: "alpha ... host or device", read before the call returns).
template <class T>
T host_scalar(cublasHandle_t h, const T* p, const char* api, const char* arg) {
  require(h->pointer_mode == CUBLAS_POINTER_MODE_HOST, api,
          "device pointer mode is not emulated (the project uses host pointer mode)");
  emu::require_host(p, api, arg);
  return *p;
}

// Requires a device array of `batch` member pointers.
template <class P>
void require_pointer_array(const P* array, int batch, const char* api, const char* arg) {
  if (batch > 0)
    emu::require_device(array, la::sat_mul(static_cast<std::size_t>(batch), sizeof(P)), api, arg);
}

// --- cublas<t>gemm(), cublas<t>gemmStridedBatched() ----------------------------------------------
// C_b = alpha op(A_b) op(B_b) + beta C_b for b < batch; X_b = X + b·strideX. Plain gemm: batch 1.
template <class T>
cublasStatus_t gemm(const char* api, cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                    int m, int n, int k, const T* alpha_p, const T* a, int lda, long long sa,
                    const T* b, int ldb, long long sb, const T* beta_p, T* c, int ldc, long long sc,
                    int batch) {
  require_handle(h, api);
  // cublas<t>gemm() and cublas<t>gemmStridedBatched(), CUBLAS_STATUS_INVALID_VALUE: "m < 0 or
  // n < 0 or k < 0 [or batchCount < 0]", transa/transb not N, T or C, "lda < max(1, m) when
  // transa == CUBLAS_OP_N and lda < max(1, k) otherwise", "ldb < max(1, k) when transb ==
  // CUBLAS_OP_N and ldb < max(1, n) otherwise", "ldc < max(1, m)", "alpha or beta == NULL".
  require(
      m >= 0 && n >= 0 && k >= 0 && batch >= 0, api,
      cat("m = ", m, ", n = ", n, ", k = ", k, ", batchCount = ", batch,
          ": none may be negative (cuBLAS docs, cublas<t>gemm*(): CUBLAS_STATUS_INVALID_VALUE)"));
  require(valid_op(ta) && valid_op(tb), api,
          "transa/transb must be CUBLAS_OP_N, CUBLAS_OP_T or CUBLAS_OP_C (cuBLAS docs, "
          "cublas<t>gemm(): CUBLAS_STATUS_INVALID_VALUE)");
  const bool an = ta == CUBLAS_OP_N, bn = tb == CUBLAS_OP_N;
  const int ar = an ? m : k, ac = an ? k : m, br = bn ? k : n, bc = bn ? n : k;
  require(lda >= std::max(1, ar) && ldb >= std::max(1, br) && ldc >= std::max(1, m), api,
          cat("lda = ", lda, " (needs >= ", std::max(1, ar), " for op(A) = ", op_name(ta),
              "), ldb = ", ldb, " (needs >= ", std::max(1, br), " for op(B) = ", op_name(tb),
              "), ldc = ", ldc, " (needs >= ", std::max(1, m),
              ") (cuBLAS docs, cublas<t>gemm(): CUBLAS_STATUS_INVALID_VALUE)"));
  const T alpha = host_scalar(h, alpha_p, api, "alpha"), beta = host_scalar(h, beta_p, api, "beta");
  if (m == 0 || n == 0 || batch == 0) return CUBLAS_STATUS_SUCCESS;  // nothing is touched

  // Operands: device memory ("A device input <type> array of dimension lda x k with lda >=
  // max(1, m) if transa == CUBLAS_OP_N and lda x m with lda >= max(1, k) otherwise", likewise B
  // and C), over every member the call touches. A and B are not touched when k == 0.
  la::require_strided(a, ar, ac, lda, sa, batch, api, "A");
  la::require_strided(b, br, bc, ldb, sb, batch, api, "B");
  la::require_strided(c, m, n, ldc, sc, batch, api, "C");
  std::vector<const void*> uses{c};
  if (k > 0) uses.insert(uses.end(), {a, b});
  if (batch > 1) {  // C_b are written concurrently
    std::vector<std::uintptr_t> starts;
    for (int i = 0; i < batch; ++i)
      starts.push_back(reinterpret_cast<std::uintptr_t>(c) +
                       static_cast<std::uintptr_t>(static_cast<long long>(i) * sc *
                                                   static_cast<long long>(sizeof(T))));
    la::require_disjoint(std::move(starts), m, n, ldc, sizeof(T), api, "C (strideC)");
  }
  const char tca = an ? 'N' : 'T', tcb = bn ? 'N' : 'T';
  emu::enqueue(
      h->stream, api,
      [=] {
        for (long long i = 0; i < batch; ++i)
          la::gemm(tca, tcb, m, n, k, alpha, k > 0 ? a + i * sa : a, lda, k > 0 ? b + i * sb : b,
                   ldb, beta, c + i * sc, ldc);
      },
      uses);
  return CUBLAS_STATUS_SUCCESS;
}

// --- cublas<t>trsm(), cublas<t>trsmBatched() -----------------------------------------------------
// The checks both share. cublas<t>trsm() / cublas<t>trsmBatched(), CUBLAS_STATUS_INVALID_VALUE:
// "m < 0 or n < 0 [or batchCount < 0]", "trans != CUBLAS_OP_N, CUBLAS_OP_C, CUBLAS_OP_T", "uplo !=
// CUBLAS_FILL_MODE_LOWER, CUBLAS_FILL_MODE_UPPER", "diag != CUBLAS_DIAG_NON_UNIT,
// CUBLAS_DIAG_UNIT", "lda < max(1, m) when side == CUBLAS_SIDE_LEFT and lda < max(1, n)
// otherwise", "ldb < max(1, m)", "alpha == NULL"; side is LEFT or RIGHT. Returns A's order.
int check_trsm(const char* api, cublasHandle_t h, cublasSideMode_t side, cublasFillMode_t uplo,
               cublasOperation_t trans, cublasDiagType_t diag, int m, int n, int lda, int ldb,
               int batch) {
  require_handle(h, api);
  const char* doc = " (cuBLAS docs, cublas<t>trsm(): CUBLAS_STATUS_INVALID_VALUE)";
  require(m >= 0 && n >= 0 && batch >= 0, api,
          cat("m = ", m, ", n = ", n, ", batchCount = ", batch, ": none may be negative", doc));
  require(side == CUBLAS_SIDE_LEFT || side == CUBLAS_SIDE_RIGHT, api,
          cat("side must be CUBLAS_SIDE_LEFT or CUBLAS_SIDE_RIGHT", doc));
  require(uplo == CUBLAS_FILL_MODE_LOWER || uplo == CUBLAS_FILL_MODE_UPPER, api,
          cat("uplo must be CUBLAS_FILL_MODE_LOWER or CUBLAS_FILL_MODE_UPPER", doc));
  require(valid_op(trans), api, cat("trans must be CUBLAS_OP_N, CUBLAS_OP_T or CUBLAS_OP_C", doc));
  require(diag == CUBLAS_DIAG_NON_UNIT || diag == CUBLAS_DIAG_UNIT, api,
          cat("diag must be CUBLAS_DIAG_NON_UNIT or CUBLAS_DIAG_UNIT", doc));
  const int ka = side == CUBLAS_SIDE_LEFT ? m : n;
  require(lda >= std::max(1, ka) && ldb >= std::max(1, m), api,
          cat("lda = ", lda, " (needs >= ", std::max(1, ka), "), ldb = ", ldb,
              " (needs >= ", std::max(1, m), ")", doc));
  return ka;
}

struct TrsmChars {
  char side, uplo, trans, diag;
};
TrsmChars trsm_chars(cublasSideMode_t side, cublasFillMode_t uplo, cublasOperation_t trans,
                     cublasDiagType_t diag) {
  return {side == CUBLAS_SIDE_LEFT ? 'L' : 'R', uplo == CUBLAS_FILL_MODE_UPPER ? 'U' : 'L',
          trans == CUBLAS_OP_N ? 'N' : 'T', diag == CUBLAS_DIAG_UNIT ? 'U' : 'N'};
}

// B ← alpha op(A)⁻¹ B or alpha B op(A)⁻¹. "If alpha == 0 then A is not referenced and B does not
// have to be a valid input" (cublas<t>trsm(), alpha).
template <class T>
cublasStatus_t trsm(const char* api, cublasHandle_t h, cublasSideMode_t side, cublasFillMode_t uplo,
                    cublasOperation_t trans, cublasDiagType_t diag, int m, int n, const T* alpha_p,
                    const T* a, int lda, T* b, int ldb) {
  const int ka = check_trsm(api, h, side, uplo, trans, diag, m, n, lda, ldb, 1);
  const T alpha = host_scalar(h, alpha_p, api, "alpha");
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  std::vector<const void*> uses{b};
  if (alpha != T(0)) {
    la::require_matrix(a, ka, ka, lda, api, "A");
    uses.push_back(a);
  }
  la::require_matrix(b, m, n, ldb, api, "B");
  const TrsmChars t = trsm_chars(side, uplo, trans, diag);
  emu::enqueue(
      h->stream, api,
      [=] { la::trsm(t.side, t.uplo, t.trans, t.diag, m, n, alpha, a, lda, b, ldb); }, uses);
  return CUBLAS_STATUS_SUCCESS;
}

// cublas<t>trsmBatched(): "Aarray device input array of pointers to <type> array, with each
// array of dim. lda x m with lda >= max(1, m) if side == CUBLAS_SIDE_LEFT and lda x n with lda >=
// max(1, n) otherwise"; "Barray device input/output array of pointers to <type> array, with each
// array of dim. ldb x n with ldb >= max(1, m)". The members are read when the work runs.
template <class T>
cublasStatus_t trsm_batched(const char* api, cublasHandle_t h, cublasSideMode_t side,
                            cublasFillMode_t uplo, cublasOperation_t trans, cublasDiagType_t diag,
                            int m, int n, const T* alpha_p, const T* const a[], int lda,
                            T* const b[], int ldb, int batch) {
  const int ka = check_trsm(api, h, side, uplo, trans, diag, m, n, lda, ldb, batch);
  const T alpha = host_scalar(h, alpha_p, api, "alpha");
  if (m == 0 || n == 0 || batch == 0) return CUBLAS_STATUS_SUCCESS;
  const bool reads_a = alpha != T(0);
  std::vector<const void*> uses{b};
  if (reads_a) {
    require_pointer_array(a, batch, api, "Aarray");
    uses.push_back(a);
  }
  require_pointer_array(b, batch, api, "Barray");
  const TrsmChars t = trsm_chars(side, uplo, trans, diag);
  const auto nb = static_cast<std::size_t>(batch);
  emu::enqueue(
      h->stream, api,
      [=] {
        const std::vector<const T*> as = reads_a ? la::members(a, batch) : std::vector<const T*>();
        const std::vector<T*> bs = la::members(b, batch);
        std::vector<std::uintptr_t> starts;
        for (std::size_t i = 0; i < nb; ++i) {
          if (reads_a) la::require_matrix(as[i], ka, ka, lda, api, cat("Aarray[", i, "]"));
          la::require_matrix(bs[i], m, n, ldb, api, cat("Barray[", i, "]"));
          starts.push_back(reinterpret_cast<std::uintptr_t>(bs[i]));
        }
        la::require_disjoint(std::move(starts), m, n, ldb, sizeof(T), api, "Barray");
        for (std::size_t i = 0; i < nb; ++i)
          la::trsm(t.side, t.uplo, t.trans, t.diag, m, n, alpha, reads_a ? as[i] : nullptr, lda,
                   bs[i], ldb);
      },
      uses);
  return CUBLAS_STATUS_SUCCESS;
}

// --- cublas<t>geqrfBatched() ---------------------------------------------------------------------
// "Aarray device input array of pointers to <type> array, with each array of dim. m x n with
// lda >= max(1, m)"; "TauArray device output array of pointers to <type> vector, with each vector
// of dim. max(1, min(m, n))"; "info host output: 0 if the parameters passed to the function are
// valid, < 0 if the parameter in position -value is invalid"; CUBLAS_STATUS_INVALID_VALUE "the
// parameters m, n, batchSize < 0, lda < imax(1, m)"; "cublas<t>geqrfBatched supports arbitrary
// dimension" (so m < n is allowed). `info` is written at call time (argument validation only).
template <class T>
cublasStatus_t geqrf_batched(const char* api, cublasHandle_t h, int m, int n, T* const a[], int lda,
                             T* const tau[], int* info, int batch) {
  require_handle(h, api);
  emu::require_host(info, api, "info");
  *info = 0;
  const char* doc = " (cuBLAS docs, cublas<t>geqrfBatched(): CUBLAS_STATUS_INVALID_VALUE)";
  require(m >= 0 && n >= 0 && batch >= 0, api,
          cat("m = ", m, ", n = ", n, ", batchSize = ", batch, ": none may be negative", doc));
  require(lda >= std::max(1, m), api, cat("lda = ", lda, " < max(1, m) = ", std::max(1, m), doc));
  const int kt = std::min(m, n);
  if (m == 0 || n == 0 || batch == 0) return CUBLAS_STATUS_SUCCESS;
  require_pointer_array(a, batch, api, "Aarray");
  require_pointer_array(tau, batch, api, "TauArray");
  const auto nb = static_cast<std::size_t>(batch);
  emu::enqueue(
      h->stream, api,
      [=] {
        const std::vector<T*> as = la::members(a, batch), ts = la::members(tau, batch);
        std::vector<std::uintptr_t> astarts, tstarts;
        for (std::size_t i = 0; i < nb; ++i) {
          la::require_matrix(as[i], m, n, lda, api, cat("Aarray[", i, "]"));
          la::require_matrix(ts[i], kt, 1, kt, api, cat("TauArray[", i, "]"));
          astarts.push_back(reinterpret_cast<std::uintptr_t>(as[i]));
          tstarts.push_back(reinterpret_cast<std::uintptr_t>(ts[i]));
        }
        la::require_disjoint(std::move(astarts), m, n, lda, sizeof(T), api, "Aarray");
        la::require_disjoint(std::move(tstarts), kt, 1, kt, sizeof(T), api, "TauArray");
        std::vector<T> work(static_cast<std::size_t>(la::optimal_lwork<T>(m, n, -1, lda)));
        for (std::size_t i = 0; i < nb; ++i) {
          const int st =
              la::geqrf(m, n, as[i], lda, ts[i], work.data(), static_cast<int>(work.size()));
          require(st == 0, api, cat("host LAPACK geqrf of member ", i, " returned info ", st));
        }
      },
      {a, tau});
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

extern "C" {

// cublasCreate(): "CUBLAS_STATUS_INVALID_VALUE handle == NULL".
cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  emu::require_host(handle, "cublasCreate", "handle");
  *handle = handles.create();
  return CUBLAS_STATUS_SUCCESS;
}

// cublasDestroy(): "the release of those resources by calling cublasDestroy() will implicitly
// call cudaDeviceSynchronize()".
cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  require_handle(handle, "cublasDestroy");
  emu::synchronize(nullptr);  // the legacy default stream: every stream
  handles.destroy(handle);
  return CUBLAS_STATUS_SUCCESS;
}

// cublasSetStream(): "sets the cuBLAS library stream, which will be used to execute all
// subsequent calls to the cuBLAS library functions"; a null stream is the default stream.
cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId) {
  require_handle(handle, "cublasSetStream");
  handle->stream = streamId;
  return CUBLAS_STATUS_SUCCESS;
}

// cublasGetStream(): "CUBLAS_STATUS_INVALID_VALUE streamId == NULL".
cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, cudaStream_t* streamId) {
  require_handle(handle, "cublasGetStream");
  emu::require_host(streamId, "cublasGetStream", "streamId");
  *streamId = handle->stream;
  return CUBLAS_STATUS_SUCCESS;
}

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR:
      return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR:
      return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "an absent device architectural feature is required";
    case CUBLAS_STATUS_MAPPING_ERROR:
      return "an access to GPU memory space failed";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "the GPU program failed to execute";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "an internal operation failed";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "the functionality requested is not supported";
    case CUBLAS_STATUS_LICENSE_ERROR:
      return "error detected trying to check the license";
  }
  return "unknown error";
}

cublasStatus_t cublasDgemm_v2(cublasHandle_t handle, cublasOperation_t transa,
                              cublasOperation_t transb, int m, int n, int k, const double* alpha,
                              const double* A, int lda, const double* B, int ldb,
                              const double* beta, double* C, int ldc) {
  return gemm("cublasDgemm", handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C,
              ldc, 0, 1);
}
cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa,
                              cublasOperation_t transb, int m, int n, int k, const float* alpha,
                              const float* A, int lda, const float* B, int ldb, const float* beta,
                              float* C, int ldc) {
  return gemm("cublasSgemm", handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C,
              ldc, 0, 1);
}

cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k,
                                         const double* alpha, const double* A, int lda,
                                         long long int strideA, const double* B, int ldb,
                                         long long int strideB, const double* beta, double* C,
                                         int ldc, long long int strideC, int batchCount) {
  return gemm("cublasDgemmStridedBatched", handle, transa, transb, m, n, k, alpha, A, lda, strideA,
              B, ldb, strideB, beta, C, ldc, strideC, batchCount);
}
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k,
                                         const float* alpha, const float* A, int lda,
                                         long long int strideA, const float* B, int ldb,
                                         long long int strideB, const float* beta, float* C,
                                         int ldc, long long int strideC, int batchCount) {
  return gemm("cublasSgemmStridedBatched", handle, transa, transb, m, n, k, alpha, A, lda, strideA,
              B, ldb, strideB, beta, C, ldc, strideC, batchCount);
}

cublasStatus_t cublasDtrsm_v2(cublasHandle_t handle, cublasSideMode_t side, cublasFillMode_t uplo,
                              cublasOperation_t trans, cublasDiagType_t diag, int m, int n,
                              const double* alpha, const double* A, int lda, double* B, int ldb) {
  return trsm("cublasDtrsm", handle, side, uplo, trans, diag, m, n, alpha, A, lda, B, ldb);
}
cublasStatus_t cublasStrsm_v2(cublasHandle_t handle, cublasSideMode_t side, cublasFillMode_t uplo,
                              cublasOperation_t trans, cublasDiagType_t diag, int m, int n,
                              const float* alpha, const float* A, int lda, float* B, int ldb) {
  return trsm("cublasStrsm", handle, side, uplo, trans, diag, m, n, alpha, A, lda, B, ldb);
}

cublasStatus_t cublasDtrsmBatched(cublasHandle_t handle, cublasSideMode_t side,
                                  cublasFillMode_t uplo, cublasOperation_t trans,
                                  cublasDiagType_t diag, int m, int n, const double* alpha,
                                  const double* const A[], int lda, double* const B[], int ldb,
                                  int batchCount) {
  return trsm_batched("cublasDtrsmBatched", handle, side, uplo, trans, diag, m, n, alpha, A, lda, B,
                      ldb, batchCount);
}
cublasStatus_t cublasStrsmBatched(cublasHandle_t handle, cublasSideMode_t side,
                                  cublasFillMode_t uplo, cublasOperation_t trans,
                                  cublasDiagType_t diag, int m, int n, const float* alpha,
                                  const float* const A[], int lda, float* const B[], int ldb,
                                  int batchCount) {
  return trsm_batched("cublasStrsmBatched", handle, side, uplo, trans, diag, m, n, alpha, A, lda, B,
                      ldb, batchCount);
}

cublasStatus_t cublasDgeqrfBatched(cublasHandle_t handle, int m, int n, double* const Aarray[],
                                   int lda, double* const TauArray[], int* info, int batchSize) {
  return geqrf_batched("cublasDgeqrfBatched", handle, m, n, Aarray, lda, TauArray, info, batchSize);
}
cublasStatus_t cublasSgeqrfBatched(cublasHandle_t handle, int m, int n, float* const Aarray[],
                                   int lda, float* const TauArray[], int* info, int batchSize) {
  return geqrf_batched("cublasSgeqrfBatched", handle, m, n, Aarray, lda, TauArray, info, batchSize);
}

}  // extern "C"
