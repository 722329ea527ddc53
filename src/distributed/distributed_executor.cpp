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
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "scalapack.hpp"

namespace rnnlyap::distributed {

using detail::Buffer;
using detail::Executor;
using detail::Kernels;
using detail::LogSums;
using detail::RandomNetworkKernels;
using detail::Reorthonormalizer;
using detail::Rk4Buffers;

namespace {

template <class T>
MPI_Datatype mpi_type() {
  return std::is_same_v<T, float> ? MPI_FLOAT : MPI_DOUBLE;
}

// Batches are the other executors' business: one network at a time here.
void one_member(int batch) {
  if (batch != 1) throw Error("the distributed executor runs one network at a time");
}

// The process grid and the block-cyclic layout of every matrix on it.
class Grid {
 public:
  Grid(int rows, int cols, int n) {
    int started = 0;
    MPI_Initialized(&started);
    if (!started)
      throw InvalidInput(
          "--distribute-network runs under mpirun or srun, with MPI started (the rnnlyap "
          "program does that; this process has no MPI)");
    int procs = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &procs);
    if (static_cast<long long>(rows) * cols != procs)
      throw InvalidInput("--distribute-network " + std::to_string(rows) + "x" +
                         std::to_string(cols) + " needs " + std::to_string(rows * cols) +
                         " MPI ranks; this job has " + std::to_string(procs) + " (mpirun -n " +
                         std::to_string(rows * cols) + ")");
    nprow_ = rows;
    npcol_ = cols;
    // Blocks of nb × nb: 64 (ScaLAPACK's usual size) unless the network is small for the grid,
    // then smaller, so that every rank holds some of J (about two blocks per rank and side).
    const int side = std::max(rows, cols);
    nb_ = std::clamp((n + 2 * side - 1) / (2 * side), 1, 64);
    int me = 0, np = 0;
    Cblacs_pinfo(&me, &np);
    Cblacs_get(-1, 0, &context_);
    Cblacs_gridinit(&context_, "Row", rows, cols);
    int r = 0, c = 0;
    Cblacs_gridinfo(context_, &r, &c, &myrow_, &mycol_);
    if (myrow_ < 0 || mycol_ < 0) throw Error("this rank is not in the BLACS process grid");
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    // Where every rank sits (BLACS numbers "Row" grids row by row; asked rather than assumed).
    const int mine[2] = {myrow_, mycol_};
    coords_.resize(2 * static_cast<std::size_t>(procs));
    MPI_Allgather(mine, 2, MPI_INT, coords_.data(), 2, MPI_INT, MPI_COMM_WORLD);
  }
  ~Grid() { Cblacs_gridexit(context_); }
  Grid(const Grid&) = delete;
  Grid& operator=(const Grid&) = delete;

  int nb() const { return nb_; }
  int rows() const { return nprow_; }
  int cols() const { return npcol_; }
  int ranks() const { return nprow_ * npcol_; }
  int rank() const { return rank_; }
  int row_of(int rank) const { return coords_[2 * static_cast<std::size_t>(rank)]; }
  int col_of(int rank) const { return coords_[2 * static_cast<std::size_t>(rank) + 1]; }

  /// Rows (of m) and columns (of n) this rank holds; those of another grid position.
  int local_rows(int m, int prow = -1) const { return count(m, prow < 0 ? myrow_ : prow, nprow_); }
  int local_cols(int n, int pcol = -1) const { return count(n, pcol < 0 ? mycol_ : pcol, npcol_); }
  /// The global index of local row (column) l of grid row (column) p among `procs`.
  int global(int l, int p, int procs) const { return ((l / nb_) * procs + p) * nb_ + l % nb_; }
  int global_row(int l) const { return global(l, myrow_, nprow_); }
  int global_col(int l) const { return global(l, mycol_, npcol_); }
  bool holds_row(int g) const { return (g / nb_) % nprow_ == myrow_; }
  bool holds_col(int g) const { return (g / nb_) % npcol_ == mycol_; }
  /// The local index of a global row (column) this rank holds.
  int local_index(int g, int procs) const { return (g / (nb_ * procs)) * nb_ + g % nb_; }

  /// The descriptor of an m × n matrix in this layout (leading dimension: its local rows, ≥ 1).
  struct Desc {
    int d[9];
  };
  Desc desc(int m, int n) const {
    Desc out{};
    const int zero = 0, lld = std::max(1, local_rows(m));
    int info = 0;
    descinit_(out.d, &m, &n, &nb_, &nb_, &zero, &zero, &context_, &lld, &info);
    if (info != 0)
      throw Error("ScaLAPACK descinit refused an " + std::to_string(m) + " x " + std::to_string(n) +
                  " matrix (argument " + std::to_string(-info) + ")");
    return out;
  }

