// The distributed executor (core/backends.hpp, DistributedBackend): one network over a PR × PC grid
// of MPI ranks (README, "One network over many ranks"; docs/cluster.md). J and every tangent basis
// are cut into nb × nb blocks dealt round-robin over the grid (ScaLAPACK's 2D block-cyclic layout);
// vectors (the state, φ(h), the bias) are whole on every rank and computed identically everywhere.
//   - the tangent product is PBLAS's p?gemm;
//   - re-orthonormalisation is ScaLAPACK's Householder (p?geqrf + p?orgqr) or CholeskyQR
//     (p?syrk, p?potrf, p?trsm) under the rules of core/qr_policy.hpp, as on one process; each
//     |R_ii| is sent from the rank holding it to every rank (exact: one rank holds each), so the
//     sums of log|R_ii|, and every decision taken from them, are the same on every rank;
//   - the state's J φ(h): each rank multiplies its blocks, the ranks exchange their partial sums
//     (MPI_Allgatherv) and every rank adds a row's partial sums in the same order (by process
//     column), so the state is bit for bit the same on every rank; with one process column each row
//     is summed over the columns in order, as on one process, and the trajectory is that of one
//     process exactly;
//   - the per-element loops are the CPU kernels' (src/cpu/kernels.hpp) on each rank's blocks.
// The executor reports BackendKind::cpu: its memory is the ranks' host memory.
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <typeinfo>
#include <vector>

#include "../core/backends.hpp"
#include "../core/executor.hpp"
#include "../core/parallel.hpp"
#include "../core/qr_policy.hpp"
#include "../cpu/kernels.hpp"
#include "distributed.hpp"
#ifdef RNNLYAP_HAVE_CUDAMP
#include "distributed_cuda.hpp"
#endif
#include "grid.hpp"
#include "reorthonormalizer.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "scalapack.hpp"

namespace rnnlyap::distributed {

using detail::Buffer;
using detail::Executor;
using detail::Kernels;
using detail::RandomNetworkKernels;
using detail::Reorthonormalizer;
using detail::Rk4Buffers;

namespace {

// The random networks' kernels on this rank's blocks: the per-element loops are the CPU kernels'
// on the local rows (their per-row vector taken at those rows), the state's product is shared
// over the grid (see the file's comment).
template <class T>
class DistributedNetworkKernels final : public RandomNetworkKernels<T> {
 public:
  DistributedNetworkKernels(const Grid& grid, RandomNetworkKernels<T>& cpu)
      : grid_(grid), cpu_(cpu) {}

  void phi_into(long long count, const T* h, T* x) override { cpu_.phi_into(count, h, x); }

  void euler_or_map_state_step(int batch, int n, bool map, const T* j, const T* bias, T* h,
                               const T* x_in, T* x_out, T dt, T noise_scale,
                               const std::uint64_t* keys, std::int64_t step) override {
    one_member(batch);
    drive(n, j, x_in);
    detail::euler_or_map_update(n, map, drive_.data(), bias, h, x_out, dt, noise_scale, keys[0],
                                step);
  }
  void rk4_stage(int batch, int n, int s, const T* j, const T* bias, const Rk4Buffers<T>& st,
                 T c_next, T dt6, T noise_scale, const std::uint64_t* keys,
                 std::int64_t step) override {
    one_member(batch);
    drive(n, j, st.x[s]);
    detail::rk4_stage_update(n, s, drive_.data(), bias, st, c_next, dt6, noise_scale, keys[0],
                             step);
  }
  void scale_rows_by_dphi(int batch, int n, int k, const T* h, const T* q, T* s) override {
    one_member(batch);
    const int lr = grid_.local_rows(n), lc = grid_.local_cols(k);
    if (lr == 0 || lc == 0) return;
    cpu_.scale_rows_by_dphi(1, lr, lc, local_rows_of(n, h), q, s);
  }
  void rk4_tangent_combine(int batch, int n, int k, int stage, T w, T c_next, const T* y_next,
                           T* kbuf, const T* q, T* acc, T* s) override {
    one_member(batch);
    const int lr = grid_.local_rows(n), lc = grid_.local_cols(k);
    if (lr == 0 || lc == 0) return;
    cpu_.rk4_tangent_combine(1, lr, lc, stage, w, c_next,
                             y_next ? local_rows_of(n, y_next) : nullptr, kbuf, q, acc, s);
  }

