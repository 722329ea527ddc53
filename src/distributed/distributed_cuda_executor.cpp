// The GPU variant of the distributed executor: one network over a PR × PC grid of MPI ranks, one
// GPU each, on NVIDIA's distributed libraries (README, "One network over many ranks";
// docs/cluster.md). The layout, the exchanges and the re-orthonormalisation's decisions are the
// ScaLAPACK variant's (grid.hpp, reorthonormalizer.hpp); the blocks live in GPU memory and the
// distributed products and factorisations are cuBLASMp's and cuSOLVERMp's, which take ScaLAPACK's
// descriptors:
//   - the tangent product: cublasMpGemm;
//   - Householder: cusolverMpGeqrf + cusolverMpOrgqr; CholeskyQR: cublasMpSyrk, cusolverMpPotrf,
//     cublasMpTrsm;
//   - the state's J φ(h): each rank multiplies its blocks (cuBLAS), the partial sums go to the host
//     and are exchanged and added as in the ScaLAPACK variant (the same bits on every rank), and
//     the state kernels (src/cuda/state_kernels.cu) take the sum instead of computing it;
//   - the per-element kernels are the CUDA executor's, on this rank's rows.
// Each rank takes GPU (its rank among the ranks on its node) mod (the GPUs it sees). Everything is
// queued on one stream; the host waits for it where a result crosses to the host (the partial
// sums, the diagonals, potrf's info) and where a library's info is checked.
#include <cuda_runtime_api.h>
#include <mpi.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "core/backends.hpp"
#include "core/executor.hpp"
#include "cuda/cuda_common.hpp"
#include "cuda/cuda_linalg.hpp"
#include "cuda/kernels.hpp"
#include "cuda/model_kernels.hpp"
#include "cuda_mp.hpp"
#include "distributed_cuda.hpp"
#include "grid.hpp"
#include "reorthonormalizer.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::distributed {
namespace {

using detail::Executor;
using detail::Kernels;
using detail::RandomNetworkKernels;
using detail::Reorthonormalizer;
using detail::Rk4Buffers;

template <class T>
constexpr cudaDataType_t data_type() {
  return std::is_same_v<T, float> ? CUDA_R_32F : CUDA_R_64F;
}
template <class T>
constexpr cublasComputeType_t compute_type() {
  return std::is_same_v<T, float> ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_64F;
}

void check(cublasMpStatus_t st, const char* call) {
  if (st != CUBLASMP_STATUS_SUCCESS)
    throw Error(std::string("cuBLASMp ") + call + " failed (status " +
                std::to_string(static_cast<int>(st)) + ")");
}
void check(cusolverStatus_t st, const char* call) {
  if (st != CUSOLVER_STATUS_SUCCESS)
    throw Error(std::string("cuSOLVERMp ") + call + " failed (status " +
                std::to_string(static_cast<int>(st)) + ")");
}
void check(ncclResult_t st, const char* call) {
  if (st != ncclSuccess)
    throw Error(std::string("NCCL ") + call + " failed: " + mp::api().ncclGetErrorString(st));
}

// The ranks sharing this rank's node (a communicator of their own; collective to make).
class NodeRanks {
 public:
  NodeRanks() {
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &comm_);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~NodeRanks() { MPI_Comm_free(&comm_); }
  NodeRanks(const NodeRanks&) = delete;
  NodeRanks& operator=(const NodeRanks&) = delete;
  MPI_Comm comm() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
};

// This rank's GPU: its rank among the ranks of its node, modulo the GPUs it sees (local work only:
// no collective call, so that it may run inside Grid::on_every_rank).
int node_device(const NodeRanks& node) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count < 1) {
    (void)cudaGetLastError();
    throw BackendUnavailable("--distribute-network with --backend cuda: MPI rank sees no GPU");
  }
  return node.rank() % count;
}

