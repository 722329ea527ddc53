// The emulated cuBLASMp, cuSOLVERMp and NCCL (test-only): the entry points the distributed CUDA
// executor calls, defined with the signatures of cublasmp.h, cusolverMp.h and nccl.h, over MPI and
// ScaLAPACK/PBLAS on the same (host) memory. Each call checks its documented contract when it is
// made (any breach, including one the real library reports as a status, is a violation) and
// queues the arithmetic, one PBLAS or ScaLAPACK call on this rank's local blocks, on the handle's
// stream; info words receive ScaLAPACK's info when the work runs (> 0 from p?potrf, a leading
// minor not positive definite, is a result, not a violation).
//
// Supported use, the project's: one process per rank of MPI_COMM_WORLD, one NCCL communicator over
// all of them, grids over that communicator (a BLACS context over MPI_COMM_WORLD each), real
// double or single precision matrices on them.
//
// MPI order. The PBLAS and ScaLAPACK routines are collectives over the grid, and here they run when
// this rank synchronises the stream they were queued on, not when they are called. That keeps every
// rank's MPI calls in one order because every rank runs the same program: it makes the same
// library calls in the same order, so queues the same collectives, and synchronises at the same
// points, where they run in queue order. The calls that communicate at call time (ncclCommInitRank,
// the grids' creation and destruction) are collectives in the real libraries too and are made by
// every rank at the same point of the program. A caller must therefore synchronise at the same
// points on every rank (a rank that synchronised early would wait in a collective for ranks that
// have not queued it yet, or deadlock); the _bufferSize queries compute ScaLAPACK's workspace
// formula locally and communicate nothing.
//
// Citations are to NVIDIA's documentation, by section. cuBLASMp (docs.nvidia.com/cuda/cublasmp),
// "cuBLASMp C API", the sections of cublasMpCreate, cublasMpDestroy, cublasMpGridCreate,
// cublasMpGridDestroy, cublasMpMatrixDescriptorCreate, cublasMpMatrixDescriptorDestroy,
// cublasMpGemm, cublasMpSyrk and cublasMpTrsm with their _bufferSize (whose "Contract" and
// "Workspace" paragraphs cublasmp.h repeats). cuSOLVERMp (docs.nvidia.com/cuda/cusolvermp),
// "cuSOLVERMp C API": "Library Management" (cusolverMpCreate, cusolverMpDestroy) and the sections
// of cusolverMpCreateDeviceGrid, cusolverMpDestroyGrid, cusolverMpCreateMatrixDesc,
// cusolverMpDestroyMatrixDesc, cusolverMpPotrf, cusolverMpGeqrf and cusolverMpOrgqr with their
// _bufferSize. NCCL (docs.nvidia.com/deeplearning/nccl), "API", "Communicator Creation and
// Management Functions" (ncclGetUniqueId, ncclCommInitRank, ncclCommDestroy, ncclCommAbort,
// ncclGetErrorString).
// The ScaLAPACK routines' own requirements (p?potrf's aligned square blocks, p?geqrf's and
// p?orgqr's LWORK and TAU) are cited from their argument descriptions.
#include <cublasmp.h>
#include <cusolverMp.h>
#include <mpi.h>
#include <nccl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "distributed/scalapack.hpp"
#include "emu_runtime.hpp"
#include "lapack_decls.hpp"

namespace rnnlyap::emu::mp {

/// A process grid: its BLACS context over MPI_COMM_WORLD and where this rank sits in it.
struct Grid {
  ncclComm* comm = nullptr;
  int nprow = 0, npcol = 0, myrow = -1, mycol = -1, context = -1;
  const void* solver = nullptr;  // cuSOLVERMp: the handle the grid was created with
  int descriptors = 0;           // live descriptors on this grid
  int pending = 0;               // operations on this grid queued and not yet run
};

/// A matrix descriptor: the global matrix, its block-cyclic layout and ScaLAPACK's descriptor.
struct Desc {
  Grid* grid = nullptr;
  cudaDataType_t type = CUDA_R_64F;
  int m = 0, n = 0, mb = 1, nb = 1, rsrc = 0, csrc = 0, lld = 1;
  int local_rows = 0, local_cols = 0;  // this rank's
  std::array<int, 9> d{};
};

/// Workspace sizes (bytes) a _bufferSize query reported.
struct Sizes {
  std::size_t device = 0, host = 0;
};

}  // namespace rnnlyap::emu::mp

struct ncclComm {
  int rank = -1, nranks = 0;
  int grids = 0;  // live grids over it
};
struct cublasMpHandle {
  cudaStream_t stream = nullptr;
  std::map<std::string, rnnlyap::emu::mp::Sizes> reported;  // by routine and arguments
};
struct cublasMpGrid {
  rnnlyap::emu::mp::Grid g;
};
struct cublasMpMatrixDescriptor {
  rnnlyap::emu::mp::Desc d;
};
struct cusolverMpHandle {
  cudaStream_t stream = nullptr;
  std::map<std::string, rnnlyap::emu::mp::Sizes> reported;
};
struct cusolverMpGrid {
  rnnlyap::emu::mp::Grid g;
};
struct cusolverMpMatrixDescriptor {
  rnnlyap::emu::mp::Desc d;
};

namespace {

namespace emu = rnnlyap::emu;
namespace la = rnnlyap::emu::la;
using emu::mp::Desc;
using emu::mp::Grid;
using emu::mp::Sizes;
using i64 = std::int64_t;
using la::cat;
using la::require;

la::Handles<ncclComm> comms;
la::Handles<cublasMpHandle> blas_handles;
la::Handles<cublasMpGrid> blas_grids;
la::Handles<cublasMpMatrixDescriptor> blas_descs;
la::Handles<cusolverMpHandle> solver_handles;
la::Handles<cusolverMpGrid> solver_grids;
la::Handles<cusolverMpMatrixDescriptor> solver_descs;

// --- ScaLAPACK and PBLAS, overloaded on double/float ---------------------------------------------
int numroc(int n, int nb, int iproc, int isrc, int nprocs) {
  return numroc_(&n, &nb, &iproc, &isrc, &nprocs);
}
// The grid row (column) holding global row (column) ig, 1-based (ScaLAPACK's INDXG2P).
int indxg2p(int ig, int nb, int isrc, int nprocs) {
  return (isrc + (ig - 1) / nb) % nprocs;
}

void p_gemm(char ta, char tb, int m, int n, int k, double alpha, const double* a, int ia, int ja,
            const int* da, const double* b, int ib, int jb, const int* db, double beta, double* c,
            int ic, int jc, const int* dc) {
  pdgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &ia, &ja, da, b, &ib, &jb, db, &beta, c, &ic, &jc, dc);
}
void p_gemm(char ta, char tb, int m, int n, int k, float alpha, const float* a, int ia, int ja,
            const int* da, const float* b, int ib, int jb, const int* db, float beta, float* c,
            int ic, int jc, const int* dc) {
  psgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &ia, &ja, da, b, &ib, &jb, db, &beta, c, &ic, &jc, dc);
}
void p_syrk(char uplo, char trans, int n, int k, double alpha, const double* a, int ia, int ja,
            const int* da, double beta, double* c, int ic, int jc, const int* dc) {
  pdsyrk_(&uplo, &trans, &n, &k, &alpha, a, &ia, &ja, da, &beta, c, &ic, &jc, dc);
}
void p_syrk(char uplo, char trans, int n, int k, float alpha, const float* a, int ia, int ja,
            const int* da, float beta, float* c, int ic, int jc, const int* dc) {
  pssyrk_(&uplo, &trans, &n, &k, &alpha, a, &ia, &ja, da, &beta, c, &ic, &jc, dc);
}
void p_trsm(char side, char uplo, char trans, char diag, int m, int n, double alpha,
            const double* a, int ia, int ja, const int* da, double* b, int ib, int jb,
            const int* db) {
  pdtrsm_(&side, &uplo, &trans, &diag, &m, &n, &alpha, a, &ia, &ja, da, b, &ib, &jb, db);
}
void p_trsm(char side, char uplo, char trans, char diag, int m, int n, float alpha, const float* a,
            int ia, int ja, const int* da, float* b, int ib, int jb, const int* db) {
  pstrsm_(&side, &uplo, &trans, &diag, &m, &n, &alpha, a, &ia, &ja, da, b, &ib, &jb, db);
}
int p_potrf(char uplo, int n, double* a, int ia, int ja, const int* da) {
  int info = 0;
  pdpotrf_(&uplo, &n, a, &ia, &ja, da, &info);
  return info;
}
int p_potrf(char uplo, int n, float* a, int ia, int ja, const int* da) {
  int info = 0;
  pspotrf_(&uplo, &n, a, &ia, &ja, da, &info);
  return info;
}
int p_geqrf(int m, int n, double* a, int ia, int ja, const int* da, double* tau, double* work,
            int lwork) {
  int info = 0;
  pdgeqrf_(&m, &n, a, &ia, &ja, da, tau, work, &lwork, &info);
  return info;
}
int p_geqrf(int m, int n, float* a, int ia, int ja, const int* da, float* tau, float* work,
            int lwork) {
  int info = 0;
  psgeqrf_(&m, &n, a, &ia, &ja, da, tau, work, &lwork, &info);
  return info;
}
int p_orgqr(int m, int n, int k, double* a, int ia, int ja, const int* da, const double* tau,
            double* work, int lwork) {
  int info = 0;
  pdorgqr_(&m, &n, &k, a, &ia, &ja, da, tau, work, &lwork, &info);
  return info;
}
int p_orgqr(int m, int n, int k, float* a, int ia, int ja, const int* da, const float* tau,
            float* work, int lwork) {
  int info = 0;
  psorgqr_(&m, &n, &k, a, &ia, &ja, da, tau, work, &lwork, &info);
  return info;
}

