// The process grid of the distributed executors (distributed_executor.cpp on ScaLAPACK,
// distributed_cuda_executor.cpp on cuBLASMp/cuSOLVERMp): a PR × PC BLACS grid of MPI ranks, the 2D
// block-cyclic layout of every matrix on it (nb × nb blocks dealt round-robin), and the exchange
// that makes the state's J φ(h) the same bits on every rank.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "rnnlyap/errors.hpp"
#include "rnnlyap/options.hpp"
#include "scalapack.hpp"

namespace rnnlyap::distributed {

template <class T>
MPI_Datatype mpi_type() {
  return std::is_same_v<T, float> ? MPI_FLOAT : MPI_DOUBLE;
}

/// Batches are the other executors' business: one network at a time on a grid.
inline void one_member(int batch) {
  if (batch != 1) throw Error("the distributed executor runs one network at a time");
}

/// The process grid and the block-cyclic layout of every matrix on it.
class Grid {
 public:
  /// The largest blocks: 64 on CPUs (ScaLAPACK's usual size; 128 and 256 measured no faster at
  /// N = 2048), 256 on GPUs (the GPU libraries' panels are slow at small sizes: a choice not yet
  /// measured on a GPU).
  static constexpr int kCpuBlock = 64, kGpuBlock = 256;
  Grid(int rows, int cols, int n, int max_block = kCpuBlock) {
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
    // Blocks of nb × nb: max_block unless the network is small for the grid, then smaller, so
    // that every rank holds some of J (about two blocks per rank and side).
    const int side = std::max(rows, cols);
    nb_ = std::clamp((n + 2 * side - 1) / (2 * side), 1, max_block);
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

  /// The values this rank holds of a rows × cols matrix (at least one: every rank allocates).
  std::size_t local_values(int rows, int cols) const {
    return static_cast<std::size_t>(std::max(1, local_rows(rows))) *
           static_cast<std::size_t>(std::max(1, local_cols(cols)));
  }
  /// Bytes of a re-orthonormaliser of a rows × k basis in values of `value_bytes` (either
  /// variant): τ, a workspace of about 2·nb·(local rows + local columns + nb) values (ScaLAPACK's
  /// geqrf and orgqr; the GPU libraries say theirs only when shown the matrices) and, for
  /// CholeskyQR, the Gram matrix's blocks and a copy of the basis's; the logs in fp64.
  std::size_t qr_bytes(int rows, int k, QrMethod method, std::size_t value_bytes) const {
    const std::size_t nb = static_cast<std::size_t>(nb_);
    const std::size_t lr = static_cast<std::size_t>(local_rows(rows));
    const std::size_t lc = static_cast<std::size_t>(local_cols(k));
    const std::size_t work = 2 * nb * (lr + lc + nb) + lc + 1;
    const std::size_t chol =
        method == QrMethod::householder ? 0 : local_values(k, k) + local_values(rows, k);
    return value_bytes * (work + chol) + sizeof(double) * 4 * static_cast<std::size_t>(k);
  }

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

  /// The largest of every rank's v (Executor::max_over_ranks). Collective.
  double max_over_ranks(double v) const {
    MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return v;
  }

  /// Where the diagonal entries a_ii, i < k, of a matrix of `rows` rows are among this rank's
  /// blocks: (i, offset of the entry in the local array), by increasing i.
  std::vector<std::pair<int, std::size_t>> held_diagonal(int rows, int k) const {
    std::vector<std::pair<int, std::size_t>> out;
    const std::size_t lld = static_cast<std::size_t>(std::max(1, local_rows(rows)));
    for (int i = 0; i < k; ++i)
      if (holds_row(i) && holds_col(i))
        out.emplace_back(i, static_cast<std::size_t>(local_index(i, nprow_)) +
                                static_cast<std::size_t>(local_index(i, npcol_)) * lld);
    return out;
  }
  /// |a_ii|, i < k, whole on every rank from each rank's `values` of the entries it holds
  /// (held_diagonal's order): each entry from the one rank that holds it, the others adding
  /// zeros (exact).
  template <class T>
  std::vector<double> abs_diagonal(int k, const std::vector<std::pair<int, std::size_t>>& held,
                                   const T* values) const {
    std::vector<double> d(static_cast<std::size_t>(k), 0.0);
    for (std::size_t e = 0; e < held.size(); ++e)
      d[static_cast<std::size_t>(held[e].first)] = std::fabs(static_cast<double>(values[e]));
    MPI_Allreduce(MPI_IN_PLACE, d.data(), k, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return d;
  }
  /// The same of a matrix of `rows` rows in this rank's (host) blocks `a`.
  template <class T>
  std::vector<double> abs_diagonal(const T* a, int rows, int k) const {
    const auto held = held_diagonal(rows, k);
    std::vector<T> values(held.size());
    for (std::size_t e = 0; e < held.size(); ++e) values[e] = a[held[e].second];
    return abs_diagonal(k, held, values.data());
  }

  /// drive = the sum over the grid of every rank's partial sums of its rows (`partial`: this
  /// rank's local rows of an n-vector), whole and the same bits on every rank: the partial sums
  /// are exchanged (MPI_Allgatherv) and each row's are added by process column, in order.
  /// `scratch` is the caller's, reused between calls.
  template <class T>
  void sum_partials(int n, const T* partial, std::vector<T>& drive, std::vector<T>& scratch) const {
    const int ranks = this->ranks();
    if (counts_n_ != n) {  // the exchange's counts and offsets, per vector length
      counts_.resize(static_cast<std::size_t>(ranks));
      offsets_.resize(static_cast<std::size_t>(ranks));
      int total = 0;
      for (int p = 0; p < ranks; ++p) {
        counts_[p] = local_rows(n, row_of(p));
        offsets_[p] = total;
        total += counts_[p];
      }
      counts_n_ = n;
    }
    scratch.resize(static_cast<std::size_t>(offsets_.back() + counts_.back()));
    MPI_Allgatherv(partial, local_rows(n), mpi_type<T>(), scratch.data(), counts_.data(),
                   offsets_.data(), mpi_type<T>(), MPI_COMM_WORLD);
    // Rank p of grid position (pr, pc) sent its rows of process row pr: add them by pc in order.
    drive.assign(static_cast<std::size_t>(n), T(0));
    for (int pc = 0; pc < npcol_; ++pc)
      for (int p = 0; p < ranks; ++p) {
        if (col_of(p) != pc) continue;
        const int pr = row_of(p);
        const T* part = scratch.data() + offsets_[p];
        for (int l = 0; l < counts_[p]; ++l) drive[global(l, pr, nprow_)] += part[l];
      }
  }

  /// Runs `work` on every rank; if it throws on any, every rank throws the exception of the
  /// lowest rank where it did (its message; InvalidInput stays InvalidInput, so exit 2), so that
  /// no rank goes on to a collective call the others never reach. Collective.
  template <class Work>
  void on_every_rank(const Work& work) const {
    std::string failure;
    int kind = 0;  // 1: InvalidInput, 2: BackendUnavailable, 3: other
    try {
      work();
    } catch (const BackendUnavailable& e) {
      failure = e.what();
      kind = 2;
    } catch (const InvalidInput& e) {
      failure = e.what();
      kind = 1;
    } catch (const std::exception& e) {
      failure = e.what();
      kind = 3;
    }
    int first = kind == 0 ? ranks() : rank_;
    MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == ranks()) return;
    int head[2] = {static_cast<int>(failure.size()), kind};
    MPI_Bcast(head, 2, MPI_INT, first, MPI_COMM_WORLD);
    failure.resize(static_cast<std::size_t>(head[0]));
    MPI_Bcast(failure.data(), head[0], MPI_CHAR, first, MPI_COMM_WORLD);
    if (head[1] == 2) throw BackendUnavailable(failure);
    if (head[1] == 1) throw InvalidInput(failure);
    throw Error(failure);
  }

  /// Fills this rank's blocks `dst` (host) of a rows × cols matrix from `columns(c0, c1, out)`,
  /// which writes the whole columns [c0, c1) (rows values each) to `out`: only the columns of this
  /// rank's blocks are asked for. A source that fails (a weights file with a NaN in this rank's
  /// columns) fails on every rank (on_every_rank). Collective.
  template <class T, class Source>
  void fill_local(T* dst, int rows, int cols, const Source& columns) const {
    on_every_rank([&] {
      const int lr = local_rows(rows), lc = local_cols(cols);
      const std::size_t lld = static_cast<std::size_t>(std::max(1, lr));
      std::vector<T> buf;
      for (int l0 = 0; l0 < lc; l0 += nb_) {
        const int c0 = global_col(l0), width = std::min(nb_, cols - c0);
        buf.resize(static_cast<std::size_t>(rows) * width);
        columns(c0, c0 + width, buf.data());
        for (int c = 0; c < width; ++c)
          for (int l = 0; l < lr; ++l)
            dst[static_cast<std::size_t>(l0 + c) * lld + l] =
                buf[static_cast<std::size_t>(c) * rows + global_row(l)];
      }
    });
  }

  /// The rows × cols matrix whose blocks are each rank's `src` (host), whole in `dst` (rows × cols,
  /// column-major) on rank 0, gathered one rank's blocks at a time (rank 0 holds the whole matrix
  /// and one rank's blocks, never more); the other ranks only send. Collective.
  template <class T>
  void gather_to_root(T* dst, const T* src, int rows, int cols) const {
    constexpr int kGatherTag = 7301;
    constexpr std::size_t kMessage = std::size_t{1} << 28;  // values per message (ints count)
    if (rank_ != 0) {
      const std::size_t count =
          static_cast<std::size_t>(local_rows(rows)) * static_cast<std::size_t>(local_cols(cols));
      for (std::size_t at = 0; at < count; at += kMessage)
        MPI_Send(src + at, static_cast<int>(std::min(kMessage, count - at)), mpi_type<T>(), 0,
                 kGatherTag, MPI_COMM_WORLD);
      return;
    }
    std::vector<T> buf;
    for (int p = 0; p < ranks(); ++p) {
      const int pr = row_of(p), pc = col_of(p);
      const int lr = local_rows(rows, pr), lc = local_cols(cols, pc);
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
        const std::size_t col = static_cast<std::size_t>(global(c, pc, npcol_));
        for (int l = 0; l < lr; ++l)
          dst[col * rows + static_cast<std::size_t>(global(l, pr, nprow_))] =
              blocks[static_cast<std::size_t>(c) * lld + l];
      }
    }
  }

 private:
  int count(int n, int p, int procs) const {
    const int zero = 0;
    return numroc_(&n, &nb_, &p, &zero, &procs);
  }

  int context_ = -1, nprow_ = 1, npcol_ = 1, myrow_ = 0, mycol_ = 0, rank_ = 0, nb_ = 64;
  std::vector<int> coords_;
  mutable std::vector<int> counts_, offsets_;  // sum_partials' exchange for vectors of counts_n_
  mutable int counts_n_ = -1;
};

}  // namespace rnnlyap::distributed