// A device buffer of the executor's stream, grown on demand (its contents are not kept). It waits
// for the stream before freeing: queued work may still use it.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : ctx_(o.ctx_), p_(std::exchange(o.p_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}

  void* at_least(std::size_t bytes, const cuda::Context& ctx) {
    if (bytes <= bytes_ && p_) return p_;
    release();
    ctx_ = &ctx;
    ctx.use();
    bytes_ = std::max<std::size_t>(bytes, 16);
    p_ = cuda::device_malloc(bytes_);
    return p_;
  }
  std::size_t bytes() const { return bytes_; }
  void* data() const { return p_; }

 private:
  void release() noexcept {
    if (!p_) return;
    ctx_->quiesce();
    RNNLYAP_CUDA_CHECK_NOTHROW(cudaFree(p_));
    p_ = nullptr;
    bytes_ = 0;
  }
  const cuda::Context* ctx_ = nullptr;
  void* p_ = nullptr;
  std::size_t bytes_ = 0;
};

// The libraries' handles and grids for this rank (collective to make and to free).
class MpContext {
 public:
  MpContext(const Grid& grid, const cuda::Context& ctx) : api_(mp::api()) {
    ctx.use();
    ncclUniqueId id{};
    if (grid.rank() == 0) check(api_.ncclGetUniqueId(&id), "ncclGetUniqueId");
    MPI_Bcast(&id, static_cast<int>(sizeof id), MPI_BYTE, 0, MPI_COMM_WORLD);
    check(api_.ncclCommInitRank(&comm_, grid.ranks(), id, grid.rank()), "ncclCommInitRank");
    // Grids of ranks numbered row by row, as the BLACS grid of grid.hpp ("Row").
    check(api_.cublasMpCreate(&blas_, ctx.stream()), "cublasMpCreate");
    check(api_.cublasMpGridCreate(grid.rows(), grid.cols(), CUBLASMP_GRID_LAYOUT_ROW_MAJOR, comm_,
                                  &blas_grid_),
          "cublasMpGridCreate");
    check(api_.cusolverMpCreate(&solver_, ctx.device(), ctx.stream()), "cusolverMpCreate");
    check(api_.cusolverMpCreateDeviceGrid(solver_, &solver_grid_, comm_, grid.rows(), grid.cols(),
                                          CUSOLVERMP_GRID_MAPPING_ROW_MAJOR),
          "cusolverMpCreateDeviceGrid");
  }
  // Destroying the grids and the communicator is collective. A rank that leaves by an exception
  // (which the other ranks may not share: they can be waiting in a collective call for it) aborts
  // its communicator instead, which is not, and leaves the rest to the process's end.
  ~MpContext() {
    if (std::uncaught_exceptions() > 0) {
      if (comm_) api_.ncclCommAbort(comm_);
      return;
    }
    if (solver_grid_) api_.cusolverMpDestroyGrid(solver_grid_);
    if (solver_) api_.cusolverMpDestroy(solver_);
    if (blas_grid_) api_.cublasMpGridDestroy(blas_grid_);
    if (blas_) api_.cublasMpDestroy(blas_);
    if (comm_) api_.ncclCommDestroy(comm_);
  }
  MpContext(const MpContext&) = delete;
  MpContext& operator=(const MpContext&) = delete;

  const mp::Api& api() const { return api_; }
  cublasMpHandle_t blas() const { return blas_; }
  cusolverMpHandle_t solver() const { return solver_; }
  cublasMpGrid_t blas_grid() const { return blas_grid_; }
  cusolverMpGrid_t solver_grid() const { return solver_grid_; }

 private:
  const mp::Api& api_;
  ncclComm_t comm_ = nullptr;
  cublasMpHandle_t blas_ = nullptr;
  cublasMpGrid_t blas_grid_ = nullptr;
  cusolverMpHandle_t solver_ = nullptr;
  cusolverMpGrid_t solver_grid_ = nullptr;
};

