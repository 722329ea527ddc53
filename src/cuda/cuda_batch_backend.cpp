// CUDA batch propagator: B networks of the same size n run in lockstep as one block-diagonal
// system (BatchBackend in src/core/backend.hpp), for ensembles of small networks that would each
// leave a GPU mostly idle. Per member it does the CPU backend's arithmetic
// (src/cpu/cpu_backend.cpp) in the CPU's order, as the single-network CUDA backend
// (cuda_backend.cpp) does; the batching only changes how the work is launched:
//   - Euler/map step: one kernel S_b = diag(φ'(h_b)) Q_b for all members, ONE
//     cublas<t>gemmStridedBatched for all products Q_b ← α J_b S_b + β Q_b (strides n² for J, n·k
//     for S and Q), one state kernel for all members (one thread per (member, row), columns summed
//     in the fixed order 0..n-1). RK4: the four stage kernels, four strided-batched GEMMs and four
//     fused passes, each covering every member.
//   - Re-orthonormalisation, n ≤ 256: batched Householder QR. cublas<t>geqrfBatched factors every
//     block (an array of per-member pointers), one kernel adds log|R_ii| from each block's
//     diagonal, and our own kernel (kernels::batch_form_q) forms Q = H_1…H_k [I_k; 0] from the
//     reflectors, as LAPACK's orgqr does. We chose this over a batched CholeskyQR2 because it has
//     no failure mode to handle (CholeskyQR2 needs a per-member fallback decision on the host, i.e.
//     a synchronisation, or device-side branching per member) and its arithmetic is the CPU
//     reference's Householder QR. It is used for every QrMethod: Householder is what CholeskyQR2
//     falls back to, and both give the same Q up to column signs and the same log|R_ii|.
//   - Re-orthonormalisation, n > 256: a loop over members of cuSOLVER geqrf + orgqr (as in
//     cuda_backend.cpp), whose devInfo values stay on the device (sticky status words).
// Log sums stay on the device in fp64 until take_log_sums().
//
// Synchronisation with the host happens only
//   - in state(), basis() and take_log_sums(), which read results back;
//   - implicitly, in upload()/set_state()/set_basis(), whose copies come from pageable host memory
//     (set-up only);
//   - cublas<t>geqrfBatched's `info` is a host pointer, but it only reports the validation of the
//     arguments, done on the host before any work is queued: it does not wait for the device.
//     (Whether cuBLAS allocates internal workspace there, and so synchronises implicitly, is not
//     documented; the library reserve below leaves room for it.)
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/backend.hpp"
#include "cuda_check.hpp"
#include "cuda_common.hpp"
#include "cuda_linalg.hpp"
#include "cuda_resources.hpp"
#include "launch.cuh"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::detail {
namespace {

using cuda::kLibraryReserve;
using cuda::kMiB;
using cuda::mib_ceil;
using cuda::sat_add;
using cuda::sat_mul;

using cuda::DeviceBuffer;
namespace kernels = cuda::kernels;
namespace la = cuda::la;

// Largest n re-orthonormalised with the batched Householder QR; beyond it, cuSOLVER per member.
constexpr int kMaxBatchedQrN = 256;

// Slots of the small int buffer on the device (the per-member cuSOLVER path).
enum StatusSlot : int {
  kInfoGeqrf = 0,  // devInfo of the last geqrf
  kInfoOrgqr,      // devInfo of the last orgqr
  kStickyGeqrf,    // first nonzero devInfo seen, per call site (read in take_log_sums)
  kStickyOrgqr,
  kStatusSlots
};

// The batched cuBLAS calls, overloaded on float/double and checked (cuda_linalg.hpp style).
// C_b = alpha A_b B_b + beta C_b for b < batch, no transposes; scalars in host pointer mode.
void gemm_strided_batched(cublasHandle_t h, int m, int n, int kk, double alpha, const double* a,
                          int lda, long long stride_a, const double* b, int ldb, long long stride_b,
                          double beta, double* c, int ldc, long long stride_c, int batch) {
  RNNLYAP_CUBLAS_CHECK(cublasDgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, kk, &alpha, a,
                                                 lda, stride_a, b, ldb, stride_b, &beta, c, ldc,
                                                 stride_c, batch));
}
void gemm_strided_batched(cublasHandle_t h, int m, int n, int kk, float alpha, const float* a,
                          int lda, long long stride_a, const float* b, int ldb, long long stride_b,
                          float beta, float* c, int ldc, long long stride_c, int batch) {
  RNNLYAP_CUBLAS_CHECK(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, kk, &alpha, a,
                                                 lda, stride_a, b, ldb, stride_b, &beta, c, ldc,
                                                 stride_c, batch));
}

