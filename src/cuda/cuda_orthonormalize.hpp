// Re-orthonormalisation of a tangent basis on the GPU, shared by the single-network and the
// trained-cell propagators (the CPU's counterpart is src/cpu/orthonormalize.hpp): Householder QR
// (cuSOLVER geqrf + orgqr) or CholeskyQR2 with a Householder fallback. It owns the QR's device
// buffers, the fp64 log accumulator and the cuSOLVER status words.
//
// Synchronisation: none for Householder QR. CholeskyQR2 waits once per re-orthonormalisation,
// after the first Cholesky factorisation: whether to fall back to Householder QR (potrf failed, or
// R1 too ill-conditioned) is decided on the host, which needs the 4-byte verdict
// (kernels::cholesky_check). The alternative — always running both factorisations, or device-side
// conditional graph nodes — costs more than one short stall per t_ons. cuSOLVER's devInfo values
// stay on the device: small kernels fold them into sticky status words that take_logs() (and each
// CholeskyQR2 verdict) reads back and turns into VendorError.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda_check.hpp"
#include "cuda_common.hpp"
#include "cuda_linalg.hpp"
#include "cuda_resources.hpp"
#include "launch.cuh"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::cuda {

template <class T>
class Orthonormalizer {
 public:
  /// Device bytes of the buffers for bases of k columns besides `ws` workspace elements: tau, the
  /// Gram matrix (CholeskyQR2), the workspace, the fp64 logs and R1's diagonal, the status words.
  static std::size_t bytes(std::size_t k, bool cholesky, std::size_t ws) {
    std::size_t elems = sat_add(k, ws);
    if (cholesky) elems = sat_add(elems, sat_mul(k, k));
    std::size_t b = sat_mul(elems, sizeof(T));
    b = sat_add(b, sat_mul(k, sizeof(double) * (cholesky ? 2 : 1)));
    return sat_add(b, kStatusSlots * sizeof(int));
  }

  /// Largest workspace (elements) of geqrf and orgqr of a rows × k basis and (CholeskyQR2) potrf
  /// of its k × k Gram matrix. The buffers may be null; cuSOLVER may then refuse the query.
  static cusolverStatus_t query_workspace(cusolverDnHandle_t h, int rows, int k, bool cholesky,
                                          T* q, T* tau, T* gram, std::size_t& elems) {
    int a = 0, b = 0, c = 0;
    cusolverStatus_t st = la::geqrf_lwork(h, rows, k, q, rows, a);
    if (st != CUSOLVER_STATUS_SUCCESS) return st;
    st = la::orgqr_lwork(h, rows, k, k, q, rows, tau, b);
    if (st != CUSOLVER_STATUS_SUCCESS) return st;
    if (cholesky) {
      st = la::potrf_lwork(h, k, gram, k, c);
      if (st != CUSOLVER_STATUS_SUCCESS) return st;
    }
    elems = static_cast<std::size_t>(std::max({a, b, c, 0}));
    return CUSOLVER_STATUS_SUCCESS;
  }

  /// The workspace (elements) of a rows × k basis before anything is allocated, for the caller's
  /// first memory check: the query without buffers, or an estimate where cuSOLVER refuses it.
  static std::size_t estimate_workspace(cusolverDnHandle_t h, int rows, int k, bool cholesky) {
    std::size_t ws = 0;
    if (query_workspace(h, rows, k, cholesky, nullptr, nullptr, nullptr, ws) !=
        CUSOLVER_STATUS_SUCCESS)
      ws = sat_mul(static_cast<std::size_t>(rows) + static_cast<std::size_t>(k), 256);
    return ws;
  }

  /// Allocates the buffers for rows × k bases (logs and status words zeroed on `stream`); then
  /// reserve_workspace().
  void allocate(int rows, int k, bool cholesky, cudaStream_t stream) {
    rows_ = rows;
    k_ = k;
    cholesky_ = cholesky;
    const std::size_t kk = static_cast<std::size_t>(k);
    tau_ = DeviceBuffer<T>(kk);
    if (cholesky_) {
      gram_ = DeviceBuffer<T>(kk * kk);
      diag1_ = DeviceBuffer<double>(kk);
      if (status_host_.size() == 0) status_host_ = PinnedBuffer<int>(kStatusSlots - kStickyGeqrf);
    }
    logs_ = DeviceBuffer<double>(kk);
    zero_async(logs_, stream);
    status_ = DeviceBuffer<int>(kStatusSlots);
    zero_async(status_, stream);
  }