// A global rows × cols matrix in the grid's layout, described for both libraries.
template <class T>
class Described {
 public:
  Described(const Grid& grid, const MpContext& mp, int rows, int cols) : api_(&mp.api()) {
    const std::int64_t lld = std::max(1, grid.local_rows(rows));
    check(api_->cublasMpMatrixDescriptorCreate(rows, cols, grid.nb(), grid.nb(), 0, 0, lld,
                                               data_type<T>(), mp.blas_grid(), &blas_),
          "cublasMpMatrixDescriptorCreate");
    check(api_->cusolverMpCreateMatrixDesc(&solver_, mp.solver_grid(), data_type<T>(), rows, cols,
                                           grid.nb(), grid.nb(), 0, 0, lld),
          "cusolverMpCreateMatrixDesc");
  }
  ~Described() {
    if (solver_) api_->cusolverMpDestroyMatrixDesc(solver_);
    if (blas_) api_->cublasMpMatrixDescriptorDestroy(blas_);
  }
  Described(const Described&) = delete;
  Described& operator=(const Described&) = delete;
  Described(Described&& o) noexcept
      : api_(o.api_),
        blas_(std::exchange(o.blas_, nullptr)),
        solver_(std::exchange(o.solver_, nullptr)) {}

  cublasMpMatrixDescriptor_t blas() const { return blas_; }
  cusolverMpMatrixDescriptor_t solver() const { return solver_; }

 private:
  const mp::Api* api_;
  cublasMpMatrixDescriptor_t blas_ = nullptr;
  cusolverMpMatrixDescriptor_t solver_ = nullptr;
};

// The device and host workspaces the libraries ask for, grown on demand; each call is given the
// sizes its query returned ("Use the returned workspace sizes unchanged"), and a host workspace
// that is never null.
class Workspace {
 public:
  struct Span {
    void* device;
    std::size_t device_bytes;
    void* host;
    std::size_t host_bytes;
  };
  Span at_least(std::size_t device_bytes, std::size_t host_bytes, const cuda::Context& ctx) {
    void* d = device_.at_least(device_bytes, ctx);
    if (host_.size() < std::max<std::size_t>(host_bytes, 16)) {
      ctx.quiesce();  // queued work may still use the old one
      host_.resize(std::max<std::size_t>(host_bytes, 16));
    }
    return {d, device_bytes, host_.data(), host_bytes};
  }

 private:
  DeviceBuffer device_;
  std::vector<unsigned char> host_;
};

// Copies v's entries at this rank's rows (by_rows) or columns of the layout (whole n-vector v, on
// the device) into `out` (device), as one strided copy of the whole blocks and one of the last.
template <class T>
void take_local(const Grid& grid, bool by_rows, int n, const T* v, T* out, cudaStream_t stream) {
  const int procs = by_rows ? grid.rows() : grid.cols();
  const int local = by_rows ? grid.local_rows(n) : grid.local_cols(n);
  if (local == 0) return;
  const int nb = grid.nb(), whole = local / nb, rest = local % nb;
  const int first = by_rows ? grid.global_row(0) : grid.global_col(0);
  if (whole > 0)
    RNNLYAP_CUDA_CHECK(cudaMemcpy2DAsync(out, sizeof(T) * nb, v + first,
                                         sizeof(T) * static_cast<std::size_t>(nb) * procs,
                                         sizeof(T) * nb, whole, cudaMemcpyDeviceToDevice, stream));
  if (rest > 0) {
    const int g = by_rows ? grid.global_row(whole * nb) : grid.global_col(whole * nb);
    RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(out + static_cast<std::size_t>(whole) * nb, v + g,
                                       sizeof(T) * rest, cudaMemcpyDeviceToDevice, stream));
  }
}

// The diagonal entries of a matrix of `rows` rows that this rank holds (grid.held_diagonal), from
// the device into `values`: one strided copy per run of entries lld + 1 apart (a diagonal block).
// Waits for the stream.
template <class T>
void held_diagonal_values(const std::vector<std::pair<int, std::size_t>>& held, std::size_t lld,
                          const T* a, std::vector<T>& values, cudaStream_t stream) {
  values.resize(held.size());
  for (std::size_t e = 0; e < held.size();) {
    std::size_t run = 1;
    while (e + run < held.size() && held[e + run].second == held[e].second + run * (lld + 1)) ++run;
    RNNLYAP_CUDA_CHECK(cudaMemcpy2DAsync(values.data() + e, sizeof(T), a + held[e].second,
                                         sizeof(T) * (lld + 1), sizeof(T), run,
                                         cudaMemcpyDeviceToHost, stream));
    e += run;
  }
  RNNLYAP_CUDA_CHECK(cudaStreamSynchronize(stream));
}