  /// The diagonal |a_ii|, i < k, of a matrix of `rows` rows held by this layout, whole on every
  /// rank: each entry from the rank that holds it (the others add zeros: exact).
  template <class T>
  std::vector<double> abs_diagonal(const T* a, int rows, int k) const {
    std::vector<double> d(static_cast<std::size_t>(k), 0.0);
    const int lld = std::max(1, local_rows(rows));
    for (int i = 0; i < k; ++i)
      if (holds_row(i) && holds_col(i))
        d[i] = std::fabs(static_cast<double>(
            a[local_index(i, nprow_) + static_cast<std::size_t>(local_index(i, npcol_)) * lld]));
    MPI_Allreduce(MPI_IN_PLACE, d.data(), k, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return d;
  }

 private:
  int count(int n, int p, int procs) const {
    const int zero = 0;
    return numroc_(&n, &nb_, &p, &zero, &procs);
  }

  int context_ = -1, nprow_ = 1, npcol_ = 1, myrow_ = 0, mycol_ = 0, rank_ = 0, nb_ = 64;
  std::vector<int> coords_;
};

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
    const int ranks = grid_.ranks();
    counts_.resize(static_cast<std::size_t>(ranks));
    offsets_.resize(static_cast<std::size_t>(ranks));
    int total = 0;
    for (int p = 0; p < ranks; ++p) {
      counts_[p] = grid_.local_rows(n, grid_.row_of(p));
      offsets_[p] = total;
      total += counts_[p];
    }
    all_.resize(static_cast<std::size_t>(total));
    MPI_Allgatherv(partial_.data(), lr, mpi_type<T>(), all_.data(), counts_.data(), offsets_.data(),
                   mpi_type<T>(), MPI_COMM_WORLD);
    // Rank p of grid position (pr, pc) sent its rows of process row pr: add them by pc in order.
    drive_.assign(static_cast<std::size_t>(n), T(0));
    for (int pc = 0; pc < grid_.cols(); ++pc)
      for (int p = 0; p < ranks; ++p) {
        if (grid_.col_of(p) != pc) continue;
        const int pr = grid_.row_of(p);
        const T* part = all_.data() + offsets_[p];
        for (int l = 0; l < counts_[p]; ++l) drive_[grid_.global(l, pr, grid_.rows())] += part[l];
      }
  }

  const Grid& grid_;
  RandomNetworkKernels<T>& cpu_;
  std::vector<T> drive_, partial_, all_, local_;
  std::vector<int> counts_, offsets_;
};