  /// The workspace query with the allocated buffers and the basis q (rows × k; one workspace
  /// serves geqrf, orgqr and potrf), its 32-bit check, a second look at the free memory (the real
  /// query may ask for more than the estimate the caller checked), then the workspace itself.
  /// `does_not_fit(ws)` throws the caller's message when the device cannot hold it.
  template <class F>
  void reserve_workspace(cusolverDnHandle_t h, T* q, F does_not_fit) {
    std::size_t ws = 0;
    const cusolverStatus_t st =
        query_workspace(h, rows_, k_, cholesky_, q, tau_.get(), gram_.get(), ws);
    if (st != CUSOLVER_STATUS_SUCCESS)
      throw_cusolver(st, "cusolverDn geqrf/orgqr/potrf _bufferSize", __FILE__, __LINE__);
    if (ws > static_cast<std::size_t>(std::numeric_limits<int>::max()))
      throw InvalidInput("the QR workspace of a " + std::to_string(rows_) + " x " +
                         std::to_string(k_) + " basis exceeds cuSOLVER's 32-bit size");
    std::size_t free_now = 0, total = 0;
    RNNLYAP_CUDA_CHECK(cudaMemGetInfo(&free_now, &total));
    if (sat_add(sat_mul(ws, sizeof(T)), kLibraryReserve) > free_now) does_not_fit(ws);
    work_ = DeviceBuffer<T>(std::max<std::size_t>(ws, 1));
    lwork_ = static_cast<int>(std::max<std::size_t>(ws, 1));
  }

  /// Q (rows × k, leading dimension rows) ← Q' with Q = Q'R; adds log|R_ii| to the accumulator
  /// when `accumulate`.
  void apply(cublasHandle_t blas, cusolverDnHandle_t solver, T* q, bool accumulate,
             cudaStream_t stream) {
    begin(blas, solver, q, accumulate, stream);
    finish(blas, solver, q, stream);
  }

  // CholeskyQR2 (Fukaya, Nakatsukasa, Yanagisawa & Yamamoto, "CholeskyQR2: a simple and
  // communication-avoiding algorithm for computing a tall-skinny QR factorization", ScalA 2014):
  // G = QᵀQ = R₁ᵀR₁, Q ← Q R₁⁻¹, then once more; R = R₂R₁, so log|R_ii| = log R₁_ii + log R₂_ii.
  // Householder QR replaces it, Q untouched, when the first Cholesky fails or max/min diag R₁
  // exceeds 1e6 (fp64) / 3e2 (fp32): beyond cond ~ ε^(-1/2) one pass loses orthogonality
  // (Yamamoto et al. 2015). Mirrors cpu::Orthonormalizer::cholesky_qr2.