template <class T>
constexpr cudaDataType_t data_type() {
  return sizeof(T) == sizeof(double) ? CUDA_R_64F : CUDA_R_32F;
}
const char* type_name(cudaDataType_t t) {
  return t == CUDA_R_64F ? "CUDA_R_64F" : t == CUDA_R_32F ? "CUDA_R_32F" : "another cudaDataType";
}

// --- Checks shared by the libraries --------------------------------------------------------------
// A 64-bit size or index as ScaLAPACK's INTEGER: the emulation's limit, not the libraries'.
int to_int(i64 v, const char* api, const char* what) {
  require(v >= INT_MIN && v <= INT_MAX, api,
          cat(what, " = ", v,
              " does not fit a 32-bit INTEGER (the emulation runs on ScaLAPACK, whose integers "
              "are 32-bit)"));
  return static_cast<int>(v);
}

void require_mpi(const char* api) {
  int started = 0, finished = 0;
  MPI_Initialized(&started);
  MPI_Finalized(&finished);
  require(started != 0 && finished == 0, api,
          "MPI is not initialised (or was finalised): the emulated NCCL and grids run over "
          "MPI_COMM_WORLD, so MPI_Init must come first and MPI_Finalize after the last of them");
}

void require_comm(ncclComm* comm, const char* api) {
  require(comms.live(comm), api,
          "comm is null, was not created by ncclCommInitRank or was destroyed (NCCL docs, "
          "ncclCommInitRank(); a grid's communicator must be live)");
}

// cublasMpGridCreate() / cusolverMpCreateDeviceGrid(): "The communicator must contain exactly
// nprow * npcol ranks" and all ranks enter collectively. The BLACS grid over MPI_COMM_WORLD
// numbers ranks row by row ("Row") for the row-major layout, column by column ("Col") otherwise,
// as the layouts do.
void make_grid(Grid& g, const char* api, ncclComm* comm, i64 nprow, i64 npcol, bool row_major) {
  require_mpi(api);
  require_comm(comm, api);
  require(nprow >= 1 && npcol >= 1 && nprow <= comm->nranks && npcol <= comm->nranks &&
              nprow * npcol == comm->nranks,
          api,
          cat("a ", nprow, " x ", npcol, " grid over a communicator of ", comm->nranks,
              " ranks: the communicator must contain exactly nprow * npcol ranks (cuBLASMp docs, "
              "cublasMpGridCreate(); cuSOLVERMp docs, cusolverMpCreateDeviceGrid())"));
  g.comm = comm;
  g.nprow = static_cast<int>(nprow);
  g.npcol = static_cast<int>(npcol);
  int me = 0, procs = 0;
  Cblacs_pinfo(&me, &procs);
  Cblacs_get(-1, 0, &g.context);
  Cblacs_gridinit(&g.context, row_major ? "Row" : "Col", g.nprow, g.npcol);
  int rows = 0, cols = 0;
  Cblacs_gridinfo(g.context, &rows, &cols, &g.myrow, &g.mycol);
  require(g.myrow >= 0 && g.mycol >= 0 && rows == g.nprow && cols == g.npcol, api,
          "this rank is not in the BLACS grid the emulation created over MPI_COMM_WORLD");
  ++comm->grids;
}

// cublasMpGridDestroy() / cusolverMpDestroyGrid(): collective. The grid must outlive its
// descriptors ("The grid object ... must outlive the descriptor", cublasMpMatrixDescriptorCreate())
// and the work queued on it (the emulation's rule: that work runs at synchronisation, on the
// grid's BLACS context).
void end_grid(Grid& g, const char* api) {
  require(g.descriptors == 0, api,
          cat(g.descriptors,
              " matrix descriptor(s) on this grid are still live: the grid must outlive its "
              "descriptors (cuBLASMp docs, cublasMpMatrixDescriptorCreate(): grid)"));
  require(g.pending == 0, api,
          cat(g.pending,
              " operation(s) queued on this grid have not run: synchronise the stream before "
              "destroying the grid they use"));
  Cblacs_gridexit(g.context);
  --g.comm->grids;
}

// cublasMpMatrixDescriptorCreate() / cusolverMpCreateMatrixDesc(): mb, nb and lld positive,
// 0 <= rsrc < nprow, 0 <= csrc < npcol, lld "large enough for the local allocation on the calling
// rank" (LLD_A >= MAX(1, LOCr(M_A)), cusolverMp.h); only real double and single precision are
// emulated (the libraries take more types).
void make_desc(Desc& d, const char* api, Grid* g, cudaDataType_t type, i64 m, i64 n, i64 mb, i64 nb,
               i64 rsrc, i64 csrc, i64 lld) {
  require(type == CUDA_R_64F || type == CUDA_R_32F, api,
          cat("data type ", static_cast<int>(type),
              ": only CUDA_R_64F and CUDA_R_32F are emulated (the project's precisions)"));
  require(m >= 0 && n >= 0 && mb >= 1 && nb >= 1 && lld >= 1, api,
          cat("m = ", m, ", n = ", n, ", mb = ", mb, ", nb = ", nb, ", lld = ", lld,
              ": m, n >= 0 and mb, nb, lld positive (cuBLASMp docs, "
              "cublasMpMatrixDescriptorCreate())"));
  require(rsrc >= 0 && rsrc < g->nprow && csrc >= 0 && csrc < g->npcol, api,
          cat("rsrc = ", rsrc, ", csrc = ", csrc, " on a ", g->nprow, " x ", g->npcol,
              " grid: needs 0 <= rsrc < nprow and 0 <= csrc < npcol (cuBLASMp docs, "
              "cublasMpMatrixDescriptorCreate())"));
  d.grid = g;
  d.type = type;
  d.m = to_int(m, api, "m");
  d.n = to_int(n, api, "n");
  d.mb = to_int(mb, api, "mb");
  d.nb = to_int(nb, api, "nb");
  d.rsrc = static_cast<int>(rsrc);
  d.csrc = static_cast<int>(csrc);
  d.lld = to_int(lld, api, "lld");
  d.local_rows = numroc(d.m, d.mb, g->myrow, d.rsrc, g->nprow);
  d.local_cols = numroc(d.n, d.nb, g->mycol, d.csrc, g->npcol);
  require(d.lld >= std::max(1, d.local_rows), api,
          cat("lld = ", d.lld, " < max(1, ", d.local_rows, "), the rows of the ", d.m, " x ", d.n,
              " matrix this rank holds: lld must be large enough for the local allocation "
              "(cuBLASMp docs, cublasMpMatrixDescriptorCreate(); LLD_A >= MAX(1, LOCr(M_A)))"));
  int info = 0;
  descinit_(d.d.data(), &d.m, &d.n, &d.mb, &d.nb, &d.rsrc, &d.csrc, &g->context, &d.lld, &info);
  require(info == 0, api, cat("ScaLAPACK's descinit refused argument ", -info));
  ++g->descriptors;
}

/// This rank's local elements of a descriptor's matrix (lld × local columns), in bytes.
template <class T>
std::size_t local_bytes(const Desc& d) {
  return static_cast<std::size_t>(d.local_cols) * static_cast<std::size_t>(d.lld) * sizeof(T);
}

struct Span {
  const void* p;
  std::size_t bytes;
};

// One distributed operand: its descriptor of type T on `grid` (the first operand's: "descA and
// descB must have ... matching data types, and compatible process grids"; the emulation asks for
// the same grid object, whose BLACS context PBLAS needs), sub(X) = X(i:i+rows-1, j:j+cols-1)
// inside the global matrix ("The submatrices must fit inside descA and descB"; i, j 1-based), and
// the local array: device memory of lld × local columns elements ("Pointer to local portion of
// global matrix (device)"; null only where this rank holds none of it). A _bufferSize query looks
// at no element: a pointer it is given must only be device memory.
template <class T>
Span operand(const char* api, const char* name, const Desc& d, const Grid* grid, const void* p,
             i64 i, i64 j, i64 rows, i64 cols, bool query) {
  require(d.type == data_type<T>(), api,
          cat("desc", name, " is ", type_name(d.type), " but the call's data type is ",
              type_name(data_type<T>()), ": the operands' data types must match"));
  require(d.grid == grid, api,
          cat("desc", name,
              " belongs to another grid: the operands must share the call's process grid"));
  require(
      i >= 1 && j >= 1 && (rows <= 0 || cols <= 0 || (i - 1 + rows <= d.m && j - 1 + cols <= d.n)),
      api,
      cat("sub(", name, ") = ", name, "(", i, ":", i + rows - 1, ", ", j, ":", j + cols - 1,
          ") does not fit the ", d.m, " x ", d.n,
          " global matrix of its descriptor (indices are 1-based; the submatrices must fit "
          "inside their descriptors)"));
  const std::size_t bytes = local_bytes<T>(d);
  if (query || bytes == 0) {
    if (p != nullptr) emu::require_device(p, 0, api, name);
  } else {
    emu::require_device(p, bytes, api, name);
  }
  return {p, bytes};
}

// "ia - 1 must be a multiple of mbA" and "ja - 1 ... of nbA" (cublasMpGemm(), cublasMpSyrk()).
void require_aligned(const char* api, const char* name, const Desc& d, i64 i, i64 j) {
  require((i - 1) % d.mb == 0 && (j - 1) % d.nb == 0, api,
          cat("sub(", name, ") starts at (", i, ", ", j, ") on blocks of ", d.mb, " x ", d.nb,
              ": i", name, " - 1 must be a multiple of mb", name, " and j", name, " - 1 of nb",
              name, " (cuBLASMp docs: submatrix indices aligned to the blocks)"));
}

std::string desc_key(const Desc& d) {
  return cat('[', d.m, ' ', d.n, ' ', d.mb, ' ', d.nb, ' ', d.rsrc, ' ', d.csrc, ' ', d.lld, ' ',
             static_cast<int>(d.type), ' ', static_cast<const void*>(d.grid), ']');
}