// Householder QR of every block: `a` and `tau` are device arrays of `batch` device pointers.
// `info` is a host int: argument validation only (0, or -i for a bad i-th argument).
void geqrf_batched(cublasHandle_t h, int m, int n, double* const a[], int lda, double* const tau[],
                   int* info, int batch) {
  RNNLYAP_CUBLAS_CHECK(cublasDgeqrfBatched(h, m, n, a, lda, tau, info, batch));
}
void geqrf_batched(cublasHandle_t h, int m, int n, float* const a[], int lda, float* const tau[],
                   int* info, int batch) {
  RNNLYAP_CUBLAS_CHECK(cublasSgeqrfBatched(h, m, n, a, lda, tau, info, batch));
}

template <class T>
class CudaBatchBackend final : public BatchBackend, private cuda::DeviceContext {
 public:
  explicit CudaBatchBackend(int device) : cuda::DeviceContext(device) {}

  ~CudaBatchBackend() override {
    quiesce();  // before the buffers go; the stream and handles are the base's
  }

  std::string name() const override { return "cuda"; }
  std::string device() const override { return name_; }

  void upload(const std::vector<Network>& nets, const Dynamics& dyn,
              const std::vector<std::uint64_t>& noise_keys, int k) override {
    use_device();
    if (nets.empty()) throw InvalidInput("a batch needs at least one network");
    if (nets.size() != noise_keys.size())
      throw InvalidInput("a batch needs one noise key per network (" + std::to_string(nets.size()) +
                         " networks, " + std::to_string(noise_keys.size()) + " keys)");
    if (nets.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
      throw InvalidInput("a batch of " + std::to_string(nets.size()) + " networks is too large");
    const int n = nets[0].n;
    if (n < 1) throw InvalidInput("network has no neurons");
    for (const Network& net : nets)
      if (net.n != n) throw InvalidInput("the networks of a batch must have the same size");
    if (k < 1 || k > n)
      throw InvalidInput("k = " + std::to_string(k) + " must be in [1, N = " + std::to_string(n) +
                         "]");
    if (static_cast<long long>(nets.size()) * n > std::numeric_limits<int>::max())
      throw InvalidInput("a batch of " + std::to_string(nets.size()) + " networks of N = " +
                         std::to_string(n) + " has more than 2^31 - 1 neurons");
    // Free what an earlier upload holds, so that the free memory below counts it.
    RNNLYAP_CUDA_CHECK(cudaStreamSynchronize(stream()));
    release();
    try {
      allocate(nets, dyn, noise_keys, k);
    } catch (...) {
      release();  // n_ = 0 again: no half-built backend is left behind
      throw;
    }
  }

  void set_state(std::span<const double> h) override {
    use_device();
    require_uploaded();
    if (h.size() != h_.size())
      throw InvalidInput("batch state has " + std::to_string(h.size()) +
                         " entries, expected B*N = " + std::to_string(h_.size()));
    copy_to_device(h_.get(), h);
    x_cur_ = 0;
    kernels::phi_into(batch_ * n_, h_.get(), x_[0].get(), stream());  // the state invariant
  }

  std::vector<double> state() override {
    use_device();
    require_uploaded();
    return copy_to_host(h_.get(), h_.size());
  }

  void set_basis(std::span<const double> q) override {
    use_device();
    require_uploaded();
    if (q.size() != basis_elems())
      throw InvalidInput("batch basis has " + std::to_string(q.size()) +
                         " entries, expected B*N*k = " + std::to_string(basis_elems()));
    copy_to_device(q_cur(), q);
  }

  std::vector<double> basis() override {
    use_device();
    require_uploaded();
    return copy_to_host(q_cur(), basis_elems());
  }

  void advance_state(std::int64_t step0, std::int64_t steps) override {
    use_device();
    require_uploaded();
    for (std::int64_t s = 0; s < steps; ++s) state_step(step0 + s);
  }

  void advance_tangent(std::int64_t step0, std::int64_t steps) override {
    use_device();
    require_uploaded();
    for (std::int64_t s = 0; s < steps; ++s) {
      if (rk4_)
        tangent_step_rk4(step0 + s);
      else
        tangent_step_euler_or_map(step0 + s);
    }
  }

  void reorthonormalize(bool accumulate) override {
    use_device();
    require_uploaded();
    if (batched_qr_)
      batched_householder(accumulate);
    else
      per_member_householder(accumulate);
  }

  std::vector<double> take_log_sums() override {
    use_device();
    require_uploaded();
    return cuda::take_logs(logs_, status_.get() + kStickyGeqrf, 2, stream());
  }

 private:
  std::size_t vector_elems() const {
    return static_cast<std::size_t>(batch_) * static_cast<std::size_t>(n_);
  }
  std::size_t block_elems() const {
    return static_cast<std::size_t>(n_) * static_cast<std::size_t>(k_);
  }
  std::size_t basis_elems() const { return static_cast<std::size_t>(batch_) * block_elems(); }
  T* q_cur() const { return qbuf_[q_cur_].get(); }
  T* q_other() const { return qbuf_[1 - q_cur_].get(); }

  // Checks that the run fits, then allocates and initialises every buffer (upload()).
  void allocate(const std::vector<Network>& nets, const Dynamics& dyn,
                const std::vector<std::uint64_t>& noise_keys, int k) {
    batch_ = static_cast<int>(nets.size());
    n_ = nets[0].n;
    k_ = k;
    dyn_ = dyn;
    rk4_ = dyn.model == Model::rate && dyn.integrator == Integrator::rk4;
    map_ = dyn.model == Model::map;
    batched_qr_ = n_ <= kMaxBatchedQrN;

    // Does the run fit? First without the per-member QR workspace (whose query needs sizes
    // cuSOLVER can represent), then with it. cuSOLVER may refuse a query without buffers: then
    // an estimate.
    std::size_t free_bytes = 0, total_bytes = 0;
    RNNLYAP_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    if (bytes_needed(0) > free_bytes) throw_does_not_fit(bytes_needed(0), free_bytes);
    std::size_t ws = 0;
    if (!batched_qr_) {
      if (query_workspace(nullptr, nullptr, ws) != CUSOLVER_STATUS_SUCCESS)
        ws = sat_mul(static_cast<std::size_t>(n_) + static_cast<std::size_t>(k_), 256);
      if (bytes_needed(ws) > free_bytes) throw_does_not_fit(bytes_needed(ws), free_bytes);
    }

    const std::size_t n = static_cast<std::size_t>(n_);
    for (std::size_t b = 0; b < nets.size(); ++b) {
      if (nets[b].j.size() != n * n)
        throw InvalidInput("weight matrix of network " + std::to_string(b) + " has " +
                           std::to_string(nets[b].j.size()) +
                           " entries, expected N*N = " + std::to_string(n * n));
      if (!nets[b].bias.empty() && nets[b].bias.size() != n)
        throw InvalidInput("bias of network " + std::to_string(b) + " has " +
                           std::to_string(nets[b].bias.size()) +
                           " entries, expected N = " + std::to_string(n));
    }

    const std::size_t bn = vector_elems();
    j_ = DeviceBuffer<T>(sat_mul(bn, n));
    bias_ = DeviceBuffer<T>(bn);
    zero(bias_);
    for (std::size_t b = 0; b < nets.size(); ++b) {
      copy_to_device(j_.get() + b * n * n, nets[b].j);
      copy_to_device(bias_.get() + b * n, nets[b].bias);  // nothing to copy: stays 0
    }
    keys_ = DeviceBuffer<std::uint64_t>(nets.size());
    RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(keys_.get(), noise_keys.data(), keys_.bytes(),
                                       cudaMemcpyHostToDevice, stream()));
    h_ = DeviceBuffer<T>(bn);
    zero(h_);
    for (int i = 0; i < 4; ++i) {
      if (i < 2 || rk4_) {
        x_[i] = DeviceBuffer<T>(bn);
        zero(x_[i]);  // = φ(h) for h = 0
      }
      if (rk4_) {
        y_[i] = DeviceBuffer<T>(bn);
        f_[i] = DeviceBuffer<T>(bn);
        zero(y_[i]);
        zero(f_[i]);
      }
    }
    x_cur_ = 0;
    const std::size_t bnk = basis_elems();
    q_cur_ = 0;
    qbuf_[0] = DeviceBuffer<T>(bnk);
    s_ = DeviceBuffer<T>(bnk);
    zero(qbuf_[0]);
    zero(s_);
    if (rk4_) {
      qbuf_[1] = DeviceBuffer<T>(bnk);  // the RK4 accumulator; swaps roles with Q every step
      kbuf_ = DeviceBuffer<T>(bnk);
      zero(qbuf_[1]);
      zero(kbuf_);
    }
    tau_ = DeviceBuffer<T>(static_cast<std::size_t>(batch_) * static_cast<std::size_t>(k_));
    zero(tau_);
    logs_ = DeviceBuffer<double>(static_cast<std::size_t>(batch_) * static_cast<std::size_t>(k_));
    zero(logs_);
    status_ = DeviceBuffer<int>(kStatusSlots);
    zero(status_);

    if (batched_qr_) {
      // Pointer arrays of geqrfBatched: the blocks of each basis buffer (Q and, for RK4, the
      // accumulator it swaps with), then the members' tau.
      ptrs_ = DeviceBuffer<T*>(3 * static_cast<std::size_t>(batch_));
      const long long block = static_cast<long long>(block_elems());
      for (int i = 0; i < 2; ++i)
        if (qbuf_[i].size() != 0)
          kernels::batch_pointers(batch_, qbuf_[i].get(), block, a_ptrs(i), stream());
      kernels::batch_pointers(batch_, tau_.get(), static_cast<long long>(k_), tau_ptrs(), stream());
      return;
    }
    // The per-member cuSOLVER path: the workspace query with the real buffers; one workspace
    // serves geqrf and orgqr.
    const cusolverStatus_t st = query_workspace(qbuf_[0].get(), tau_.get(), ws);
    if (st != CUSOLVER_STATUS_SUCCESS)
      cuda::throw_cusolver(st, "cusolverDn geqrf/orgqr _bufferSize", __FILE__, __LINE__);
    if (ws > static_cast<std::size_t>(std::numeric_limits<int>::max()))
      throw InvalidInput("the QR workspace of N = " + std::to_string(n_) +
                         ", k = " + std::to_string(k_) + " exceeds cuSOLVER's 32-bit size");
    std::size_t free_now = 0;
    RNNLYAP_CUDA_CHECK(cudaMemGetInfo(&free_now, &total_bytes));
    if (sat_add(sat_mul(ws, sizeof(T)), kLibraryReserve) > free_now)
      throw_does_not_fit(bytes_needed(ws), free_bytes);
    work_ = DeviceBuffer<T>(std::max<std::size_t>(ws, 1));
    lwork_ = static_cast<int>(std::max<std::size_t>(ws, 1));
  }