// The random networks' kernels on this rank's blocks (the file's comment).
template <class T>
class DistributedCudaNetworkKernels final : public RandomNetworkKernels<T> {
 public:
  DistributedCudaNetworkKernels(const Grid& grid, const cuda::Context& ctx)
      : grid_(grid), ctx_(ctx), device_(cuda::make_random_network_kernels<T>(ctx)) {}

  void phi_into(long long count, const T* h, T* x) override { device_->phi_into(count, h, x); }

  void euler_or_map_state_step(int batch, int n, bool map, const T* j, const T* bias, T* h,
                               const T* x_in, T* x_out, T dt, T noise_scale,
                               const std::uint64_t* keys, std::int64_t step) override {
    one_member(batch);
    const T* d = drive(n, j, x_in);
    ctx_.use();
    cuda::kernels::euler_or_map_state_step(1, n, map, j, bias, h, x_in, x_out, dt, noise_scale,
                                           keys, step, ctx_.stream(), d);
  }
  void rk4_stage(int batch, int n, int s, const T* j, const T* bias, const Rk4Buffers<T>& st,
                 T c_next, T dt6, T noise_scale, const std::uint64_t* keys,
                 std::int64_t step) override {
    one_member(batch);
    const T* d = drive(n, j, st.x[s]);
    ctx_.use();
    cuda::kernels::rk4_stage(1, n, s, j, bias, st, c_next, dt6, noise_scale, keys, step,
                             ctx_.stream(), d);
  }
  void scale_rows_by_dphi(int batch, int n, int k, const T* h, const T* q, T* s) override {
    one_member(batch);
    const int lr = grid_.local_rows(n), lc = grid_.local_cols(k);
    if (lr == 0 || lc == 0) return;
    device_->scale_rows_by_dphi(1, lr, lc, rows_of(n, h, rows_a_), q, s);
  }
  void rk4_tangent_combine(int batch, int n, int k, int stage, T w, T c_next, const T* y_next,
                           T* kbuf, const T* q, T* acc, T* s) override {
    one_member(batch);
    const int lr = grid_.local_rows(n), lc = grid_.local_cols(k);
    if (lr == 0 || lc == 0) return;
    device_->rk4_tangent_combine(1, lr, lc, stage, w, c_next,
                                 y_next ? rows_of(n, y_next, rows_a_) : nullptr, kbuf, q, acc, s);
  }

 private:
  T* buffer(DeviceBuffer& b, std::size_t values) {
    return static_cast<T*>(b.at_least(sizeof(T) * std::max<std::size_t>(values, 1), ctx_));
  }
  // v at this rank's rows (a device scratch vector).
  const T* rows_of(int n, const T* v, DeviceBuffer& out) {
    ctx_.use();
    T* local = buffer(out, static_cast<std::size_t>(grid_.local_rows(n)));
    take_local(grid_, true, n, v, local, ctx_.stream());
    return local;
  }
  // J x whole on the device, the same bits on every rank: this rank's blocks times x at its
  // columns (cuBLAS), the partial sums exchanged and added on the host (Grid::sum_partials).
  const T* drive(int n, const T* j, const T* x) {
    ctx_.use();
    const int lr = grid_.local_rows(n), lc = grid_.local_cols(n);
    T* partial = buffer(partial_, static_cast<std::size_t>(lr));
    if (lr > 0) {
      if (lc > 0) {
        T* xc = buffer(cols_, static_cast<std::size_t>(lc));
        take_local(grid_, false, n, x, xc, ctx_.stream());
        cuda::la::gemm(ctx_.blas(), CUBLAS_OP_N, lr, 1, lc, T(1), j, std::max(1, lr), 0, xc,
                       std::max(1, lc), 0, T(0), partial, std::max(1, lr), 0, 1);
      } else {
        RNNLYAP_CUDA_CHECK(cudaMemsetAsync(partial, 0, sizeof(T) * lr, ctx_.stream()));
      }
    }
    host_partial_.resize(static_cast<std::size_t>(lr));
    cuda::copy_to_host_blocking(ctx_, host_partial_.data(), partial, sizeof(T) * lr);
    grid_.sum_partials(n, host_partial_.data(), host_drive_, exchange_);
    T* d = buffer(drive_, static_cast<std::size_t>(n));
    cuda::copy_to_device(ctx_, d, host_drive_.data(), sizeof(T) * n);  // staged: no wait
    return d;
  }