// A _bufferSize query's answer: recorded on the handle under the routine and its arguments, and
// written to the two host outputs ("workspaceSizeInBytesOnDevice and workspaceSizeInBytesOnHost
// must be non-NULL output pointers").
void report(std::map<std::string, Sizes>& reported, const char* api, const std::string& key,
            Sizes sizes, std::size_t* device, std::size_t* host) {
  emu::require_host(device, api, "workspaceSizeInBytesOnDevice");
  emu::require_host(host, api, "workspaceSizeInBytesOnHost");
  reported[key] = sizes;
  *device = sizes.device;
  *host = sizes.host;
}

// The workspaces of a call: "Call <routine>_bufferSize() with the same arguments first, then pass
// device and host workspaces of the returned sizes": a query for these arguments on this handle
// must precede the call, each size must be at least what it reported, d_work device memory of
// its size and h_work host memory when their sizes are not 0; d_work must stay clear of the
// operands. The part of h_work the library may use is overwritten now (it is the caller's
// scratch), the device workspace when the work runs.
Sizes check_workspace(const std::map<std::string, Sizes>& reported, const char* api,
                      const std::string& key, void* d_work, std::size_t dsize, void* h_work,
                      std::size_t hsize, std::initializer_list<Span> operands) {
  const auto found = reported.find(key);
  require(found != reported.end(), api,
          "no _bufferSize query with these arguments on this handle preceded the call (the "
          "workspace sizes must be the ones it returned)");
  const Sizes need = found->second;
  require(dsize >= need.device && hsize >= need.host, api,
          cat("workspaces of ", dsize, " device and ", hsize,
              " host bytes; the _bufferSize query "
              "reported ",
              need.device, " and ", need.host, " (workspaces of the returned sizes are required)"));
  if (dsize > 0) emu::require_device(d_work, dsize, api, "d_work");
  if (hsize > 0) emu::require_host(h_work, api, "h_work");
  for (const Span& op : operands)
    la::require_apart(d_work, dsize, op.p, op.bytes, api, "d_work overlaps an operand");
  if (need.host > 0) std::memset(h_work, 0xff, need.host);
  return need;
}

// A deterministic, realistic device workspace for the routines ScaLAPACK needs none for (PBLAS
// allocates its own): a panel of blocks over this rank's part of sub(X) (rows × cols from (i, j)).
template <class T>
std::size_t panel_bytes(const Desc& d, int i, int j, int rows, int cols) {
  const Grid& g = *d.grid;
  const int mp = numroc(std::max(0, rows) + (i - 1) % d.mb, d.mb, g.myrow,
                        indxg2p(i, d.mb, d.rsrc, g.nprow), g.nprow);
  const int nq = numroc(std::max(0, cols) + (j - 1) % d.nb, d.nb, g.mycol,
                        indxg2p(j, d.nb, d.csrc, g.npcol), g.npcol);
  const auto b = static_cast<std::size_t>(std::max(d.mb, d.nb));
  return b * (static_cast<std::size_t>(mp) + static_cast<std::size_t>(nq) + b) * sizeof(T);
}
// The host workspace every emulated routine reports: small, not 0, so that a caller passes one.
constexpr std::size_t kHostWorkspace = 256;

// The device workspace's contents are undefined after a call: poisoned (NaN in both precisions)
// when the work runs.
void poison(void* p, std::size_t bytes) {
  if (bytes > 0) std::memset(p, 0xff, bytes);
}

// The device pointers queued work touches (for enqueue's use-after-free check).
std::vector<const void*> uses(std::initializer_list<const void*> ps) {
  std::vector<const void*> out;
  for (const void* p : ps)
    if (p != nullptr) out.push_back(p);
  return out;
}

// Queues `work` (a PBLAS/ScaLAPACK collective over g) on `stream`: it runs when this rank
// synchronises the stream (see the opening comment for why every rank's MPI calls stay in order).
template <class F>
void enqueue_on(cudaStream_t stream, const char* api, Grid* g, F work,
                std::vector<const void*> touched) {
  ++g->pending;
  emu::enqueue(
      stream, api,
      [g, work]() mutable {
        work();
        --g->pending;
      },
      std::move(touched));
}

char op_char(cublasOperation_t op) {
  return op == CUBLAS_OP_N ? 'N' : 'T';
}
bool valid_op(cublasOperation_t op) {
  return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C;
}
bool valid_uplo(cublasFillMode_t u) {
  return u == CUBLAS_FILL_MODE_LOWER || u == CUBLAS_FILL_MODE_UPPER;
}
char uplo_char(cublasFillMode_t u) {
  return u == CUBLAS_FILL_MODE_UPPER ? 'U' : 'L';
}

// A host scalar of type T ("Scalar used for multiplication (host pointer)"), read at call time.
template <class T>
T host_scalar(const void* p, const char* api, const char* arg) {
  emu::require_host(p, api, arg);
  return *static_cast<const T*>(p);
}

// =================================================================================================
// cuBLASMp
// =================================================================================================
// Every function but cublasMpCreate: "Calling any cuBLASMp function which uses cublasMpHandle_t
// without a previous call of cublasMpCreate() will return an error" (cublasMpCreate()).
void require_blas_handle(cublasMpHandle* h, const char* api) {
  require(blas_handles.live(h), api,
          "handle is null, was not created by cublasMpCreate or was destroyed (cuBLASMp docs, "
          "cublasMpCreate())");
}
const Desc& blas_desc(cublasMpMatrixDescriptor* d, const char* api, const char* name) {
  require(blas_descs.live(d), api,
          cat("desc", name,
              " is null, was not created by cublasMpMatrixDescriptorCreate or was destroyed"));
  return d->d;
}

// computeType: "cuBLAS compute type for internal matrix-matrix multiplications"; the emulation
// runs p?<routine> in the matrices' precision, so it takes the compute type of that precision.
template <class T>
void require_compute(cublasComputeType_t ct, const char* api) {
  const cublasComputeType_t want =
      sizeof(T) == sizeof(double) ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F;
  require(ct == want, api,
          cat("computeType ", static_cast<int>(ct), " with ", type_name(data_type<T>()),
              " matrices: the emulation runs CUBLAS_COMPUTE_64F with CUDA_R_64F and "
              "CUBLAS_COMPUTE_32F with CUDA_R_32F"));
}

// Where a call's workspace query answer or its call goes: query (sizes non-null) or call.
struct BlasWork {
  bool query;
  std::size_t* dsize_out;
  std::size_t* hsize_out;
  void* d_work;
  std::size_t dsize;
  void* h_work;
  std::size_t hsize;
};

// --- cublasMpGemm(), cublasMpGemm_bufferSize() ---------------------------------------------------
// C = alpha op(A) op(B) + beta C; op(A) m × k, op(B) k × n. Contract: indices aligned to the
// blocks; block sizes compatible with the operations: N,N: nbA == mbB, mbA == mbC, nbB == nbC; N,T:
// nbA == nbB, mbA == mbC, mbB == nbC; T,N: mbA == mbB, nbA == mbC, nbB == nbC; T,T: mbA == nbB, nbA
// == mbC, mbB == nbC.
template <class T>
cublasMpStatus_t gemm(const char* api, cublasMpHandle* h, cublasOperation_t ta,
                      cublasOperation_t tb, i64 m, i64 n, i64 k, const void* alpha_p, const void* a,
                      i64 ia, i64 ja, const Desc& da, const void* b, i64 ib, i64 jb, const Desc& db,
                      const void* beta_p, void* c, i64 ic, i64 jc, const Desc& dc,
                      cublasComputeType_t ct, const BlasWork& w) {
  require(valid_op(ta) && valid_op(tb), api, "transA/transB must be CUBLAS_OP_N, _T or _C");
  require(m >= 0 && n >= 0 && k >= 0, api,
          cat("m = ", m, ", n = ", n, ", k = ", k, ": none may be negative"));
  require_compute<T>(ct, api);
  const bool an = ta == CUBLAS_OP_N, bn = tb == CUBLAS_OP_N;
  Grid* g = da.grid;
  const Span sa = operand<T>(api, "A", da, g, a, ia, ja, an ? m : k, an ? k : m, w.query);
  const Span sb = operand<T>(api, "B", db, g, b, ib, jb, bn ? k : n, bn ? n : k, w.query);
  const Span sc = operand<T>(api, "C", dc, g, c, ic, jc, m, n, w.query);
  require_aligned(api, "A", da, ia, ja);
  require_aligned(api, "B", db, ib, jb);
  require_aligned(api, "C", dc, ic, jc);
  const int a_k = an ? da.nb : da.mb, a_m = an ? da.mb : da.nb;  // A's blocks along k and m
  const int b_k = bn ? db.mb : db.nb, b_n = bn ? db.nb : db.mb;  // B's along k and n
  require(a_k == b_k && a_m == dc.mb && b_n == dc.nb, api,
          cat("blocks A ", da.mb, " x ", da.nb, ", B ", db.mb, " x ", db.nb, ", C ", dc.mb, " x ",
              dc.nb, " with op(A) = ", op_char(ta), ", op(B) = ", op_char(tb),
              ": op(A)'s and op(B)'s blocks along k must match, op(A)'s along m C's rows', op(B)'s "
              "along n C's columns' (cuBLASMp docs, cublasMpGemm(): block-size compatibility)"));
  const std::string key =
      cat("gemm ", op_char(ta), op_char(tb), ' ', m, ' ', n, ' ', k, ' ', ia, ' ', ja, desc_key(da),
          ib, ' ', jb, desc_key(db), ic, ' ', jc, desc_key(dc));
  const int mi = to_int(m, api, "m"), ni = to_int(n, api, "n"), ki = to_int(k, api, "k");
  const int iai = to_int(ia, api, "ia"), jai = to_int(ja, api, "ja");
  const int ibi = to_int(ib, api, "ib"), jbi = to_int(jb, api, "jb");
  const int ici = to_int(ic, api, "ic"), jci = to_int(jc, api, "jc");
  if (w.query) {
    report(h->reported, api, key, {panel_bytes<T>(dc, ici, jci, mi, ni), kHostWorkspace},
           w.dsize_out, w.hsize_out);
    return CUBLASMP_STATUS_SUCCESS;
  }
  const T alpha = host_scalar<T>(alpha_p, api, "alpha"), beta = host_scalar<T>(beta_p, api, "beta");
  check_workspace(h->reported, api, key, w.d_work, w.dsize, w.h_work, w.hsize, {sa, sb, sc});
  const auto A = da.d, B = db.d, C = dc.d;
  const char tca = op_char(ta), tcb = op_char(tb);
  const auto* ap = static_cast<const T*>(a);
  const auto* bp = static_cast<const T*>(b);
  auto* cp = static_cast<T*>(c);
  void* dw = w.d_work;
  const std::size_t dsize = w.dsize;
  enqueue_on(
      h->stream, api, g,
      [=] {
        poison(dw, dsize);
        p_gemm(tca, tcb, mi, ni, ki, alpha, ap, iai, jai, A.data(), bp, ibi, jbi, B.data(), beta,
               cp, ici, jci, C.data());
      },
      uses({a, b, c, dw}));
  return CUBLASMP_STATUS_SUCCESS;
}