  T** a_ptrs(int buffer) const {
    return ptrs_.get() + static_cast<std::size_t>(buffer) * static_cast<std::size_t>(batch_);
  }
  T** tau_ptrs() const { return ptrs_.get() + 2 * static_cast<std::size_t>(batch_); }

  void require_uploaded() const {
    if (n_ == 0) throw Error("CUDA batch backend: upload() must be called first");
  }

  // Bytes the run needs on the device besides `ws` workspace elements (per-member QR only):
  //   B·n²                      the weights
  //   B·n·k · (RK4 ? 4 : 2)     the bases: Q and S, plus the RK4 accumulator and K
  //   B·n · (RK4 ? 14 : 4)      the vectors: bias, h, x[2 or 4], RK4 stage points and slopes
  //   B·k                       tau
  // in T, plus B·k fp64 logs, B noise keys, 3B pointers (batched QR), the status words and the
  // libraries' reserve.
  std::size_t bytes_needed(std::size_t ws) const {
    const std::size_t b = static_cast<std::size_t>(batch_);
    const std::size_t n = static_cast<std::size_t>(n_), k = static_cast<std::size_t>(k_);
    std::size_t elems = sat_mul(sat_mul(b, n), n);
    elems = sat_add(elems, sat_mul(sat_mul(sat_mul(b, n), k), rk4_ ? 4 : 2));
    elems = sat_add(elems, sat_mul(sat_mul(b, n), rk4_ ? 2 + 4 + 4 + 4 : 2 + 2));
    elems = sat_add(elems, sat_mul(b, k));
    elems = sat_add(elems, ws);
    std::size_t bytes = sat_mul(elems, sizeof(T));
    bytes = sat_add(bytes, sat_mul(sat_mul(b, k), sizeof(double)));
    bytes = sat_add(bytes, sat_mul(b, sizeof(std::uint64_t)));
    if (batched_qr_) bytes = sat_add(bytes, sat_mul(3 * b, sizeof(T*)));
    bytes = sat_add(bytes, kStatusSlots * sizeof(int));
    return sat_add(bytes, kLibraryReserve);
  }

