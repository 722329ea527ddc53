// The executor: what a backend offers the models (docs/design.md).
// Memory, copies, strided-batched GEMM, batched re-orthonormalisation returning log|R_ii|, and the
// per-element kernels of the models — declared once here, implemented once per backend
// (src/cpu/cpu_executor.cpp, src/cuda/cuda_executor.cpp). An executor knows no model: the models
// (src/core/models/) write their state and tangent steps with these calls, and one propagator
// (propagator.hpp) drives any model on any executor.
//
// Batches: every primitive works on B ≥ 1 members at once. Vectors are member-major (member b's n
// values at offset b·n); matrices are column-major blocks, member b's at offset b·stride (stride 0:
// one matrix shared by every member). Batch and k are separate dimensions everywhere.
//
// Pointers passed to the primitives are the executor's memory (host memory for the CPU, device
// memory for CUDA); calls are asynchronous on a GPU unless their name ends in _blocking. This
// header is plain C++17 (no CUDA, no BLAS), so that any translation unit may include it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "rnnlyap/options.hpp"

namespace rnnlyap::detail {

/// A trained cell of the per-element kernels; cell_gates() is its number of gates G. rnn_relu is
/// the vanilla RNN with nonlinearity='relu' (one gate, as rnn).
enum class CellKind : int { rnn = 1, gru = 3, lstm = 4, rnn_relu = 0x101 };
/// G: 1 (rnn, rnn_relu), 3 (gru), 4 (lstm).
constexpr int cell_gates(CellKind kind) {
  return static_cast<int>(kind) & 0xff;
}

/// The state buffers of the RK4 state step, each B·n values.
template <class T>
struct Rk4Buffers {
  T* h = nullptr;  ///< the state; the last stage moves it
  T* x[4] = {};    ///< x[s] = φ(y_s); x[0] = φ(h) holds between steps
  T* y[4] = {};    ///< stage points y_s (y_0 = h before the step)
  T* f[4] = {};    ///< f(y_s) = -y_s + J φ(y_s) + b
};

/// Memory and copies, independent of the working precision.
class Memory {
 public:
  virtual ~Memory() = default;
  Memory() = default;
  Memory(const Memory&) = delete;
  Memory& operator=(const Memory&) = delete;