// --- cublasMpSyrk(), cublasMpSyrk_bufferSize() ---------------------------------------------------
// C = alpha op(A) op(A)ᵀ + beta C, op(A) n × k, the uplo triangle of C only ("the other triangle is
// not referenced"). Contract: indices aligned to the blocks; "C must have square block size (mbC ==
// nbC)"; "mbA == mbC when trans=N, nbA == mbC when trans=T".
template <class T>
cublasMpStatus_t syrk(const char* api, cublasMpHandle* h, cublasFillMode_t uplo,
                      cublasOperation_t trans, i64 n, i64 k, const void* alpha_p, const void* a,
                      i64 ia, i64 ja, const Desc& da, const void* beta_p, void* c, i64 ic, i64 jc,
                      const Desc& dc, cublasComputeType_t ct, const BlasWork& w) {
  require(valid_uplo(uplo), api, "uplo must be CUBLAS_FILL_MODE_LOWER or CUBLAS_FILL_MODE_UPPER");
  require(trans == CUBLAS_OP_N || trans == CUBLAS_OP_T, api,
          "trans must be CUBLAS_OP_N or CUBLAS_OP_T (cuBLASMp docs, cublasMpSyrk(): "
          "\"non- or transpose\")");
  require(n >= 0 && k >= 0, api, cat("n = ", n, ", k = ", k, ": neither may be negative"));
  require_compute<T>(ct, api);
  const bool tn = trans == CUBLAS_OP_N;
  Grid* g = da.grid;
  const Span sa = operand<T>(api, "A", da, g, a, ia, ja, tn ? n : k, tn ? k : n, w.query);
  const Span sc = operand<T>(api, "C", dc, g, c, ic, jc, n, n, w.query);
  require_aligned(api, "A", da, ia, ja);
  require_aligned(api, "C", dc, ic, jc);
  require(dc.mb == dc.nb && (tn ? da.mb : da.nb) == dc.mb, api,
          cat("blocks A ", da.mb, " x ", da.nb, ", C ", dc.mb, " x ", dc.nb,
              " with trans = ", op_char(trans),
              ": C's blocks must be square and op(A)'s along n match them (cuBLASMp docs, "
              "cublasMpSyrk())"));
  const std::string key = cat("syrk ", uplo_char(uplo), op_char(trans), ' ', n, ' ', k, ' ', ia,
                              ' ', ja, desc_key(da), ic, ' ', jc, desc_key(dc));
  const int ni = to_int(n, api, "n"), ki = to_int(k, api, "k");
  const int iai = to_int(ia, api, "ia"), jai = to_int(ja, api, "ja");
  const int ici = to_int(ic, api, "ic"), jci = to_int(jc, api, "jc");
  if (w.query) {
    report(h->reported, api, key, {panel_bytes<T>(dc, ici, jci, ni, ni), kHostWorkspace},
           w.dsize_out, w.hsize_out);
    return CUBLASMP_STATUS_SUCCESS;
  }
  const T alpha = host_scalar<T>(alpha_p, api, "alpha"), beta = host_scalar<T>(beta_p, api, "beta");
  check_workspace(h->reported, api, key, w.d_work, w.dsize, w.h_work, w.hsize, {sa, sc});
  const auto A = da.d, C = dc.d;
  const char u = uplo_char(uplo), t = op_char(trans);
  const auto* ap = static_cast<const T*>(a);
  auto* cp = static_cast<T*>(c);
  void* dw = w.d_work;
  const std::size_t dsize = w.dsize;
  enqueue_on(
      h->stream, api, g,
      [=] {
        poison(dw, dsize);
        p_syrk(u, t, ni, ki, alpha, ap, iai, jai, A.data(), beta, cp, ici, jci, C.data());
      },
      uses({a, c, dw}));
  return CUBLASMP_STATUS_SUCCESS;
}

// --- cublasMpTrsm(), cublasMpTrsm_bufferSize() ---------------------------------------------------
// op(A) X = alpha B (left) or X op(A) = alpha B (right), X overwriting B (m × n). Contract: "ia,
// ja, ib, and jb are 1-based and may be misaligned within a tile"; "The triangular dimension is m
// when side == CUBLAS_SIDE_LEFT and n when side == CUBLAS_SIDE_RIGHT".
template <class T>
cublasMpStatus_t trsm(const char* api, cublasMpHandle* h, cublasSideMode_t side,
                      cublasFillMode_t uplo, cublasOperation_t trans, cublasDiagType_t diag, i64 m,
                      i64 n, const void* alpha_p, const void* a, i64 ia, i64 ja, const Desc& da,
                      void* b, i64 ib, i64 jb, const Desc& db, cublasComputeType_t ct,
                      const BlasWork& w) {
  require(side == CUBLAS_SIDE_LEFT || side == CUBLAS_SIDE_RIGHT, api,
          "side must be CUBLAS_SIDE_LEFT or CUBLAS_SIDE_RIGHT");
  require(valid_uplo(uplo), api, "uplo must be CUBLAS_FILL_MODE_LOWER or CUBLAS_FILL_MODE_UPPER");
  require(valid_op(trans), api, "trans must be CUBLAS_OP_N, _T or _C");
  require(diag == CUBLAS_DIAG_NON_UNIT || diag == CUBLAS_DIAG_UNIT, api,
          "diag must be CUBLAS_DIAG_NON_UNIT or CUBLAS_DIAG_UNIT");
  require(m >= 0 && n >= 0, api,
          cat("m = ", m, ", n = ", n, ": \"m and n must be non-negative\" (cublasMpTrsm())"));
  require_compute<T>(ct, api);
  const bool left = side == CUBLAS_SIDE_LEFT;
  const i64 ka = left ? m : n;
  Grid* g = da.grid;
  const Span sa = operand<T>(api, "A", da, g, a, ia, ja, ka, ka, w.query);
  const Span sb = operand<T>(api, "B", db, g, b, ib, jb, m, n, w.query);
  const std::string key = cat("trsm ", left ? 'L' : 'R', uplo_char(uplo), op_char(trans),
                              diag == CUBLAS_DIAG_UNIT ? 'U' : 'N', ' ', m, ' ', n, ' ', ia, ' ',
                              ja, desc_key(da), ib, ' ', jb, desc_key(db));
  const int mi = to_int(m, api, "m"), ni = to_int(n, api, "n");
  const int iai = to_int(ia, api, "ia"), jai = to_int(ja, api, "ja");
  const int ibi = to_int(ib, api, "ib"), jbi = to_int(jb, api, "jb");
  if (w.query) {
    report(h->reported, api, key, {panel_bytes<T>(db, ibi, jbi, mi, ni), kHostWorkspace},
           w.dsize_out, w.hsize_out);
    return CUBLASMP_STATUS_SUCCESS;
  }
  const T alpha = host_scalar<T>(alpha_p, api, "alpha");
  check_workspace(h->reported, api, key, w.d_work, w.dsize, w.h_work, w.hsize, {sa, sb});
  const auto A = da.d, B = db.d;
  const char s = left ? 'L' : 'R', u = uplo_char(uplo), t = op_char(trans);
  const char dg = diag == CUBLAS_DIAG_UNIT ? 'U' : 'N';
  const auto* ap = static_cast<const T*>(a);
  auto* bp = static_cast<T*>(b);
  void* dw = w.d_work;
  const std::size_t dsize = w.dsize;
  enqueue_on(
      h->stream, api, g,
      [=] {
        poison(dw, dsize);
        p_trsm(s, u, t, dg, mi, ni, alpha, ap, iai, jai, A.data(), bp, ibi, jbi, B.data());
      },
      uses({a, b, dw}));
  return CUBLASMP_STATUS_SUCCESS;
}