  /// apply() in two halves, so that several propagators can queue their first halves before any
  /// waits. begin() queues Householder QR whole, or CholeskyQR2's first Gram matrix, its Cholesky
  /// factor and the copy of the fallback verdict to the host, and returns without waiting.
  void begin(cublasHandle_t blas, cusolverDnHandle_t solver, T* q, bool accumulate,
             cudaStream_t stream) {
    if (!cholesky_) {
      householder(solver, q, accumulate, stream);
      return;
    }
    const double max_cond = std::is_same_v<T, double> ? 1e6 : 3e2;
    int* st = status_.get();
    la::syrk_t(blas, k_, rows_, q, rows_, gram_.get(), k_);
    la::potrf_upper(solver, k_, gram_.get(), k_, work_.get(), lwork_, st + kInfoPotrf1);
    kernels::cholesky_check(k_, gram_.get(), st + kInfoPotrf1, max_cond, diag1_.get(),
                            st + kFallback, stream);
    // The verdict and the sticky solver words, so that a failed earlier factorisation is reported
    // at the next finish(), at most one re-orthonormalisation late, rather than at take_logs().
    static_assert(kFallback - kStickyGeqrf == 3, "sticky words and verdict are contiguous");
    RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(status_host_.get(), st + kStickyGeqrf,
                                       (kFallback - kStickyGeqrf + 1) * sizeof(int),
                                       cudaMemcpyDeviceToHost, stream));
    pending_ = true;
    accumulate_ = accumulate;
  }

  /// The second half: for CholeskyQR2, waits for the verdict (the one synchronisation), then
  /// either finishes it or, leaving Q as it was, runs Householder QR instead.
  void finish(cublasHandle_t blas, cusolverDnHandle_t solver, T* q, cudaStream_t stream) {
    if (!pending_) return;
    pending_ = false;
    RNNLYAP_CUDA_CHECK(cudaStreamSynchronize(stream));
    throw_if_solver_failed(status_host_.get(), 3);
    if (status_host_.get()[kFallback - kStickyGeqrf] != 0) {
      householder(solver, q, accumulate_, stream);
      return;
    }
    int* st = status_.get();
    la::trsm_right_upper(blas, rows_, k_, gram_.get(), k_, q, rows_);
    la::syrk_t(blas, k_, rows_, q, rows_, gram_.get(), k_);
    la::potrf_upper(solver, k_, gram_.get(), k_, work_.get(), lwork_, st + kInfoPotrf2);
    kernels::cholesky_logs(k_, gram_.get(), st + kInfoPotrf2, diag1_.get(), accumulate_,
                           logs_.get(), st + kStickyPotrf2, stream);
    la::trsm_right_upper(blas, rows_, k_, gram_.get(), k_, q, rows_);
  }

  /// The accumulated Σ log|R_ii| (k values; one synchronisation), zeroed; throws on a failed
  /// factorisation.
  std::vector<double> take_logs(cudaStream_t stream) {
    return cuda::take_logs(logs_, status_.get() + kStickyGeqrf, 3, stream);
  }

  void release() {
    tau_.reset();
    gram_.reset();
    work_.reset();
    diag1_.reset();
    logs_.reset();
    status_.reset();
    rows_ = k_ = lwork_ = 0;
    pending_ = false;
  }

 private:
  // Slots of the small int buffer on the device.
  enum StatusSlot : int {
    kInfoGeqrf = 0,  // devInfo of the last geqrf
    kInfoOrgqr,      // devInfo of the last orgqr
    kInfoPotrf1,     // devInfo of the first CholeskyQR potrf (feeds the fallback test)
    kInfoPotrf2,     // devInfo of the second CholeskyQR potrf
    kStickyGeqrf,    // first nonzero devInfo seen, per call site (read in take_logs)
    kStickyOrgqr,
    kStickyPotrf2,
    kFallback,  // 1 when the current CholeskyQR2 must fall back to Householder
    kStatusSlots
  };

  // Householder QR (cuSOLVER geqrf + orgqr), log|R_ii| from geqrf's diagonal.
  void householder(cusolverDnHandle_t solver, T* q, bool accumulate, cudaStream_t stream) {
    int* st = status_.get();
    la::geqrf(solver, rows_, k_, q, rows_, tau_.get(), work_.get(), lwork_, st + kInfoGeqrf);
    kernels::householder_logs(rows_, k_, q, accumulate, logs_.get(), st + kInfoGeqrf,
                              st + kStickyGeqrf, stream);
    la::orgqr(solver, rows_, k_, k_, q, rows_, tau_.get(), work_.get(), lwork_, st + kInfoOrgqr);
    kernels::record_info(st + kInfoOrgqr, st + kStickyOrgqr, stream);
  }

  int rows_ = 0, k_ = 0, lwork_ = 0;
  bool cholesky_ = false;
  bool pending_ = false;     // a CholeskyQR2 begun and not yet finished
  bool accumulate_ = false;  // its `accumulate`
  DeviceBuffer<T> tau_, gram_, work_;
  DeviceBuffer<double> diag1_, logs_;
  DeviceBuffer<int> status_;
  PinnedBuffer<int> status_host_;  // the sticky words and the fallback verdict
};

}  // namespace rnnlyap::cuda