  const Grid& grid_;
  const cuda::Context& ctx_;
  std::unique_ptr<RandomNetworkKernels<T>> device_;
  DeviceBuffer partial_, cols_, drive_, rows_a_;
  std::vector<T> host_partial_, host_drive_, exchange_;
};

// cuBLASMp's and cuSOLVERMp's linear algebra for GridReorthonormalizer (reorthonormalizer.hpp),
// on this rank's device blocks.
template <class T>
class MpQr {
 public:
  MpQr(const Grid& grid, const MpContext& mp, const cuda::Context& ctx, int rows, int k,
       bool cholesky)
      : grid_(&grid),
        mp_(&mp),
        ctx_(&ctx),
        rows_(rows),
        k_(k),
        q_(grid, mp, rows, k),
        g_(grid, mp, k, k),
        held_q_(grid.held_diagonal(rows, k)),
        held_g_(grid.held_diagonal(k, k)) {
    tau_.at_least(sizeof(T) * static_cast<std::size_t>(std::max(1, grid.local_cols(k))), ctx);
    info_.at_least(sizeof(int), ctx);
    if (cholesky) {
      gram_.at_least(sizeof(T) * grid.local_values(k, k), ctx);
      saved_.at_least(sizeof(T) * grid.local_values(rows, k), ctx);
    }
  }