// =================================================================================================
// cuSOLVERMp
// =================================================================================================
void require_solver_handle(cusolverMpHandle* h, const char* api) {
  require(solver_handles.live(h), api,
          "handle is null, was not created by cusolverMpCreate or was destroyed (cuSOLVERMp docs, "
          "cusolverMpCreate(): \"Calling any cuSOLVERMp function which uses cusolverMpHandle_t "
          "without a previous call of cusolverMpCreate() will return an error\")");
}
// The descriptor of a call: live, and on a grid created with the call's handle (the emulation's
// rule: a cuSOLVERMp grid is created for a handle, cusolverMpCreateDeviceGrid(handle, ...)).
const Desc& solver_desc(cusolverMpHandle* h, cusolverMpMatrixDescriptor* d, const char* api) {
  require(solver_descs.live(d), api,
          "descA is null, was not created by cusolverMpCreateMatrixDesc or was destroyed");
  require(d->d.grid->solver == h, api,
          "descA's grid was created with another cuSOLVERMp handle (cusolverMpCreateDeviceGrid)");
  return d->d;
}
// computeType: the emulation runs ScaLAPACK in the matrix's precision, so computeType must be the
// matrix's data type.
void require_solver_compute(const Desc& d, cudaDataType_t ct, const char* api) {
  require(ct == d.type, api,
          cat("computeType ", type_name(ct), " for a ", type_name(d.type),
              " matrix: the emulation computes in the matrix's type"));
}

struct SolverWork {
  bool query;
  std::size_t* dsize_out;
  std::size_t* hsize_out;
  void* d_work;
  std::size_t dsize;
  void* h_work;
  std::size_t hsize;
  int* info;
};

// The info word of a call: device memory ("info Device Out"), one int, clear of the workspace and
// the operands.
void check_info(const char* api, const int* info, const SolverWork& w,
                std::initializer_list<Span> operands) {
  emu::require_device(info, sizeof(int), api, "info");
  la::require_apart(w.d_work, w.dsize, info, sizeof(int), api, "d_work overlaps info");
  for (const Span& op : operands)
    la::require_apart(info, sizeof(int), op.p, op.bytes, api, "info overlaps an operand");
}

// ScaLAPACK's info into the device word: < 0 (an argument ScaLAPACK rejects, which the checks
// above should have caught) is a violation. A nonzero value already there is kept ("sticky"):
// the real cuSOLVERMp folds its info into the word it is given rather than promising to clear it
// (its kernels fold_sticky_info, check_and_update_info; NVIDIA's samples zero the word before
// every call), so a caller that does not zero it sees an earlier failure again.
void store_info(const char* api, int info, int* dst) {
  require(info >= 0, api, cat("ScaLAPACK rejected argument ", -info, " (info = ", info, ")"));
  if (*dst == 0) *dst = info;
}

// A local TAU of a reflector block of `count` columns from column ja: LOCc(ja + count - 1) on this
// rank ("TAU (local) array, dimension LOCc(JA+MIN(M,N)-1)", p?geqrf; LOCc(JA+K-1), p?orgqr), at
// least one element.
template <class T>
Span tau_span(const char* api, const Desc& d, const void* tau, int ja, int count, bool query) {
  const Grid& g = *d.grid;
  const int cols = numroc(ja + count - 1, d.nb, g.mycol, d.csrc, g.npcol);
  const std::size_t bytes = static_cast<std::size_t>(std::max(1, cols)) * sizeof(T);
  if (query) {
    if (tau != nullptr) emu::require_device(tau, 0, api, "tau");
  } else {
    emu::require_device(tau, bytes, api, "tau");
  }
  return {tau, bytes};
}

// p?geqrf's and p?orgqr's LWORK (their headers): NB_A * (Mp0 + Nq0 + NB_A), Mp0 and Nq0 this
// rank's rows and columns of sub(A) counted from the block holding its first element. Computed
// here rather than asked of ScaLAPACK (whose lwork = -1 query is itself a collective).
int qr_lwork(const Desc& d, int ia, int ja, int m, int n) {
  const Grid& g = *d.grid;
  const int mp0 =
      numroc(m + (ia - 1) % d.mb, d.mb, g.myrow, indxg2p(ia, d.mb, d.rsrc, g.nprow), g.nprow);
  const int nq0 =
      numroc(n + (ja - 1) % d.nb, d.nb, g.mycol, indxg2p(ja, d.nb, d.csrc, g.npcol), g.npcol);
  return d.nb * (mp0 + nq0 + d.nb);
}

// --- cusolverMpPotrf(), cusolverMpPotrf_bufferSize() ---------------------------------------------
// The uplo triangle of sub(A) (n × n) is replaced by its Cholesky factor; the other is not
// referenced. p?potrf requires sub(A) to start on a block boundary of square blocks ("IA-1 and
// JA-1 multiples of MB_A and NB_A, MB_A = NB_A" in its argument checks).
template <class T>
cusolverStatus_t potrf(const char* api, cusolverMpHandle* h, cublasFillMode_t uplo, i64 n, void* a,
                       i64 ia, i64 ja, const Desc& da, cudaDataType_t ct, const SolverWork& w) {
  require(valid_uplo(uplo), api, "uplo must be CUBLAS_FILL_MODE_LOWER or CUBLAS_FILL_MODE_UPPER");
  require(n >= 0, api, cat("n = ", n, " < 0"));
  require_solver_compute(da, ct, api);
  Grid* g = da.grid;
  const Span sa = operand<T>(api, "A", da, g, a, ia, ja, n, n, w.query);
  require(da.mb == da.nb && (ia - 1) % da.mb == 0 && (ja - 1) % da.nb == 0, api,
          cat("sub(A) from (", ia, ", ", ja, ") on blocks of ", da.mb, " x ", da.nb,
              ": p?potrf needs square blocks and sub(A) starting on a block boundary"));
  const int ni = to_int(n, api, "n"), iai = to_int(ia, api, "ia"), jai = to_int(ja, api, "ja");
  const std::string key = cat("potrf ", uplo_char(uplo), ' ', n, ' ', ia, ' ', ja, desc_key(da));
  if (w.query) {
    report(h->reported, api, key, {panel_bytes<T>(da, iai, jai, ni, ni), kHostWorkspace},
           w.dsize_out, w.hsize_out);
    return CUSOLVER_STATUS_SUCCESS;
  }
  check_workspace(h->reported, api, key, w.d_work, w.dsize, w.h_work, w.hsize, {sa});
  check_info(api, w.info, w, {sa});
  const auto A = da.d;
  const char u = uplo_char(uplo);
  auto* ap = static_cast<T*>(a);
  void* dw = w.d_work;
  const std::size_t dsize = w.dsize;
  int* info = w.info;
  enqueue_on(
      h->stream, api, g,
      [=] {
        poison(dw, dsize);
        store_info(api, p_potrf(u, ni, ap, iai, jai, A.data()), info);
      },
      uses({a, dw, info}));
  return CUSOLVER_STATUS_SUCCESS;
}

// --- cusolverMpGeqrf(), cusolverMpGeqrf_bufferSize() ---------------------------------------------
// sub(A) (M × N) = QR: R in its upper triangle, the reflectors below, their factors in d_tau. The
// ScaLAPACK workspace is d_work (host memory here), of the bytes the query reported at least.
template <class T>
cusolverStatus_t geqrf(const char* api, cusolverMpHandle* h, i64 m, i64 n, void* a, i64 ia, i64 ja,
                       const Desc& da, void* tau, cudaDataType_t ct, const SolverWork& w) {
  require(m >= 0 && n >= 0, api, cat("M = ", m, ", N = ", n, ": neither may be negative"));
  require_solver_compute(da, ct, api);
  Grid* g = da.grid;
  const Span sa = operand<T>(api, "A", da, g, a, ia, ja, m, n, w.query);
  const int mi = to_int(m, api, "M"), ni = to_int(n, api, "N");
  const int iai = to_int(ia, api, "IA"), jai = to_int(ja, api, "JA");
  const std::string key = cat("geqrf ", m, ' ', n, ' ', ia, ' ', ja, desc_key(da));
  if (w.query) {
    const auto lwork = static_cast<std::size_t>(qr_lwork(da, iai, jai, mi, ni));
    report(h->reported, api, key, {lwork * sizeof(T), kHostWorkspace}, w.dsize_out, w.hsize_out);
    return CUSOLVER_STATUS_SUCCESS;
  }
  const Span st = tau_span<T>(api, da, tau, jai, std::min(mi, ni), false);
  la::require_apart(a, sa.bytes, tau, st.bytes, api, "d_tau overlaps A");
  check_workspace(h->reported, api, key, w.d_work, w.dsize, w.h_work, w.hsize, {sa, st});
  check_info(api, w.info, w, {sa, st});
  const auto A = da.d;
  auto* ap = static_cast<T*>(a);
  auto* tp = static_cast<T*>(tau);
  auto* work = static_cast<T*>(w.d_work);
  const std::size_t dsize = w.dsize;
  const int lwork = static_cast<int>(std::min<std::size_t>(dsize / sizeof(T), INT_MAX));
  int* info = w.info;
  enqueue_on(
      h->stream, api, g,
      [=] {
        poison(work, dsize);
        store_info(api, p_geqrf(mi, ni, ap, iai, jai, A.data(), tp, work, lwork), info);
      },
      uses({a, tau, work, info}));
  return CUSOLVER_STATUS_SUCCESS;
}