 private:
  // v at this rank's rows (scratch).
  const T* local_rows_of(int n, const T* v) {
    const int lr = grid_.local_rows(n);
    local_.resize(static_cast<std::size_t>(lr));
    for (int l = 0; l < lr; ++l) local_[l] = v[grid_.global_row(l)];
    return local_.data();
  }
  // drive_ = J x on every rank, the same bits everywhere: this rank's rows summed over its columns
  // in order, the partial sums exchanged, each row's added by process column.
  void drive(int n, const T* j, const T* x) {
    const int lr = grid_.local_rows(n), lc = grid_.local_cols(n);
    const std::size_t lld = static_cast<std::size_t>(std::max(1, lr));
    partial_.assign(static_cast<std::size_t>(lr), T(0));
    for (int c = 0; c < lc; ++c) {
      const T xc = x[grid_.global_col(c)];
      const T* col = j + static_cast<std::size_t>(c) * lld;
      for (int r = 0; r < lr; ++r) partial_[r] += col[r] * xc;
    }
    grid_.sum_partials(n, partial_.data(), drive_, exchange_);
  }

  const Grid& grid_;
  RandomNetworkKernels<T>& cpu_;
  std::vector<T> drive_, partial_, local_, exchange_;
};

// ScaLAPACK's linear algebra for GridReorthonormalizer (reorthonormalizer.hpp): Householder by
// p?geqrf + p?orgqr, CholeskyQR by p?syrk, p?potrf and p?trsm, on this rank's host blocks.
template <class T>
class ScalapackQr {
 public:
  ScalapackQr(const Grid& grid, int rows, int k, bool cholesky)
      : grid_(&grid), rows_(rows), k_(k), dq_(grid.desc(rows, k)), dg_(grid.desc(k, k)) {
    tau_.resize(static_cast<std::size_t>(std::max(1, grid.local_cols(k))));
    if (cholesky)
      gram_.resize(static_cast<std::size_t>(std::max(1, grid.local_rows(k))) *
                   std::max(1, grid.local_cols(k)));
    // The workspaces ScaLAPACK asks for (a query with lwork = −1, which reads no matrix entry);
    // the size comes back in working precision: rounded up, with room for fp32's rounding.
    T probe = 0, q1 = 0, q2 = 0;
    pblas::geqrf(rows, k, pblas::Sub<T>{&probe, dq_.d}, tau_.data(), &q1, -1);
    pblas::orgqr(rows, k, pblas::Sub<T>{&probe, dq_.d}, tau_.data(), &q2, -1);
    const double need = std::max(static_cast<double>(q1), static_cast<double>(q2));
    work_.resize(static_cast<std::size_t>(std::ceil(need * 1.001)) + 64);
  }

  void gram(const T* q) {
    pblas::syrk_t(k_, rows_, pblas::Sub<const T>{q, dq_.d}, pblas::Sub<T>{gram_.data(), dg_.d});
  }
  int potrf() {
    int info = pblas::potrf_upper(k_, pblas::Sub<T>{gram_.data(), dg_.d});
    MPI_Allreduce(MPI_IN_PLACE, &info, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return info;
  }
  std::vector<double> gram_abs_diagonal() const {
    return grid_->abs_diagonal(gram_.data(), k_, k_);
  }
  void save(const T* q) { saved_.assign(q, q + local()); }
  void restore(T* q) const { std::copy(saved_.begin(), saved_.end(), q); }
  void solve(T* q) {
    pblas::solve_right_upper(rows_, k_, pblas::Sub<const T>{gram_.data(), dg_.d},
                             pblas::Sub<T>{q, dq_.d});
  }
  void geqrf(T* q) {
    const int info = pblas::geqrf(rows_, k_, pblas::Sub<T>{q, dq_.d}, tau_.data(), work_.data(),
                                  static_cast<int>(work_.size()));
    if (info != 0) throw Error("ScaLAPACK p?geqrf failed (info " + std::to_string(info) + ")");
  }
  std::vector<double> r_abs_diagonal(const T* q) const { return grid_->abs_diagonal(q, rows_, k_); }
  void orgqr(T* q) {
    const int info = pblas::orgqr(rows_, k_, pblas::Sub<T>{q, dq_.d}, tau_.data(), work_.data(),
                                  static_cast<int>(work_.size()));
    if (info != 0) throw Error("ScaLAPACK p?orgqr failed (info " + std::to_string(info) + ")");
  }

 private:
  std::size_t local() const {
    return static_cast<std::size_t>(grid_->local_rows(rows_)) *
           static_cast<std::size_t>(grid_->local_cols(k_));
  }

  const Grid* grid_;
  int rows_, k_;
  Grid::Desc dq_, dg_;
  std::vector<T> tau_, work_, gram_, saved_;
};

// Sets the BLAS library's threads for the executor's life (each rank's share of its node's
// cores), then gives the count back.
class BlasThreads {
 public:
  explicit BlasThreads(int requested) {
    const int threads = requested > 0 ? requested : detail::SingleThreadedBlas::library_threads();
    const int now = cpu::blas_threads();
    if (threads > 0 && now > 0 && threads != now && cpu::set_blas_threads(threads)) restore_ = now;
  }
  ~BlasThreads() {
    if (restore_ > 0) cpu::set_blas_threads(restore_);
  }
  BlasThreads(const BlasThreads&) = delete;
  BlasThreads& operator=(const BlasThreads&) = delete;

