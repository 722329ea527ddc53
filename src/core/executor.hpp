// The executor: what a backend offers the models (docs/design.md).
// Memory, copies, strided-batched GEMM and batched re-orthonormalisation returning log|R_ii|,
// declared once here and implemented once per backend (src/cpu/cpu_executor.cpp,
// src/cuda/cuda_executor.cpp; backends.hpp registers them). The per-element kernels of a model
// family are declared beside the model (src/core/models/*_kernels.hpp), implemented in each
// backend's folder, and reached through kernels<K>(). An executor knows no model: the models
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

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "rnnlyap/errors.hpp"
#include "rnnlyap/options.hpp"
#include "rnnlyap/result.hpp"

namespace rnnlyap::detail {

/// The per-element kernels of one model family on one backend (e.g. models/cell_kernels.hpp): an
/// interface declared beside the model, implemented in each backend's folder and owned by its
/// executor.
class Kernels {
 public:
  virtual ~Kernels() = default;
  Kernels() = default;
  Kernels(const Kernels&) = delete;
  Kernels& operator=(const Kernels&) = delete;
};

/// Memory and copies, independent of the working precision.
class Memory {
 public:
  virtual ~Memory() = default;
  Memory() = default;
  Memory(const Memory&) = delete;
  Memory& operator=(const Memory&) = delete;

  /// Which backend (backends.hpp).
  virtual BackendKind kind() const = 0;
  /// Its name: "cpu" or "cuda".
  std::string name() const { return std::string(to_string(kind())); }
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
  /// The largest `v` over the ranks of a distributed executor (collective there: every rank calls
  /// it); `v` itself elsewhere.
  virtual double max_over_ranks(double v) { return v; }
  /// Whether `ok` holds on every rank (collective, as max_over_ranks).
  bool all_ok(bool ok) { return max_over_ranks(ok ? 0.0 : 1.0) == 0.0; }
  /// Whether this process writes the run's files (checkpoints): true but on the ranks other than
  /// 0 of a distributed executor.
  virtual bool writes_files() const { return true; }
  /// Values this executor holds of a rows × cols matrix (J, a basis): all of them, but for the
  /// distributed executor, which holds its rank's blocks (src/distributed/). Vectors are whole
  /// everywhere.
  virtual std::size_t matrix_values(int rows, int cols) const {
    return static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
  }
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
  /// one re-orthonormalisation had to resolve in column i (run/basis_warnings.cpp). Only finite
  /// differences count (an exactly zero R_ii, a singular map, is exact, not rounding).
  std::vector<double> max_ratio;
  /// Per member: how its re-orthonormalisations since the last take went.
  std::vector<QrPaths> paths;
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
  /// Writes columns [c0, c1) of a rows-row matrix, column-major, into `out` (rows·(c1 − c0)
  /// values).
  using ColumnSource = std::function<void(int c0, int c1, T* out)>;
  /// Fills the rows × cols matrix `dst` (matrix_values(rows, cols) values) from `columns`, a few
  /// columns at a time (a distributed executor asks only for the columns of its blocks).
  virtual void matrix_in(T* dst, int rows, int cols, const ColumnSource& columns) {
    const std::size_t r = static_cast<std::size_t>(rows);
    const int piece = static_cast<int>(std::max<std::size_t>(1, (std::size_t{1} << 22) / r));
    std::vector<T> buf;
    for (int c0 = 0; c0 < cols; c0 += piece) {
      const int c1 = std::min(cols, c0 + piece);
      buf.resize(r * static_cast<std::size_t>(c1 - c0));
      columns(c0, c1, buf.data());
      this->copy_in(dst + r * static_cast<std::size_t>(c0), buf.data(), buf.size() * sizeof(T));
    }
  }
  /// matrix_in from float64 columns (`columns(c0, c1, out)` writes rows·(c1 − c0) doubles),
  /// converted to T a piece at a time.
  void matrix_in_fp64(T* dst, int rows, int cols,
                      const std::function<void(int c0, int c1, double* out)>& columns) {
    if constexpr (std::is_same_v<T, double>) {
      matrix_in(dst, rows, cols, columns);
    } else {
      std::vector<double> piece;
      matrix_in(dst, rows, cols, [&](int c0, int c1, T* out) {
        piece.resize(static_cast<std::size_t>(rows) * static_cast<std::size_t>(c1 - c0));
        columns(c0, c1, piece.data());
        std::copy(piece.begin(), piece.end(), out);
      });
    }
  }
  /// The whole rows × cols matrix `src`, column-major, on the host, after all work queued before
  /// it. A distributed executor gathers it on rank 0 (collective); the other ranks pass no `dst`
  /// (null) and only send their blocks.
  virtual void matrix_out_blocking(T* dst, const T* src, int rows, int cols) {
    this->copy_out_blocking(dst, src, matrix_values(rows, cols) * sizeof(T));
  }

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

  /// This backend's kernels of family K (a Kernels interface, models/*_kernels.hpp), owned by the
  /// executor. A model looks them up once (upload) and then calls them directly: one virtual call
  /// per kernel launch on the whole batch.
  template <class K>
  K& kernels() {
    K* k = dynamic_cast<K*>(family_kernels(typeid(K)));
    if (k == nullptr)
      throw Error("the " + name() + " executor has no kernels of this model family");
    return *k;
  }

 protected:
  /// The kernels of the family whose interface type is `family`; null when this backend has none.
  virtual Kernels* family_kernels(const std::type_info& family) = 0;
};

/// The CPU executor (BLAS/LAPACK); always compiled.
template <class T>
std::unique_ptr<Executor<T>> make_cpu_executor(int threads = 0);
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