// Re-orthonormalisation of one rows × k basis over the grid: ScaLAPACK's Householder, or
// CholeskyQR with the Householder fallback under core/qr_policy.hpp's rules (the CPU's
// re-orthonormaliser, src/cpu/orthonormalize.hpp, takes the same decisions: they are made here
// from the diagonal that every rank has whole, so every rank takes the same path).
template <class T>
class DistributedReorthonormalizer final : public Reorthonormalizer<T> {
 public:
  DistributedReorthonormalizer(const Grid& grid, int rows, int k, QrMethod method)
      : grid_(grid),
        rows_(rows),
        k_(k),
        cholesky_(method != QrMethod::householder),
        one_pass_(method == QrMethod::auto_select),
        dq_(grid.desc(rows, k)),
        dg_(grid.desc(k, k)),
        logs_(static_cast<std::size_t>(k), 0.0),
        max_ratio_(logs_.size(), 0.0) {
    tau_.resize(static_cast<std::size_t>(std::max(1, grid.local_cols(k))));
    if (cholesky_)
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

  void reorthonormalize(T* q, bool accumulate) override {
    if (cholesky_ && !skip_.skip_now()) {
      if (cholesky_qr(q, accumulate)) {
        skip_.succeeded();
        ++(two_passes_ ? paths_.cholesky_two_passes : paths_.cholesky_one_pass);
        return;
      }
      skip_.fell_back();
    }
    householder(q, accumulate);
    ++paths_.householder;
  }
  LogSums take_logs_blocking() override {
    LogSums out{
        std::vector<double>(logs_.size(), 0.0), std::vector<double>(logs_.size(), 0.0), {paths_}};
    std::swap(out.sums, logs_);
    std::swap(out.max_ratio, max_ratio_);
    paths_ = {};
    return out;
  }
  void keep_r(bool on) override {
    if (on) throw InvalidInput("the distributed executor does not keep R (covariant vectors)");
  }
  std::vector<double> last_r_blocking() override {
    throw InvalidInput("the distributed executor does not keep R (covariant vectors)");
  }

 private:
  void add_logs(const std::vector<double>& log_diag) {
    for (int i = 0; i < k_; ++i) {
      logs_[i] += log_diag[i];
      const double ratio = log_diag[0] - log_diag[i];
      if (std::isfinite(ratio)) max_ratio_[i] = std::max(max_ratio_[i], ratio);
    }
  }

  void householder(T* q, bool accumulate) {
    const int lwork = static_cast<int>(work_.size());
    const pblas::Sub<T> a{q, dq_.d};
    int info = pblas::geqrf(rows_, k_, a, tau_.data(), work_.data(), lwork);
    if (info != 0) throw Error("ScaLAPACK p?geqrf failed (info " + std::to_string(info) + ")");
    if (accumulate) {
      std::vector<double> d = grid_.abs_diagonal(q, rows_, k_);
      for (double& v : d) v = std::log(v);
      add_logs(d);
    }
    info = pblas::orgqr(rows_, k_, a, tau_.data(), work_.data(), lwork);
    if (info != 0) throw Error("ScaLAPACK p?orgqr failed (info " + std::to_string(info) + ")");
  }

  // CholeskyQR2 with `auto`'s one-pass exit, as cpu::Orthonormalizer::cholesky_qr (both decide
  // with qr_policy::judge_pass): false, with Q as it was given, when it falls back.
  bool cholesky_qr(T* q, bool accumulate) {
    using detail::qr_policy::Pass;
    const pblas::Sub<T> a{q, dq_.d}, g{gram_.data(), dg_.d};
    const std::size_t local = static_cast<std::size_t>(grid_.local_rows(rows_)) *
                              static_cast<std::size_t>(grid_.local_cols(k_));
    std::vector<double> diag1;
    for (int pass = 0; pass < 2; ++pass) {
      pblas::syrk_t(k_, rows_, pblas::Sub<const T>{q, dq_.d}, g);
      int info = pblas::potrf_upper(k_, g);
      MPI_Allreduce(MPI_IN_PLACE, &info, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
      const std::vector<double> d = grid_.abs_diagonal(gram_.data(), k_, k_);
      const Pass verdict = detail::qr_policy::judge_pass<T>(pass, info, d.data(), k_, one_pass_);
      if (verdict == Pass::fall_back) {
        if (pass == 1) std::copy(saved_.begin(), saved_.end(), q);  // undo the first solve
        return false;
      }
      const bool last = verdict == Pass::last;
      if (!last) saved_.assign(q, q + local);
      pblas::solve_right_upper(rows_, k_, pblas::Sub<const T>{gram_.data(), dg_.d}, a);
      if (pass == 0) {
        two_passes_ = !last;
        diag1 = d;
      }
      if (last) {
        if (accumulate) {
          std::vector<double> logd(static_cast<std::size_t>(k_));
          for (int i = 0; i < k_; ++i)
            logd[i] = pass == 0 ? std::log(d[i]) : std::log(diag1[i]) + std::log(d[i]);
          add_logs(logd);
        }
        return true;
      }
    }
    return true;
  }

  const Grid& grid_;
  int rows_, k_;
  bool cholesky_, one_pass_, two_passes_ = false;
  Grid::Desc dq_, dg_;
  detail::qr_policy::FallbackSkip skip_;
  QrPaths paths_;
  std::vector<double> logs_, max_ratio_;
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
  static constexpr int kGatherTag = 7301;
  static constexpr std::size_t kMessage = std::size_t{1} << 28;  // values per message
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
  double max_over_ranks(double v) override {
    MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return v;
  }
  std::size_t matrix_values(int rows, int cols) const override {
    return static_cast<std::size_t>(std::max(1, grid_.local_rows(rows))) *
           static_cast<std::size_t>(std::max(1, grid_.local_cols(cols)));
  }

  // Only the columns of this rank's blocks are asked of `columns`. A source that fails (a weights
  // file with a NaN in this rank's columns) fails on every rank, with the message of the lowest
  // rank that failed, so that no rank waits for another in the run's first collective call.
  void matrix_in(T* dst, int rows, int cols,
                 const typename Executor<T>::ColumnSource& columns) override {
    std::string failure;
    bool invalid = false;
    try {
      fill_blocks(dst, rows, cols, columns);
    } catch (const InvalidInput& e) {
      failure = e.what();
      invalid = true;
    } catch (const std::exception& e) {
      failure = e.what();
    }
    int first = failure.empty() ? grid_.ranks() : grid_.rank();
    MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == grid_.ranks()) return;
    int head[2] = {static_cast<int>(failure.size()), invalid ? 1 : 0};
    MPI_Bcast(head, 2, MPI_INT, first, MPI_COMM_WORLD);
    failure.resize(static_cast<std::size_t>(head[0]));
    MPI_Bcast(failure.data(), head[0], MPI_CHAR, first, MPI_COMM_WORLD);
    if (head[1] != 0) throw InvalidInput(failure);
    throw Error(failure);
  }

 private:
  void fill_blocks(T* dst, int rows, int cols, const typename Executor<T>::ColumnSource& columns) {
    const int nb = grid_.nb(), lr = grid_.local_rows(rows), lc = grid_.local_cols(cols);
    const std::size_t lld = static_cast<std::size_t>(std::max(1, lr));
    std::vector<T> buf;
    for (int l0 = 0; l0 < lc; l0 += nb) {
      const int c0 = grid_.global_col(l0), width = std::min(nb, cols - c0);
      buf.resize(static_cast<std::size_t>(rows) * width);
      columns(c0, c0 + width, buf.data());
      for (int c = 0; c < width; ++c)
        for (int l = 0; l < lr; ++l)
          dst[static_cast<std::size_t>(l0 + c) * lld + l] =
              buf[static_cast<std::size_t>(c) * rows + grid_.global_row(l)];
    }
  }

 public:
  bool writes_files() const override { return grid_.rank() == 0; }

  // Gathered on rank 0, one rank's blocks at a time (rank 0 holds the whole matrix and one rank's
  // blocks, never more).
  void matrix_out_blocking(T* dst, const T* src, int rows, int cols) override {
    if (grid_.rank() != 0) {
      const std::size_t count = static_cast<std::size_t>(grid_.local_rows(rows)) *
                                static_cast<std::size_t>(grid_.local_cols(cols));
      for (std::size_t at = 0; at < count; at += kMessage)  // MPI counts are ints
        MPI_Send(src + at, static_cast<int>(std::min(kMessage, count - at)), mpi_type<T>(), 0,
                 kGatherTag, MPI_COMM_WORLD);
      return;
    }
    std::vector<T> buf;
    for (int p = 0; p < grid_.ranks(); ++p) {
      const int pr = grid_.row_of(p), pc = grid_.col_of(p);
      const int lr = grid_.local_rows(rows, pr), lc = grid_.local_cols(cols, pc);
      const T* blocks = src;  // rank 0's own
      if (p != 0) {
        buf.resize(static_cast<std::size_t>(lr) * static_cast<std::size_t>(lc));
        for (std::size_t at = 0; at < buf.size(); at += kMessage)
          MPI_Recv(buf.data() + at, static_cast<int>(std::min(kMessage, buf.size() - at)),
                   mpi_type<T>(), p, kGatherTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        blocks = buf.data();
      }
      const std::size_t lld = static_cast<std::size_t>(p == 0 ? std::max(1, lr) : lr);
      for (int c = 0; c < lc; ++c) {
        const std::size_t col = static_cast<std::size_t>(grid_.global(c, pc, grid_.cols()));
        for (int l = 0; l < lr; ++l)
          dst[col * rows + static_cast<std::size_t>(grid_.global(l, pr, grid_.rows()))] =
              blocks[static_cast<std::size_t>(c) * lld + l];
      }
    }
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
    // τ, ScaLAPACK's workspace (about nb·(local rows + local columns + nb) values for geqrf and
    // orgqr) and, for CholeskyQR, the Gram matrix's blocks and a copy of the basis's.
    const std::size_t nb = static_cast<std::size_t>(grid_.nb());
    const std::size_t lr = static_cast<std::size_t>(grid_.local_rows(rows));
    const std::size_t lc = static_cast<std::size_t>(grid_.local_cols(k));
    const std::size_t work = 2 * nb * (lr + lc + nb) + lc + 1;
    const std::size_t chol =
        method == QrMethod::householder ? 0 : matrix_values(k, k) + matrix_values(rows, k);
    return sizeof(T) * (work + chol) + sizeof(double) * 4 * static_cast<std::size_t>(k);
  }
  std::unique_ptr<Reorthonormalizer<T>> make_reorthonormalizer(int batch, int rows, int k,
                                                               QrMethod method) override {
    one_member(batch);
    return std::make_unique<DistributedReorthonormalizer<T>>(grid_, rows, k, method);
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
};

}  // namespace

void register_backend() {
  detail::register_distributed_backend(kEntry);
}

}  // namespace rnnlyap::distributed