 private:
  int restore_ = 0;
};

template <class T>
class DistributedExecutor final : public Executor<T> {
 public:
  DistributedExecutor(int rows, int cols, int n, int threads)
      : grid_(rows, cols, n),
        host_(detail::make_cpu_executor<T>(1)),
        blas_(threads),
        kernels_(grid_, host_->template kernels<RandomNetworkKernels<T>>()) {}

  BackendKind kind() const override { return BackendKind::cpu; }
  std::string device() const override {
    return "ScaLAPACK " + std::to_string(grid_.rows()) + "x" + std::to_string(grid_.cols()) +
           " grid of MPI ranks, blocks of " + std::to_string(grid_.nb()) +
           " (rank 0: " + host_->device() + ")";
  }
  std::size_t bytes_available() const override { return host_->bytes_available(); }
  void* allocate_bytes(std::size_t bytes) override { return host_->allocate_bytes(bytes); }
  void free_bytes(void* p) noexcept override { host_->free_bytes(p); }
  void copy_in(void* dst, const void* src, std::size_t bytes) override {
    host_->copy_in(dst, src, bytes);
  }
  void copy_out_blocking(void* dst, const void* src, std::size_t bytes) override {
    host_->copy_out_blocking(dst, src, bytes);
  }
  double max_over_ranks(double v) override { return grid_.max_over_ranks(v); }
  std::size_t matrix_values(int rows, int cols) const override {
    return grid_.local_values(rows, cols);
  }

  void matrix_in(T* dst, int rows, int cols,
                 const typename Executor<T>::ColumnSource& columns) override {
    grid_.fill_local(dst, rows, cols, columns);
  }
  bool writes_files() const override { return grid_.rank() == 0; }
  void matrix_out_blocking(T* dst, const T* src, int rows, int cols) override {
    grid_.gather_to_root(dst, src, rows, cols);
  }

  // One product of global matrices in the layout: C (m × n) = α A (m × kk) B (kk × n) + β C.
  void gemm_batched(int m, int n, int kk, T alpha, const T* a, int, long long, const T* b, int,
                    long long, T beta, T* c, int, long long, int batch) override {
    one_member(batch);
    const Grid::Desc da = grid_.desc(m, kk), db = grid_.desc(kk, n), dc = grid_.desc(m, n);
    pblas::gemm(m, n, kk, alpha, pblas::Sub<const T>{a, da.d}, pblas::Sub<const T>{b, db.d}, beta,
                pblas::Sub<T>{c, dc.d});
  }

  std::size_t reorthonormalizer_bytes(int, int rows, int k, QrMethod method, bool) const override {
    return grid_.qr_bytes(rows, k, method, sizeof(T));
  }
  std::unique_ptr<Reorthonormalizer<T>> make_reorthonormalizer(int batch, int rows, int k,
                                                               QrMethod method) override {
    one_member(batch);
    return std::make_unique<GridReorthonormalizer<T, ScalapackQr<T>>>(
        k, method, ScalapackQr<T>(grid_, rows, k, method != QrMethod::householder));
  }

 protected:
  Kernels* family_kernels(const std::type_info& family) override {
    return family == typeid(RandomNetworkKernels<T>) ? &kernels_ : nullptr;
  }

 private:
  Grid grid_;
  std::unique_ptr<Executor<T>> host_;  // the memory and the per-element kernels of this rank
  BlasThreads blas_;
  DistributedNetworkKernels<T> kernels_;
};

std::string scalapack_library() {
  return RNNLYAP_SCALAPACK_NAME;
}

const detail::DistributedBackend kEntry{
    scalapack_library,
    [](int r, int c, int n, int threads) -> std::unique_ptr<Executor<float>> {
      return std::make_unique<DistributedExecutor<float>>(r, c, n, threads);
    },
    [](int r, int c, int n, int threads) -> std::unique_ptr<Executor<double>> {
      return std::make_unique<DistributedExecutor<double>>(r, c, n, threads);
    },
#ifdef RNNLYAP_HAVE_CUDAMP
    cuda_libraries,
    make_cuda_executor_fp32,
    make_cuda_executor_fp64,
#endif
};

}  // namespace

void register_backend() {
  detail::register_distributed_backend(kEntry);
}

}  // namespace rnnlyap::distributed