  void gram(const T* q) {
    const T one = 1, zero = 0;
    const mp::Api& a = mp_->api();
    std::size_t dw = 0, hw = 0;
    check(a.cublasMpSyrk_bufferSize(mp_->blas(), CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_T, k_, rows_,
                                    &one, q, 1, 1, q_.blas(), &zero, gram(), 1, 1, g_.blas(),
                                    compute_type<T>(), &dw, &hw),
          "cublasMpSyrk_bufferSize");
    const Workspace::Span w = work_.at_least(dw, hw, *ctx_);
    check(a.cublasMpSyrk(mp_->blas(), CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_T, k_, rows_, &one, q, 1, 1,
                         q_.blas(), &zero, gram(), 1, 1, g_.blas(), compute_type<T>(), w.device,
                         w.device_bytes, w.host, w.host_bytes),
          "cublasMpSyrk");
  }
  int potrf() {
    const mp::Api& a = mp_->api();
    std::size_t dw = 0, hw = 0;
    check(a.cusolverMpPotrf_bufferSize(mp_->solver(), CUBLAS_FILL_MODE_UPPER, k_, gram(), 1, 1,
                                       g_.solver(), data_type<T>(), &dw, &hw),
          "cusolverMpPotrf_bufferSize");
    const Workspace::Span w = work_.at_least(dw, hw, *ctx_);
    check(a.cusolverMpPotrf(mp_->solver(), CUBLAS_FILL_MODE_UPPER, k_, gram(), 1, 1, g_.solver(),
                            data_type<T>(), w.device, w.device_bytes, w.host, w.host_bytes,
                            zeroed_info()),
          "cusolverMpPotrf");
    // The same verdict on every rank: the largest info, after an illegal argument (info < 0) on
    // any rank has been made an error everywhere.
    const int status = read_info();
    int most[2] = {status, -status};
    MPI_Allreduce(MPI_IN_PLACE, most, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (most[1] > 0)
      throw Error("cuSOLVERMp potrf refused argument " + std::to_string(most[1]) + " (info " +
                  std::to_string(-most[1]) + ")");
    return most[0];
  }
  std::vector<double> gram_abs_diagonal() {
    held_diagonal_values(held_g_, lld(k_), gram(), values_, ctx_->stream());
    return grid_->abs_diagonal(k_, held_g_, values_.data());
  }
  void save(const T* q) {
    RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(saved_.data(), q, sizeof(T) * grid_->local_values(rows_, k_),
                                       cudaMemcpyDeviceToDevice, ctx_->stream()));
  }
  void restore(T* q) {
    RNNLYAP_CUDA_CHECK(cudaMemcpyAsync(q, saved_.data(), sizeof(T) * grid_->local_values(rows_, k_),
                                       cudaMemcpyDeviceToDevice, ctx_->stream()));
  }
  void solve(T* q) {
    const T one = 1;
    const mp::Api& a = mp_->api();
    std::size_t dw = 0, hw = 0;
    check(a.cublasMpTrsm_bufferSize(mp_->blas(), CUBLAS_SIDE_RIGHT, CUBLAS_FILL_MODE_UPPER,
                                    CUBLAS_OP_N, CUBLAS_DIAG_NON_UNIT, rows_, k_, &one, gram(), 1,
                                    1, g_.blas(), q, 1, 1, q_.blas(), compute_type<T>(), &dw, &hw),
          "cublasMpTrsm_bufferSize");
    const Workspace::Span w = work_.at_least(dw, hw, *ctx_);
    check(a.cublasMpTrsm(mp_->blas(), CUBLAS_SIDE_RIGHT, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_N,
                         CUBLAS_DIAG_NON_UNIT, rows_, k_, &one, gram(), 1, 1, g_.blas(), q, 1, 1,
                         q_.blas(), compute_type<T>(), w.device, w.device_bytes, w.host,
                         w.host_bytes),
          "cublasMpTrsm");
  }
  void geqrf(T* q) {
    const mp::Api& a = mp_->api();
    std::size_t dw = 0, hw = 0;
    check(a.cusolverMpGeqrf_bufferSize(mp_->solver(), rows_, k_, q, 1, 1, q_.solver(),
                                       data_type<T>(), &dw, &hw),
          "cusolverMpGeqrf_bufferSize");
    const Workspace::Span w = work_.at_least(dw, hw, *ctx_);
    check(a.cusolverMpGeqrf(mp_->solver(), rows_, k_, q, 1, 1, q_.solver(), tau(), data_type<T>(),
                            w.device, w.device_bytes, w.host, w.host_bytes, zeroed_info()),
          "cusolverMpGeqrf");
    if (const int status = read_info(); status != 0)
      throw Error("cuSOLVERMp geqrf failed (info " + std::to_string(status) + ")");
  }
  std::vector<double> r_abs_diagonal(const T* q) {
    held_diagonal_values(held_q_, lld(rows_), q, values_, ctx_->stream());
    return grid_->abs_diagonal(k_, held_q_, values_.data());
  }
  void orgqr(T* q) {
    const mp::Api& a = mp_->api();
    std::size_t dw = 0, hw = 0;
    check(a.cusolverMpOrgqr_bufferSize(mp_->solver(), rows_, k_, k_, q, 1, 1, q_.solver(), tau(),
                                       data_type<T>(), &dw, &hw),
          "cusolverMpOrgqr_bufferSize");
    const Workspace::Span w = work_.at_least(dw, hw, *ctx_);
    check(
        a.cusolverMpOrgqr(mp_->solver(), rows_, k_, k_, q, 1, 1, q_.solver(), tau(), data_type<T>(),
                          w.device, w.device_bytes, w.host, w.host_bytes, zeroed_info()),
        "cusolverMpOrgqr");
    if (const int status = read_info(); status != 0)
      throw Error("cuSOLVERMp orgqr failed (info " + std::to_string(status) + ")");
  }

 private:
  std::size_t lld(int rows) const {
    return static_cast<std::size_t>(std::max(1, grid_->local_rows(rows)));
  }
  T* gram() const { return static_cast<T*>(gram_.data()); }
  T* tau() const { return static_cast<T*>(tau_.data()); }
  int* info() const { return static_cast<int*>(info_.data()); }
  // cuSOLVERMp may keep a value already there (NVIDIA's samples zero it before every call).
  int* zeroed_info() {
    RNNLYAP_CUDA_CHECK(cudaMemsetAsync(info(), 0, sizeof(int), ctx_->stream()));
    return info();
  }
  int read_info() {
    int status = 0;
    RNNLYAP_CUDA_CHECK(
        cudaMemcpyAsync(&status, info(), sizeof status, cudaMemcpyDeviceToHost, ctx_->stream()));
    RNNLYAP_CUDA_CHECK(cudaStreamSynchronize(ctx_->stream()));
    return status;
  }