  [[noreturn]] void throw_does_not_fit(std::size_t need, std::size_t free_bytes) const {
    throw InvalidInput("the run needs " + std::to_string(mib_ceil(need)) + " MiB of GPU memory; " +
                       name_ + " has " + std::to_string(free_bytes / kMiB) +
                       " MiB free (B = " + std::to_string(batch_) +
                       " networks, N = " + std::to_string(n_) + ", k = " + std::to_string(k_) +
                       ", " + (std::is_same_v<T, double> ? "fp64" : "fp32") + ")");
  }

  // Largest workspace (elements) of geqrf and orgqr of one n×k block.
  cusolverStatus_t query_workspace(T* q, T* tau, std::size_t& elems) const {
    int a = 0, b = 0;
    cusolverStatus_t st = la::geqrf_lwork(cusolver_.get(), n_, k_, q, n_, a);
    if (st != CUSOLVER_STATUS_SUCCESS) return st;
    st = la::orgqr_lwork(cusolver_.get(), n_, k_, k_, q, n_, tau, b);
    if (st != CUSOLVER_STATUS_SUCCESS) return st;
    elems = static_cast<std::size_t>(std::max({a, b, 0}));
    return CUSOLVER_STATUS_SUCCESS;
  }

  void release() {
    j_.reset();
    bias_.reset();
    keys_.reset();
    h_.reset();
    for (int i = 0; i < 4; ++i) {
      x_[i].reset();
      y_[i].reset();
      f_[i].reset();
    }
    qbuf_[0].reset();
    qbuf_[1].reset();
    s_.reset();
    kbuf_.reset();
    tau_.reset();
    work_.reset();
    ptrs_.reset();
    logs_.reset();
    status_.reset();
    batch_ = n_ = k_ = 0;
    q_cur_ = x_cur_ = 0;
  }