  /// "cpu" or "cuda".
  virtual std::string name() const = 0;
  /// The CPU model or the GPU's name.
  virtual std::string device() const = 0;
  /// Bytes this process may still allocate there (the cgroup limit, or the GPU's free memory,
  /// less what the vendor libraries keep for themselves).
  virtual std::size_t bytes_available() const = 0;
  /// `bytes` of zeroed memory; throws when it cannot be had (a GPU: OutOfDeviceMemory).
  virtual void* allocate_bytes(std::size_t bytes) = 0;
  /// Bytes an allocation may take beyond its size (a GPU's allocation granularity): the memory
  /// check counts it once per buffer. 0 on the CPU.
  virtual std::size_t allocation_granularity() const { return 0; }
  virtual void free_bytes(void* p) noexcept = 0;
  /// Host → executor memory. May return before the copy is done only when `src` may be reused.
  virtual void copy_in(void* dst, const void* src, std::size_t bytes) = 0;
  /// Executor memory → host, after all work queued before it (a GPU waits here).
  virtual void copy_out_blocking(void* dst, const void* src, std::size_t bytes) = 0;
};

/// `count` values of U in an executor's memory, zeroed; move-only, freed on destruction.
template <class U>
class Buffer {
 public:
  Buffer() = default;
  Buffer(Memory& mem, std::size_t count)
      : mem_(&mem),
        ptr_(count ? static_cast<U*>(mem.allocate_bytes(count * sizeof(U))) : nullptr),
        count_(count) {}
  ~Buffer() { reset(); }
  Buffer(Buffer&& o) noexcept
      : mem_(o.mem_), ptr_(std::exchange(o.ptr_, nullptr)), count_(std::exchange(o.count_, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      mem_ = o.mem_;
      ptr_ = std::exchange(o.ptr_, nullptr);
      count_ = std::exchange(o.count_, 0);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void reset() noexcept {
    if (ptr_ != nullptr) mem_->free_bytes(ptr_);
    ptr_ = nullptr;
    count_ = 0;
  }
  U* get() const noexcept { return ptr_; }
  std::size_t size() const noexcept { return count_; }
  friend void swap(Buffer& a, Buffer& b) noexcept {
    std::swap(a.mem_, b.mem_);
    std::swap(a.ptr_, b.ptr_);
    std::swap(a.count_, b.count_);
  }

 private:
  Memory* mem_ = nullptr;
  U* ptr_ = nullptr;
  std::size_t count_ = 0;
};

/// What the re-orthonormalisations since the last take left: B·k values each, member-major.
struct LogSums {
  /// Σ log|R_b,ii| over the accumulated re-orthonormalisations.
  std::vector<double> sums;
  /// max of log|R_b,11| − log|R_b,ii| over them, and of 0 (column 1's own): the basis condition
  /// one re-orthonormalisation had to resolve in column i (driver.cpp). Only finite differences
  /// count (an exactly zero R_ii, a singular map, is exact, not rounding).
  std::vector<double> max_ratio;
};

/// Re-orthonormalises a batch of B bases of rows × k (column-major blocks one after another) and
/// keeps the fp64 sums of log|R_ii| and their largest per-re-orthonormalisation ratios (LogSums)
/// where the bases live.
template <class T>
class Reorthonormalizer {
 public:
  virtual ~Reorthonormalizer() = default;
  /// Q_b = Q_b' R_b, Q_b ← Q_b' for every member; adds log|R_b,ii| to member b's sums (and
  /// log|R_b,11/R_b,ii| to its maxima) when `accumulate`. A GPU waits here only for CholeskyQR's
  /// verdict (one wait for the whole batch).
  virtual void reorthonormalize(T* q, bool accumulate) = 0;
  /// The sums and maxima since the last call (read together: a GPU waits once), then resets them;
  /// throws on a failed factorisation.
  virtual LogSums take_logs_blocking() = 0;
  /// take_logs_blocking()'s sums alone.
  std::vector<double> take_log_sums_blocking() { return take_logs_blocking().sums; }
  /// From now on, keep each re-orthonormalisation's R for last_r_blocking() (covariant vectors);
  /// off by default, so that other runs pay neither its memory nor its copies.
  virtual void keep_r(bool on) = 0;
  /// The B factors R of the last reorthonormalize() (Q_before = Q_after R), each k×k upper
  /// triangular column-major (zeros below the diagonal), member after member, in fp64; needs
  /// keep_r(true) before that reorthonormalize().
  virtual std::vector<double> last_r_blocking() = 0;
};

/// The primitives of one backend in working precision T (float or double).
template <class T>
class Executor : public Memory {
 public:
  // --- dense linear algebra ---------------------------------------------------------------------

  /// C_b = alpha A_b B_b + beta C_b for b < batch (no transposes; A_b = a + b·stride_a, ...). With
  /// beta = 0, C is not read.
  virtual void gemm_batched(int m, int n, int kk, T alpha, const T* a, int lda, long long stride_a,
                            const T* b, int ldb, long long stride_b, T beta, T* c, int ldc,
                            long long stride_c, int batch) = 0;

  /// Device bytes a reorthonormalizer of this shape needs (before it is made), with its R factors
  /// when they will be kept (keep_r: covariant vectors).
  virtual std::size_t reorthonormalizer_bytes(int batch, int rows, int k, QrMethod method,
                                              bool keep_r) const = 0;
  /// `auto` means CholeskyQR (a second pass only when the first pass's condition needs it) with
  /// the Householder fallback.
  virtual std::unique_ptr<Reorthonormalizer<T>> make_reorthonormalizer(int batch, int rows, int k,
                                                                       QrMethod method) = 0;

  // --- per-element kernels of the random networks (models/random_network.cpp) --------------------
  // J is B blocks of n×n, bias/h/x B·n values, q/s/kbuf/acc B blocks of n×k, keys B noise keys.

  /// x = φ(h), `count` values.
  virtual void phi_into(long long count, const T* h, T* x) = 0;
  /// One Euler (rate) or map state step: drive = J x_in (each row summed over columns 0..n-1 in
  /// order), h ← (1-dt) h + dt (drive + b) + σ ξ (rate) or drive + b + σ ξ (map), x_out = φ(h).
  /// Needs x_in = φ(h); x_out is another buffer.
  virtual void euler_or_map_state_step(int batch, int n, bool map, const T* j, const T* bias, T* h,
                                       const T* x_in, T* x_out, T dt, T noise_scale,
                                       const std::uint64_t* keys, std::int64_t step) = 0;
  /// Stage `stage` (0..3) of classic RK4 of the state: f_s = -y_s + J x_s + b; stages 0..2 also
  /// y_{s+1} = h + c_next f_s and x_{s+1} = φ(y_{s+1}); stage 3 moves h by dt/6 (f0 + 2f1 + 2f2 +
  /// f3), adds the noise and sets x_0 = φ(h). Stage 0 copies h into y_0.
  virtual void rk4_stage(int batch, int n, int stage, const T* j, const T* bias,
                         const Rk4Buffers<T>& b, T c_next, T dt_over_6, T noise_scale,
                         const std::uint64_t* keys, std::int64_t step) = 0;
  /// s = diag(φ'(h)) q.
  virtual void scale_rows_by_dphi(int batch, int n, int k, const T* h, const T* q, T* s) = 0;
  /// The pass after RK4 tangent product `stage`: K ← K − Q; A ← (stage 0 ? Q : A) + w K; for
  /// stage < 3 also S ← diag(φ'(y_next)) (Q + c_next K).
  virtual void rk4_tangent_combine(int batch, int n, int k, int stage, T w, T c_next,
                                   const T* y_next, T* kbuf, const T* q, T* acc, T* s) = 0;

  // --- per-element kernels of the trained cells (models/cell.cpp) --------------------------------
  // One layer at a time. N units, G gates; W_hh (G·N × N column-major) and b_hh are shared by
  // every member; gi is member 0's input drive of this step (G·N values), member b's at
  // gi + b·gi_stride; h, c B·N values; coef B blocks of 6·N; e B blocks of dim × N; q, qn B blocks
  // of dim × k (a stacked network passes q and qn offset to the layer's first row, and dim its
  // total rows).

  /// y_b = A x_b + bias for b < batch: A (m × n column-major) and bias (m) shared, x B·n values, y
  /// B·m values; each row summed from the bias over columns 0..n-1 in order (the input drive
  /// W_ih h + b_ih of a stacked layer, from the new h of the layer below).
  virtual void cell_input_drive(int batch, int m, int n, const T* a, const T* bias, const T* x,
                                T* y) = 0;

  /// gh = W_hh h_in + b_hh (each row summed from the bias over columns 0..N-1 in order), then per
  /// unit the tangent coefficients into coef (skipped when null) and the state update into h_out
  /// and c (c in place; null for rnn/gru). h_out is another buffer than h_in.
  virtual void cell_step(CellKind kind, int batch, int n, const T* whh, const T* bhh, const T* gi,
                         long long gi_stride, const T* h_in, T* h_out, T* c, T* coef) = 0;
  /// E, the dim × N matrix that maps δh to the new tangent vector (models/cell.cpp), from w =
  /// W_hh. With `input`, w is a stacked layer's W_ih (G·N × N) and E maps the layer's input δx
  /// (the layer below's new δh): the same row scalings, but the GRU's n gate takes c4 (its input
  /// part is not reset by r) instead of c2.
  virtual void cell_form_e(CellKind kind, bool h_only, bool input, int batch, int n, int dim,
                           const T* coef, const T* w, T* e) = 0;
  /// qn = D q, the diagonal part of the tangent map (gru: z on δh; full lstm: f on δc, into both
  /// blocks), rows 0 … 2N−1 of each column (dim: the leading dimension and a member's rows).
  /// Returns false, doing nothing, when the cell has none (rnn, h-only lstm).
  virtual bool cell_diagonal(CellKind kind, bool h_only, int batch, int n, int dim, int k,
                             const T* coef, const T* q, T* qn) = 0;
};

/// The CPU executor (BLAS/LAPACK); always compiled.
template <class T>
std::unique_ptr<Executor<T>> make_cpu_executor();
/// The CUDA executor on `device`; throws BackendUnavailable without CUDA or without that device,
/// or when the device cannot run this build (cuda_device_unusable).
template <class T>
std::unique_ptr<Executor<T>> make_cuda_executor(int device);
/// Why CUDA device `device` cannot run this build, in one line (a compute capability it has no GPU
/// code for, a driver of an older CUDA than its runtime); empty when it can, or when the device
/// does not exist (make_cuda_executor then says so). `auto` uses the CPU when it is not empty.
/// Creates no CUDA context; never throws.
std::string cuda_device_unusable(int device);

}  // namespace rnnlyap::detail

// The CPU BLAS's threads (src/cpu/blas_info.cpp): the driver sets them, parallel.hpp holds them at
// one while threads take whole runs.
namespace rnnlyap::cpu {
/// Sets the BLAS library's thread count; false where the library offers no way.
bool set_blas_threads(int threads);
/// The BLAS library's thread count (0 if it cannot tell).
int blas_threads();
/// The BLAS linked, and its own configuration string where it has one (`rnnlyap info`).
std::string blas_description();
/// "" or why the BLAS runs below this CPU's speed (blas_warning()).
std::string blas_core_warning();
}  // namespace rnnlyap::cpu