  const Grid* grid_;
  const MpContext* mp_;
  const cuda::Context* ctx_;
  int rows_, k_;
  Described<T> q_, g_;
  std::vector<std::pair<int, std::size_t>> held_q_, held_g_;
  DeviceBuffer tau_, info_, gram_, saved_;
  Workspace work_;
  std::vector<T> values_;
};

template <class T>
class DistributedCudaExecutor final : public Executor<T> {
 public:
  DistributedCudaExecutor(int rows, int cols, int n)
      : grid_(rows, cols, n, Grid::kGpuBlock),
        pooled_(agreed_device(grid_)),
        ctx_(*pooled_),
        mp_(grid_, ctx_),
        kernels_(grid_, ctx_) {
    cudaDeviceProp prop{};
    RNNLYAP_CUDA_CHECK(cudaGetDeviceProperties(&prop, ctx_.device()));
    name_ = prop.name;
  }
  ~DistributedCudaExecutor() override { ctx_.quiesce(); }

  BackendKind kind() const override { return BackendKind::cuda; }
  std::string device() const override {
    return "cuBLASMp/cuSOLVERMp " + std::to_string(grid_.rows()) + "x" +
           std::to_string(grid_.cols()) + " grid of MPI ranks, one GPU each, blocks of " +
           std::to_string(grid_.nb()) + " (rank 0: " + name_ + ")";
  }
  // NCCL's buffers and the libraries' own workspaces (which they say only when shown the
  // matrices: qr_bytes estimates ScaLAPACK's) are not counted run by run: kept free, a GiB.
  static constexpr std::size_t kMpReserve = std::size_t{1} << 30;
  std::size_t bytes_available() const override {
    const std::size_t free_bytes = cuda::bytes_available(ctx_);
    return free_bytes > kMpReserve ? free_bytes - kMpReserve : 0;
  }
  void* allocate_bytes(std::size_t bytes) override { return cuda::allocate_zeroed(ctx_, bytes); }
  void free_bytes(void* p) noexcept override { cuda::free_when_idle(ctx_, p); }
  void copy_in(void* dst, const void* src, std::size_t bytes) override {
    cuda::copy_to_device(ctx_, dst, src, bytes);
  }
  void copy_out_blocking(void* dst, const void* src, std::size_t bytes) override {
    cuda::copy_to_host_blocking(ctx_, dst, src, bytes);
  }
  double max_over_ranks(double v) override { return grid_.max_over_ranks(v); }
  std::size_t matrix_values(int rows, int cols) const override {
    return grid_.local_values(rows, cols);
  }
  void matrix_in(T* dst, int rows, int cols,
                 const typename Executor<T>::ColumnSource& columns) override {
    std::vector<T> blocks(matrix_values(rows, cols));
    grid_.fill_local(blocks.data(), rows, cols, columns);
    copy_in(dst, blocks.data(), sizeof(T) * blocks.size());
  }
  bool writes_files() const override { return grid_.rank() == 0; }
  void matrix_out_blocking(T* dst, const T* src, int rows, int cols) override {
    std::vector<T> blocks(matrix_values(rows, cols));
    copy_out_blocking(blocks.data(), src, sizeof(T) * blocks.size());
    grid_.gather_to_root(dst, blocks.data(), rows, cols);
  }

  void gemm_batched(int m, int n, int kk, T alpha, const T* a, int, long long, const T* b, int,
                    long long, T beta, T* c, int, long long, int batch) override {
    one_member(batch);
    const Described<T>& da = described(m, kk);
    const Described<T>& db = described(kk, n);
    const Described<T>& dc = described(m, n);
    const mp::Api& api = mp_.api();
    std::size_t dw = 0, hw = 0;
    check(api.cublasMpGemm_bufferSize(mp_.blas(), CUBLAS_OP_N, CUBLAS_OP_N, m, n, kk, &alpha, a, 1,
                                      1, da.blas(), b, 1, 1, db.blas(), &beta, c, 1, 1, dc.blas(),
                                      compute_type<T>(), &dw, &hw),
          "cublasMpGemm_bufferSize");
    const Workspace::Span w = work_.at_least(dw, hw, ctx_);
    check(api.cublasMpGemm(mp_.blas(), CUBLAS_OP_N, CUBLAS_OP_N, m, n, kk, &alpha, a, 1, 1,
                           da.blas(), b, 1, 1, db.blas(), &beta, c, 1, 1, dc.blas(),
                           compute_type<T>(), w.device, w.device_bytes, w.host, w.host_bytes),
          "cublasMpGemm");
  }