  T noise_scale() const {
    return static_cast<T>(map_ ? dyn_.input_std : dyn_.input_std * std::sqrt(dyn_.dt));
  }

  // Classic RK4 of every member's state (CpuBackend::rk4_state): 4 launches for the whole batch,
  // leaving the stage points in y_.
  void rk4_state(std::int64_t step) {
    const T dt = static_cast<T>(dyn_.dt);
    const T c[4] = {T(0), dt / 2, dt / 2, dt};
    kernels::Rk4State<T> b;
    b.h = h_.get();
    for (int i = 0; i < 4; ++i) {
      b.x[i] = x_[i].get();
      b.y[i] = y_[i].get();
      b.f[i] = f_[i].get();
    }
    for (int s = 0; s < 4; ++s)
      kernels::batch_rk4_stage(batch_, n_, s, j_.get(), bias_.get(), b, s < 3 ? c[s + 1] : T(0),
                               dt / 6, noise_scale(), keys_.get(), step, stream());
  }

  // CpuBackend::state_step for every member: one launch for Euler/map (x = φ(h) ping-pongs
  // between x_[0] and x_[1]), four for RK4.
  void state_step(std::int64_t step) {
    if (rk4_) {
      rk4_state(step);
      return;
    }
    kernels::batch_euler_or_map_state_step(
        batch_, n_, map_, j_.get(), bias_.get(), h_.get(), x_[x_cur_].get(), x_[1 - x_cur_].get(),
        static_cast<T>(dyn_.dt), noise_scale(), keys_.get(), step, stream());
    x_cur_ = 1 - x_cur_;
  }