// --- cusolverMpOrgqr(), cusolverMpOrgqr_bufferSize() ---------------------------------------------
// The first n columns of Q = H(1)...H(k) (p?geqrf's reflectors in sub(A), factors in d_tau)
// overwrite sub(A) (m × n); m >= n >= k >= 0 (p?orgqr's argument checks).
template <class T>
cusolverStatus_t orgqr(const char* api, cusolverMpHandle* h, i64 m, i64 n, i64 k, void* a, i64 ia,
                       i64 ja, const Desc& da, const void* tau, cudaDataType_t ct,
                       const SolverWork& w) {
  require(m >= n && n >= k && k >= 0, api,
          cat("m = ", m, ", n = ", n, ", k = ", k, ": p?orgqr needs m >= n >= k >= 0"));
  require_solver_compute(da, ct, api);
  Grid* g = da.grid;
  const Span sa = operand<T>(api, "A", da, g, a, ia, ja, m, n, w.query);
  const int mi = to_int(m, api, "m"), ni = to_int(n, api, "n"), ki = to_int(k, api, "k");
  const int iai = to_int(ia, api, "ia"), jai = to_int(ja, api, "ja");
  const Span st = tau_span<T>(api, da, tau, jai, ki, w.query);
  const std::string key = cat("orgqr ", m, ' ', n, ' ', k, ' ', ia, ' ', ja, desc_key(da));
  if (w.query) {
    const auto lwork = static_cast<std::size_t>(qr_lwork(da, iai, jai, mi, ni));
    report(h->reported, api, key, {lwork * sizeof(T), kHostWorkspace}, w.dsize_out, w.hsize_out);
    return CUSOLVER_STATUS_SUCCESS;
  }
  la::require_apart(a, sa.bytes, tau, st.bytes, api, "d_tau overlaps A");
  check_workspace(h->reported, api, key, w.d_work, w.dsize, w.h_work, w.hsize, {sa, st});
  check_info(api, w.info, w, {sa, st});
  const auto A = da.d;
  auto* ap = static_cast<T*>(a);
  const auto* tp = static_cast<const T*>(tau);
  auto* work = static_cast<T*>(w.d_work);
  const std::size_t dsize = w.dsize;
  const int lwork = static_cast<int>(std::min<std::size_t>(dsize / sizeof(T), INT_MAX));
  int* info = w.info;
  enqueue_on(
      h->stream, api, g,
      [=] {
        poison(work, dsize);
        store_info(api, p_orgqr(mi, ni, ki, ap, iai, jai, A.data(), tp, work, lwork), info);
      },
      uses({a, tau, work, info}));
  return CUSOLVER_STATUS_SUCCESS;
}

// The token that marks an ncclUniqueId as ncclGetUniqueId's.
constexpr char kIdMagic[] = "rnnlyap emulated ncclUniqueId";

int live_solver_handles = 0;  // cusolverMpCreate'd and not destroyed

}  // namespace

extern "C" {

// =================================================================================================
// NCCL
// =================================================================================================
// ncclGetUniqueId(): called once (on one rank), its id then handed to every rank of the
// communicator before ncclCommInitRank. The id: a marker and a value unique to this call (process
// id, time, counter).
ncclResult_t ncclGetUniqueId(ncclUniqueId* uniqueId) {
  emu::require_host(uniqueId, "ncclGetUniqueId", "uniqueId");
  static std::uint64_t counter = 0;
  const std::uint64_t token =
      (static_cast<std::uint64_t>(getpid()) << 32) ^
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
      ++counter;
  std::memset(uniqueId->internal, 0, sizeof uniqueId->internal);
  std::memcpy(uniqueId->internal, kIdMagic, sizeof kIdMagic);
  std::memcpy(uniqueId->internal + 64, &token, sizeof token);
  return ncclSuccess;
}

// ncclCommInitRank(): rank in [0, nranks), one per rank of the clique, and the call synchronises
// with the other ranks (each rank its own process here). Supported: nranks = the size of
// MPI_COMM_WORLD, rank = this process's rank in it, every rank passing the id of one
// ncclGetUniqueId call (checked with an MPI_Allgather: a rank with another id, or one not from
// ncclGetUniqueId, is a violation, where NCCL would hang or fail).
ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank) {
  const char* api = "ncclCommInitRank";
  emu::require_host(comm, api, "comm");
  require_mpi(api);
  require(std::memcmp(commId.internal, kIdMagic, sizeof kIdMagic) == 0, api,
          "commId was not produced by ncclGetUniqueId (broadcast rank 0's id to every rank, e.g. "
          "with MPI_Bcast, before ncclCommInitRank)");
  int size = 0, me = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  require(nranks == size && rank == me, api,
          cat("nranks = ", nranks, ", rank = ", rank, " in a job of ", size,
              " MPI ranks where this is rank ", me,
              ": the emulation supports one communicator over MPI_COMM_WORLD, ranks numbered as "
              "there"));
  std::vector<char> ids(static_cast<std::size_t>(size) * NCCL_UNIQUE_ID_BYTES);
  MPI_Allgather(commId.internal, NCCL_UNIQUE_ID_BYTES, MPI_CHAR, ids.data(), NCCL_UNIQUE_ID_BYTES,
                MPI_CHAR, MPI_COMM_WORLD);
  for (int r = 0; r < size; ++r)
    require(std::memcmp(ids.data() + static_cast<std::size_t>(r) * NCCL_UNIQUE_ID_BYTES,
                        commId.internal, NCCL_UNIQUE_ID_BYTES) == 0,
            api,
            cat("MPI rank ", r, " passed another commId than rank ", me,
                ": every rank of a communicator must pass the same id (NCCL docs, "
                "ncclGetUniqueId())"));
  ncclComm* c = comms.create();
  c->rank = rank;
  c->nranks = nranks;
  *comm = c;
  return ncclSuccess;
}

// ncclCommDestroy(): frees the communicator. The grids created over it must be destroyed first
// (the emulation's rule: a grid communicates through its communicator).
ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  const char* api = "ncclCommDestroy";
  require_comm(comm, api);
  require(comm->grids == 0, api,
          cat(comm->grids,
              " grid(s) over this communicator are still live: destroy them "
              "(cublasMpGridDestroy, cusolverMpDestroyGrid) before the communicator"));
  comms.destroy(comm);
  return ncclSuccess;
}

// ncclCommAbort(): frees the communicator at once, whatever still uses it ("Frees resources that
// are allocated to a communicator object comm. Will abort any uncompleted operations before
// destroying the communicator"): a rank that fails alone leaves without its collective
// teardown. The grids over it are left as they are (leaked), as a failing rank leaves them.
ncclResult_t ncclCommAbort(ncclComm_t comm) {
  require_comm(comm, "ncclCommAbort");
  comms.destroy(comm);
  return ncclSuccess;
}

const char* ncclGetErrorString(ncclResult_t result) {
  switch (result) {
    case ncclSuccess:
      return "no error";
    case ncclUnhandledCudaError:
      return "unhandled cuda error (emulated NCCL)";
    case ncclSystemError:
      return "unhandled system error (emulated NCCL)";
    case ncclInternalError:
      return "internal error (emulated NCCL)";
    case ncclInvalidArgument:
      return "invalid argument (emulated NCCL)";
    case ncclInvalidUsage:
      return "invalid usage (emulated NCCL)";
    case ncclRemoteError:
      return "remote process exited or there was a network error (emulated NCCL)";
    case ncclInProgress:
      return "NCCL operation in progress (emulated NCCL)";
    default:
      return "unknown result code (emulated NCCL)";
  }
}

// =================================================================================================
// cuBLASMp
// =================================================================================================
// cublasMpCreate(): "The cuBLASMp library context is tied to the current CUDA device and the given
// CUDA stream" (its work is queued there).
cublasMpStatus_t cublasMpCreate(cublasMpHandle_t* handle, cudaStream_t stream) {
  emu::require_host(handle, "cublasMpCreate", "handle");
  cublasMpHandle* h = blas_handles.create();
  h->stream = stream;
  *handle = h;
  return CUBLASMP_STATUS_SUCCESS;
}

cublasMpStatus_t cublasMpDestroy(cublasMpHandle_t handle) {
  require_blas_handle(handle, "cublasMpDestroy");
  blas_handles.destroy(handle);
  return CUBLASMP_STATUS_SUCCESS;
}

cublasMpStatus_t cublasMpGridCreate(int64_t nprow, int64_t npcol, cublasMpGridLayout_t layout,
                                    ncclComm_t comm, cublasMpGrid_t* grid) {
  const char* api = "cublasMpGridCreate";
  emu::require_host(grid, api, "grid");
  require(layout == CUBLASMP_GRID_LAYOUT_ROW_MAJOR || layout == CUBLASMP_GRID_LAYOUT_COL_MAJOR, api,
          "layout must be CUBLASMP_GRID_LAYOUT_ROW_MAJOR or CUBLASMP_GRID_LAYOUT_COL_MAJOR");
  cublasMpGrid* g = blas_grids.create();
  make_grid(g->g, api, comm, nprow, npcol, layout == CUBLASMP_GRID_LAYOUT_ROW_MAJOR);
  *grid = g;
  return CUBLASMP_STATUS_SUCCESS;
}

cublasMpStatus_t cublasMpGridDestroy(cublasMpGrid_t grid) {
  const char* api = "cublasMpGridDestroy";
  require(blas_grids.live(grid), api,
          "grid is null, was not created by cublasMpGridCreate or was destroyed");
  end_grid(grid->g, api);
  blas_grids.destroy(grid);
  return CUBLASMP_STATUS_SUCCESS;
}

cublasMpStatus_t cublasMpMatrixDescriptorCreate(int64_t m, int64_t n, int64_t mb, int64_t nb,
                                                int64_t rsrc, int64_t csrc, int64_t lld,
                                                cudaDataType_t type, cublasMpGrid_t grid,
                                                cublasMpMatrixDescriptor_t* desc) {
  const char* api = "cublasMpMatrixDescriptorCreate";
  emu::require_host(desc, api, "desc");
  require(blas_grids.live(grid), api,
          "grid is null, was not created by cublasMpGridCreate or was destroyed (a null grid, "
          "for the redistribution routines, is not emulated)");
  cublasMpMatrixDescriptor* d = blas_descs.create();
  make_desc(d->d, api, &grid->g, type, m, n, mb, nb, rsrc, csrc, lld);
  *desc = d;
  return CUBLASMP_STATUS_SUCCESS;
}

cublasMpStatus_t cublasMpMatrixDescriptorDestroy(cublasMpMatrixDescriptor_t desc) {
  const char* api = "cublasMpMatrixDescriptorDestroy";
  require(blas_descs.live(desc), api,
          "desc is null, was not created by cublasMpMatrixDescriptorCreate or was destroyed");
  --desc->d.grid->descriptors;
  blas_descs.destroy(desc);
  return CUBLASMP_STATUS_SUCCESS;
}

}  // extern "C"