  std::size_t reorthonormalizer_bytes(int, int rows, int k, QrMethod method, bool) const override {
    return grid_.qr_bytes(rows, k, method, sizeof(T));
  }
  std::unique_ptr<Reorthonormalizer<T>> make_reorthonormalizer(int batch, int rows, int k,
                                                               QrMethod method) override {
    one_member(batch);
    return std::make_unique<GridReorthonormalizer<T, MpQr<T>>>(
        k, method, MpQr<T>(grid_, mp_, ctx_, rows, k, method != QrMethod::householder));
  }

 protected:
  Kernels* family_kernels(const std::type_info& family) override {
    return family == typeid(RandomNetworkKernels<T>) ? &kernels_ : nullptr;
  }

 private:
  // This rank's GPU, once every rank has loaded the libraries and found a GPU of its own: else
  // every rank throws the first failure (BackendUnavailable: exit 2) before any waits in NCCL's
  // set-up. Two ranks of a node on one GPU are refused (cuBLASMp: "Sharing a device with multiple
  // processes may result in undefined behavior"): more ranks on a node than GPUs it shows them.
  static int agreed_device(const Grid& grid) {
    const NodeRanks node;  // collective: before on_every_rank's local work
    int device = -1;
    cudaUUID_t uuid{};
    grid.on_every_rank([&] {
      (void)mp::api();
      device = node_device(node);
      cuda::require_device(device);
      cudaDeviceProp prop{};
      RNNLYAP_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
      uuid = prop.uuid;
    });
    std::vector<cudaUUID_t> all(static_cast<std::size_t>(node.size()));
    MPI_Allgather(&uuid, static_cast<int>(sizeof uuid), MPI_BYTE, all.data(),
                  static_cast<int>(sizeof uuid), MPI_BYTE, node.comm());
    grid.on_every_rank([&] {
      for (int r = 0; r < node.size(); ++r)
        if (r != node.rank() && std::memcmp(&all[r], &uuid, sizeof uuid) == 0)
          throw BackendUnavailable(
              "--distribute-network with --backend cuda needs one GPU per rank: ranks " +
              std::to_string(std::min(r, node.rank())) + " and " +
              std::to_string(std::max(r, node.rank())) +
              " of a node would share one (start as many ranks per node as it has GPUs, each "
              "bound to its own: srun --gpus-per-task=1, or CUDA_VISIBLE_DEVICES)");
    });
    return device;
  }
  // The descriptors of an m × n matrix in the layout, made once per shape.
  const Described<T>& described(int m, int n) {
    for (const auto& [shape, d] : described_)
      if (shape == std::pair{m, n}) return *d;
    described_.emplace_back(std::pair{m, n}, std::make_unique<Described<T>>(grid_, mp_, m, n));
    return *described_.back().second;
  }

  Grid grid_;
  cuda::PooledContext pooled_;
  const cuda::Context& ctx_;
  std::string name_;
  MpContext mp_;
  DistributedCudaNetworkKernels<T> kernels_;
  Workspace work_;
  std::vector<std::pair<std::pair<int, int>, std::unique_ptr<Described<T>>>> described_;
};

}  // namespace

std::unique_ptr<Executor<float>> make_cuda_executor_fp32(int rows, int cols, int n) {
  return std::make_unique<DistributedCudaExecutor<float>>(rows, cols, n);
}
std::unique_ptr<Executor<double>> make_cuda_executor_fp64(int rows, int cols, int n) {
  return std::make_unique<DistributedCudaExecutor<double>>(rows, cols, n);
}
std::string cuda_libraries() {
  bool loaded = false;
  const std::string what = mp::describe(loaded);
  return loaded ? "cuBLASMp, cuSOLVERMp, NCCL: " + what : "not loadable: " + what;
}

}  // namespace rnnlyap::distributed