  // One GEMM per member, all in one strided-batched call: C_b = alpha J_b B_b + beta C_b.
  void batched_product(T alpha, const T* b, T beta, T* c) {
    const long long nn = static_cast<long long>(n_) * n_;
    const long long nk = static_cast<long long>(block_elems());
    gemm_strided_batched(cublas_.get(), n_, k_, n_, alpha, j_.get(), n_, nn, b, n_, nk, beta, c, n_,
                         nk, batch_);
  }

  // D_t Q for rate/Euler ((1-dt) I + dt J diag φ') and map (J diag φ'), for every member:
  // S = diag(φ'(h)) Q, then Q ← α J S + β Q in one strided-batched GEMM, then the state step.
  void tangent_step_euler_or_map(std::int64_t step) {
    kernels::batch_scale_rows_by_dphi(batch_, n_, k_, h_.get(), q_cur(), s_.get(), stream());
    const T alpha = map_ ? T(1) : static_cast<T>(dyn_.dt);
    const T beta = map_ ? T(0) : static_cast<T>(1 - dyn_.dt);
    batched_product(alpha, s_.get(), beta, q_cur());
    state_step(step);
  }

  // RK4 of the variational equation along the RK4 stage points (CpuBackend::tangent_step_rk4):
  // K_s = -Y_s + J diag(φ'(y_s)) Y_s with Y_s = Q + c_s K_{s-1}; four strided-batched GEMMs, each
  // followed by one fused pass over every member.
  void tangent_step_rk4(std::int64_t step) {
    const T dt = static_cast<T>(dyn_.dt);
    rk4_state(step);  // fills y_ and moves h_
    const T c[4] = {T(0), dt / 2, dt / 2, dt};
    const T w[4] = {dt / 6, dt / 3, dt / 3, dt / 6};
    T* q = q_cur();
    T* acc = q_other();
    kernels::batch_scale_rows_by_dphi(batch_, n_, k_, y_[0].get(), q, s_.get(), stream());
    for (int s = 0; s < 4; ++s) {
      // K = J S - c_s K_{s-1}  (beta = -0 on the first stage: K is not read)
      batched_product(T(1), s_.get(), -c[s], kbuf_.get());
      kernels::batch_rk4_tangent_combine(batch_, n_, k_, s, w[s], s < 3 ? c[s + 1] : T(0),
                                         s < 3 ? y_[s + 1].get() : nullptr, kbuf_.get(), q, acc,
                                         s_.get(), stream());
    }
    q_cur_ = 1 - q_cur_;  // the accumulator is the new Q
  }