namespace {

// The entry points of one routine, its query and its call, dispatched on the precision of descA.
cublasMpStatus_t gemm_entry(const char* api, cublasMpHandle_t handle, cublasOperation_t transA,
                            cublasOperation_t transB, int64_t m, int64_t n, int64_t k,
                            const void* alpha, const void* a, int64_t ia, int64_t ja,
                            cublasMpMatrixDescriptor_t descA, const void* b, int64_t ib, int64_t jb,
                            cublasMpMatrixDescriptor_t descB, const void* beta, void* c, int64_t ic,
                            int64_t jc, cublasMpMatrixDescriptor_t descC,
                            cublasComputeType_t computeType, const BlasWork& w) {
  require_blas_handle(handle, api);
  const Desc& da = blas_desc(descA, api, "A");
  const Desc& db = blas_desc(descB, api, "B");
  const Desc& dc = blas_desc(descC, api, "C");
  return da.type == CUDA_R_64F
             ? gemm<double>(api, handle, transA, transB, m, n, k, alpha, a, ia, ja, da, b, ib, jb,
                            db, beta, c, ic, jc, dc, computeType, w)
             : gemm<float>(api, handle, transA, transB, m, n, k, alpha, a, ia, ja, da, b, ib, jb,
                           db, beta, c, ic, jc, dc, computeType, w);
}

cublasMpStatus_t syrk_entry(const char* api, cublasMpHandle_t handle, cublasFillMode_t uplo,
                            cublasOperation_t trans, int64_t n, int64_t k, const void* alpha,
                            const void* a, int64_t ia, int64_t ja, cublasMpMatrixDescriptor_t descA,
                            const void* beta, void* c, int64_t ic, int64_t jc,
                            cublasMpMatrixDescriptor_t descC, cublasComputeType_t computeType,
                            const BlasWork& w) {
  require_blas_handle(handle, api);
  const Desc& da = blas_desc(descA, api, "A");
  const Desc& dc = blas_desc(descC, api, "C");
  return da.type == CUDA_R_64F ? syrk<double>(api, handle, uplo, trans, n, k, alpha, a, ia, ja, da,
                                              beta, c, ic, jc, dc, computeType, w)
                               : syrk<float>(api, handle, uplo, trans, n, k, alpha, a, ia, ja, da,
                                             beta, c, ic, jc, dc, computeType, w);
}

cublasMpStatus_t trsm_entry(const char* api, cublasMpHandle_t handle, cublasSideMode_t side,
                            cublasFillMode_t uplo, cublasOperation_t trans, cublasDiagType_t diag,
                            int64_t m, int64_t n, const void* alpha, const void* a, int64_t ia,
                            int64_t ja, cublasMpMatrixDescriptor_t descA, void* b, int64_t ib,
                            int64_t jb, cublasMpMatrixDescriptor_t descB,
                            cublasComputeType_t computeType, const BlasWork& w) {
  require_blas_handle(handle, api);
  const Desc& da = blas_desc(descA, api, "A");
  const Desc& db = blas_desc(descB, api, "B");
  return da.type == CUDA_R_64F ? trsm<double>(api, handle, side, uplo, trans, diag, m, n, alpha, a,
                                              ia, ja, da, b, ib, jb, db, computeType, w)
                               : trsm<float>(api, handle, side, uplo, trans, diag, m, n, alpha, a,
                                             ia, ja, da, b, ib, jb, db, computeType, w);
}

BlasWork blas_query(std::size_t* device, std::size_t* host) {
  return {true, device, host, nullptr, 0, nullptr, 0};
}
BlasWork blas_call(void* d_work, std::size_t dsize, void* h_work, std::size_t hsize) {
  return {false, nullptr, nullptr, d_work, dsize, h_work, hsize};
}

}  // namespace