  // n ≤ 256: cublas<t>geqrfBatched on every block, log|R_ii| from the diagonals, then Q formed in
  // place from the reflectors (kernels::batch_form_q). Three launches for the whole batch.
  void batched_householder(bool accumulate) {
    int info = 0;
    geqrf_batched(cublas_.get(), n_, k_, a_ptrs(q_cur_), n_, tau_ptrs(), &info, batch_);
    if (info != 0)
      throw VendorError("cuBLAS cublas<t>geqrfBatched", info,
                        "invalid argument " + std::to_string(-info), __FILE__, __LINE__);
    if (accumulate) kernels::batch_diag_logs(batch_, n_, k_, q_cur(), logs_.get(), stream());
    kernels::batch_form_q(batch_, n_, k_, q_cur(), tau_.get(), stream());
  }

  // n > 256: cuSOLVER geqrf + orgqr member by member (as CudaBackend::householder), devInfo folded
  // into the sticky status words on the device.
  void per_member_householder(bool accumulate) {
    int* st = status_.get();
    for (int b = 0; b < batch_; ++b) {
      T* qb = q_cur() + static_cast<std::size_t>(b) * block_elems();
      T* tb = tau_.get() + static_cast<std::size_t>(b) * static_cast<std::size_t>(k_);
      double* lb = logs_.get() + static_cast<std::size_t>(b) * static_cast<std::size_t>(k_);
      la::geqrf(cusolver_.get(), n_, k_, qb, n_, tb, work_.get(), lwork_, st + kInfoGeqrf);
      kernels::householder_logs(n_, k_, qb, accumulate, lb, st + kInfoGeqrf, st + kStickyGeqrf,
                                stream());
      la::orgqr(cusolver_.get(), n_, k_, k_, qb, n_, tb, work_.get(), lwork_, st + kInfoOrgqr);
      kernels::record_info(st + kInfoOrgqr, st + kStickyOrgqr, stream());
    }
  }

  int batch_ = 0, n_ = 0, k_ = 0;
  Dynamics dyn_;
  bool rk4_ = false, map_ = false, batched_qr_ = true;
  DeviceBuffer<T> j_, bias_, h_;
  DeviceBuffer<std::uint64_t> keys_;
  DeviceBuffer<T> x_[4], y_[4], f_[4];
  int x_cur_ = 0;            // Euler/map: x_[x_cur_] = φ(h)
  DeviceBuffer<T> qbuf_[2];  // Q = qbuf_[q_cur_]; for RK4 the other is the accumulator
  int q_cur_ = 0;
  DeviceBuffer<T> s_, kbuf_;
  DeviceBuffer<T> tau_, work_;
  int lwork_ = 0;
  DeviceBuffer<T*> ptrs_;  // geqrfBatched: block pointers of qbuf_[0], of qbuf_[1], tau pointers
  DeviceBuffer<double> logs_;
  DeviceBuffer<int> status_;
};

}  // namespace

std::unique_ptr<BatchBackend> make_cuda_batch_backend(Precision precision, QrMethod qr,
                                                      int device) {
  cuda::require_device(device);
  // Every QrMethod runs the batched Householder QR (n ≤ 256) or cuSOLVER's per member (n > 256):
  // see the top of this file.
  (void)qr;
  if (precision == Precision::fp32) return std::make_unique<CudaBatchBackend<float>>(device);
  return std::make_unique<CudaBatchBackend<double>>(device);
}

}  // namespace rnnlyap::detail