extern "C" {

cublasMpStatus_t cublasMpGemm_bufferSize(
    cublasMpHandle_t handle, cublasOperation_t transA, cublasOperation_t transB, int64_t m,
    int64_t n, int64_t k, const void* alpha, const void* a, int64_t ia, int64_t ja,
    cublasMpMatrixDescriptor_t descA, const void* b, int64_t ib, int64_t jb,
    cublasMpMatrixDescriptor_t descB, const void* beta, void* c, int64_t ic, int64_t jc,
    cublasMpMatrixDescriptor_t descC, cublasComputeType_t computeType,
    size_t* workspaceSizeInBytesOnDevice, size_t* workspaceSizeInBytesOnHost) {
  return gemm_entry("cublasMpGemm_bufferSize", handle, transA, transB, m, n, k, alpha, a, ia, ja,
                    descA, b, ib, jb, descB, beta, c, ic, jc, descC, computeType,
                    blas_query(workspaceSizeInBytesOnDevice, workspaceSizeInBytesOnHost));
}

cublasMpStatus_t cublasMpGemm(cublasMpHandle_t handle, cublasOperation_t transA,
                              cublasOperation_t transB, int64_t m, int64_t n, int64_t k,
                              const void* alpha, const void* a, int64_t ia, int64_t ja,
                              cublasMpMatrixDescriptor_t descA, const void* b, int64_t ib,
                              int64_t jb, cublasMpMatrixDescriptor_t descB, const void* beta,
                              void* c, int64_t ic, int64_t jc, cublasMpMatrixDescriptor_t descC,
                              cublasComputeType_t computeType, void* d_work,
                              size_t workspaceSizeInBytesOnDevice, void* h_work,
                              size_t workspaceSizeInBytesOnHost) {
  return gemm_entry(
      "cublasMpGemm", handle, transA, transB, m, n, k, alpha, a, ia, ja, descA, b, ib, jb, descB,
      beta, c, ic, jc, descC, computeType,
      blas_call(d_work, workspaceSizeInBytesOnDevice, h_work, workspaceSizeInBytesOnHost));
}

cublasMpStatus_t cublasMpSyrk_bufferSize(
    cublasMpHandle_t handle, cublasFillMode_t uplo, cublasOperation_t trans, int64_t n, int64_t k,
    const void* alpha, const void* a, int64_t ia, int64_t ja, cublasMpMatrixDescriptor_t descA,
    const void* beta, void* c, int64_t ic, int64_t jc, cublasMpMatrixDescriptor_t descC,
    cublasComputeType_t computeType, size_t* workspaceSizeInBytesOnDevice,
    size_t* workspaceSizeInBytesOnHost) {
  return syrk_entry("cublasMpSyrk_bufferSize", handle, uplo, trans, n, k, alpha, a, ia, ja, descA,
                    beta, c, ic, jc, descC, computeType,
                    blas_query(workspaceSizeInBytesOnDevice, workspaceSizeInBytesOnHost));
}

cublasMpStatus_t cublasMpSyrk(cublasMpHandle_t handle, cublasFillMode_t uplo,
                              cublasOperation_t trans, int64_t n, int64_t k, const void* alpha,
                              const void* a, int64_t ia, int64_t ja,
                              cublasMpMatrixDescriptor_t descA, const void* beta, void* c,
                              int64_t ic, int64_t jc, cublasMpMatrixDescriptor_t descC,
                              cublasComputeType_t computeType, void* d_work,
                              size_t workspaceSizeInBytesOnDevice, void* h_work,
                              size_t workspaceSizeInBytesOnHost) {
  return syrk_entry(
      "cublasMpSyrk", handle, uplo, trans, n, k, alpha, a, ia, ja, descA, beta, c, ic, jc, descC,
      computeType,
      blas_call(d_work, workspaceSizeInBytesOnDevice, h_work, workspaceSizeInBytesOnHost));
}

cublasMpStatus_t cublasMpTrsm_bufferSize(
    cublasMpHandle_t handle, cublasSideMode_t side, cublasFillMode_t uplo, cublasOperation_t trans,
    cublasDiagType_t diag, int64_t m, int64_t n, const void* alpha, const void* a, int64_t ia,
    int64_t ja, cublasMpMatrixDescriptor_t descA, void* b, int64_t ib, int64_t jb,
    cublasMpMatrixDescriptor_t descB, cublasComputeType_t computeType,
    size_t* workspaceSizeInBytesOnDevice, size_t* workspaceSizeInBytesOnHost) {
  return trsm_entry("cublasMpTrsm_bufferSize", handle, side, uplo, trans, diag, m, n, alpha, a, ia,
                    ja, descA, b, ib, jb, descB, computeType,
                    blas_query(workspaceSizeInBytesOnDevice, workspaceSizeInBytesOnHost));
}

cublasMpStatus_t cublasMpTrsm(cublasMpHandle_t handle, cublasSideMode_t side, cublasFillMode_t uplo,
                              cublasOperation_t trans, cublasDiagType_t diag, int64_t m, int64_t n,
                              const void* alpha, const void* a, int64_t ia, int64_t ja,
                              cublasMpMatrixDescriptor_t descA, void* b, int64_t ib, int64_t jb,
                              cublasMpMatrixDescriptor_t descB, cublasComputeType_t computeType,
                              void* d_work, size_t workspaceSizeInBytesOnDevice, void* h_work,
                              size_t workspaceSizeInBytesOnHost) {
  return trsm_entry(
      "cublasMpTrsm", handle, side, uplo, trans, diag, m, n, alpha, a, ia, ja, descA, b, ib, jb,
      descB, computeType,
      blas_call(d_work, workspaceSizeInBytesOnDevice, h_work, workspaceSizeInBytesOnHost));
}

// =================================================================================================
// cuSOLVERMp
// =================================================================================================
// cusolverMpCreate(): "The cuSOLVERMp library context is tied to the CUDA device provided by
// device and the CUDA stream stream"; "Only one handle per process and per GPU supported" (a
// second live handle is a violation); the emulated device is device 0.
cusolverStatus_t cusolverMpCreate(cusolverMpHandle_t* handle, int deviceId, cudaStream_t stream) {
  const char* api = "cusolverMpCreate";
  emu::require_host(handle, api, "handle");
  require(deviceId == 0, api,
          cat("deviceId = ", deviceId, ": the emulated machine has one device, 0"));
  require(live_solver_handles == 0, api,
          "a cuSOLVERMp handle is already live in this process (cuSOLVERMp docs, "
          "cusolverMpCreate(): \"Only one handle per process and per GPU supported\")");
  cusolverMpHandle* h = solver_handles.create();
  h->stream = stream;
  ++live_solver_handles;
  *handle = h;
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverMpDestroy(cusolverMpHandle_t handle) {
  require_solver_handle(handle, "cusolverMpDestroy");
  solver_handles.destroy(handle);
  --live_solver_handles;
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverMpCreateDeviceGrid(cusolverMpHandle_t handle, cusolverMpGrid_t* grid,
                                            const ncclComm_t comm, int32_t numRowDevices,
                                            int32_t numColDevices,
                                            const cusolverMpGridMapping_t mapping) {
  const char* api = "cusolverMpCreateDeviceGrid";
  require_solver_handle(handle, api);
  emu::require_host(grid, api, "grid");
  require(
      mapping == CUSOLVERMP_GRID_MAPPING_ROW_MAJOR || mapping == CUSOLVERMP_GRID_MAPPING_COL_MAJOR,
      api, "mapping must be CUSOLVERMP_GRID_MAPPING_ROW_MAJOR or _COL_MAJOR");
  cusolverMpGrid* g = solver_grids.create();
  make_grid(g->g, api, comm, numRowDevices, numColDevices,
            mapping == CUSOLVERMP_GRID_MAPPING_ROW_MAJOR);
  g->g.solver = handle;
  *grid = g;
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverMpDestroyGrid(cusolverMpGrid_t grid) {
  const char* api = "cusolverMpDestroyGrid";
  require(solver_grids.live(grid), api,
          "grid is null, was not created by cusolverMpCreateDeviceGrid or was destroyed");
  end_grid(grid->g, api);
  solver_grids.destroy(grid);
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverMpCreateMatrixDesc(cusolverMpMatrixDescriptor_t* desc,
                                            cusolverMpGrid_t grid, cudaDataType dataType,
                                            int64_t M_A, int64_t N_A, int64_t MB_A, int64_t NB_A,
                                            uint32_t RSRC_A, uint32_t CSRC_A, int64_t LLD_A) {
  const char* api = "cusolverMpCreateMatrixDesc";
  emu::require_host(desc, api, "desc");
  require(solver_grids.live(grid), api,
          "grid is null, was not created by cusolverMpCreateDeviceGrid or was destroyed");
  cusolverMpMatrixDescriptor* d = solver_descs.create();
  make_desc(d->d, api, &grid->g, dataType, M_A, N_A, MB_A, NB_A, RSRC_A, CSRC_A, LLD_A);
  *desc = d;
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverMpDestroyMatrixDesc(cusolverMpMatrixDescriptor_t desc) {
  const char* api = "cusolverMpDestroyMatrixDesc";
  require(solver_descs.live(desc), api,
          "desc is null, was not created by cusolverMpCreateMatrixDesc or was destroyed");
  --desc->d.grid->descriptors;
  solver_descs.destroy(desc);
  return CUSOLVER_STATUS_SUCCESS;
}

}  // extern "C"

namespace {

SolverWork solver_query(std::size_t* device, std::size_t* host) {
  return {true, device, host, nullptr, 0, nullptr, 0, nullptr};
}
SolverWork solver_call(void* d_work, std::size_t dsize, void* h_work, std::size_t hsize,
                       int* info) {
  return {false, nullptr, nullptr, d_work, dsize, h_work, hsize, info};
}

cusolverStatus_t potrf_entry(const char* api, cusolverMpHandle_t handle, cublasFillMode_t uplo,
                             int64_t n, void* a, int64_t ia, int64_t ja,
                             cusolverMpMatrixDescriptor_t descA, cudaDataType_t computeType,
                             const SolverWork& w) {
  require_solver_handle(handle, api);
  const Desc& da = solver_desc(handle, descA, api);
  return da.type == CUDA_R_64F ? potrf<double>(api, handle, uplo, n, a, ia, ja, da, computeType, w)
                               : potrf<float>(api, handle, uplo, n, a, ia, ja, da, computeType, w);
}

cusolverStatus_t geqrf_entry(const char* api, cusolverMpHandle_t handle, int64_t m, int64_t n,
                             void* a, int64_t ia, int64_t ja, cusolverMpMatrixDescriptor_t descA,
                             void* tau, cudaDataType_t computeType, const SolverWork& w) {
  require_solver_handle(handle, api);
  const Desc& da = solver_desc(handle, descA, api);
  return da.type == CUDA_R_64F
             ? geqrf<double>(api, handle, m, n, a, ia, ja, da, tau, computeType, w)
             : geqrf<float>(api, handle, m, n, a, ia, ja, da, tau, computeType, w);
}

cusolverStatus_t orgqr_entry(const char* api, cusolverMpHandle_t handle, int64_t m, int64_t n,
                             int64_t k, void* a, int64_t ia, int64_t ja,
                             cusolverMpMatrixDescriptor_t descA, const void* tau,
                             cudaDataType_t computeType, const SolverWork& w) {
  require_solver_handle(handle, api);
  const Desc& da = solver_desc(handle, descA, api);
  return da.type == CUDA_R_64F
             ? orgqr<double>(api, handle, m, n, k, a, ia, ja, da, tau, computeType, w)
             : orgqr<float>(api, handle, m, n, k, a, ia, ja, da, tau, computeType, w);
}

}  // namespace

extern "C" {

cusolverStatus_t cusolverMpPotrf_bufferSize(cusolverMpHandle_t handle, cublasFillMode_t uplo,
                                            int64_t n, const void* a, int64_t ia, int64_t ja,
                                            cusolverMpMatrixDescriptor_t descA,
                                            cudaDataType_t computeType,
                                            size_t* workspaceInBytesOnDevice,
                                            size_t* workspaceInBytesOnHost) {
  return potrf_entry("cusolverMpPotrf_bufferSize", handle, uplo, n, const_cast<void*>(a), ia, ja,
                     descA, computeType,
                     solver_query(workspaceInBytesOnDevice, workspaceInBytesOnHost));
}

cusolverStatus_t cusolverMpPotrf(cusolverMpHandle_t handle, cublasFillMode_t uplo, int64_t n,
                                 void* a, int64_t ia, int64_t ja,
                                 cusolverMpMatrixDescriptor_t descA, cudaDataType_t computeType,
                                 void* d_work, size_t workspaceInBytesOnDevice, void* h_work,
                                 size_t workspaceInBytesOnHost, int* info) {
  return potrf_entry(
      "cusolverMpPotrf", handle, uplo, n, a, ia, ja, descA, computeType,
      solver_call(d_work, workspaceInBytesOnDevice, h_work, workspaceInBytesOnHost, info));
}

cusolverStatus_t cusolverMpGeqrf_bufferSize(cusolverMpHandle_t handle, int64_t M, int64_t N,
                                            void* d_A, int64_t IA, int64_t JA,
                                            cusolverMpMatrixDescriptor_t descA,
                                            cudaDataType_t computeType,
                                            size_t* workspaceInBytesOnDevice,
                                            size_t* workspaceInBytesOnHost) {
  return geqrf_entry("cusolverMpGeqrf_bufferSize", handle, M, N, d_A, IA, JA, descA, nullptr,
                     computeType, solver_query(workspaceInBytesOnDevice, workspaceInBytesOnHost));
}

cusolverStatus_t cusolverMpGeqrf(cusolverMpHandle_t handle, int64_t M, int64_t N, void* d_A,
                                 int64_t IA, int64_t JA, cusolverMpMatrixDescriptor_t descA,
                                 void* d_tau, cudaDataType_t computeType, void* d_work,
                                 size_t workspaceInBytesOnDevice, void* h_work,
                                 size_t workspaceInBytesOnHost, int* info) {
  return geqrf_entry(
      "cusolverMpGeqrf", handle, M, N, d_A, IA, JA, descA, d_tau, computeType,
      solver_call(d_work, workspaceInBytesOnDevice, h_work, workspaceInBytesOnHost, info));
}

cusolverStatus_t cusolverMpOrgqr_bufferSize(cusolverMpHandle_t handle, int64_t m, int64_t n,
                                            int64_t k, const void* d_A, int64_t ia, int64_t ja,
                                            cusolverMpMatrixDescriptor_t descA, const void* d_tau,
                                            cudaDataType_t computeType,
                                            size_t* workspaceInBytesOnDevice,
                                            size_t* workspaceInBytesOnHost) {
  return orgqr_entry("cusolverMpOrgqr_bufferSize", handle, m, n, k, const_cast<void*>(d_A), ia, ja,
                     descA, d_tau, computeType,
                     solver_query(workspaceInBytesOnDevice, workspaceInBytesOnHost));
}

cusolverStatus_t cusolverMpOrgqr(cusolverMpHandle_t handle, int64_t m, int64_t n, int64_t k,
                                 void* d_A, int64_t ia, int64_t ja,
                                 cusolverMpMatrixDescriptor_t descA, const void* d_tau,
                                 cudaDataType_t computeType, void* d_work,
                                 size_t workspaceInBytesOnDevice, void* h_work,
                                 size_t workspaceInBytesOnHost, int* d_info) {
  return orgqr_entry(
      "cusolverMpOrgqr", handle, m, n, k, d_A, ia, ja, descA, d_tau, computeType,
      solver_call(d_work, workspaceInBytesOnDevice, h_work, workspaceInBytesOnHost, d_info));
}

}  // extern "C"
