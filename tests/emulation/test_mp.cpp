// The emulated cuBLASMp, cuSOLVERMp and NCCL (mp.cpp) against host BLAS/LAPACK, as one MPI program
// (tests/emulation/CMakeLists.txt runs it on 4 ranks): on every grid the ranks make (1 x 4, 2 x 2
// in both layouts, 4 x 1), in double and single precision, matrices whose sizes the blocks do not
// divide are set block by block from a global matrix every rank draws alike, run through gemm,
// syrk, trsm, potrf, geqrf and orgqr, gathered and compared with the host's answer on the whole
// matrix. Also: the work runs only when the stream is synchronised, potrf of a matrix that is not
// positive definite reports info > 0 in device memory (and keeps a nonzero value already there),
// padding rows of a local array (lld above the local rows) are left alone, and p?geqrf's and
// p?orgqr's workspaces are what ScaLAPACK asks.
//
// `--violate WHAT` instead makes one mistake the emulator must refuse (a report and an abort; the
// ctest entries emulation.mp_refuses_* look for the report): small_workspace, host_matrix,
// foreign_grid (1 rank) and unshared_id (2 ranks).
#include <cublasmp.h>
#include <cuda_runtime_api.h>
#include <cusolverMp.h>
#include <mpi.h>
#include <nccl.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "distributed/scalapack.hpp"
#include "lapack_decls.hpp"

namespace {

namespace la = rnnlyap::emu::la;

int g_rank = 0, g_size = 1, g_failures = 0;

void fail(const std::string& what) {
  ++g_failures;
  std::fprintf(stderr, "rank %d: FAILED: %s\n", g_rank, what.c_str());
}
void expect(bool ok, const std::string& what) {
  if (!ok) fail(what);
}
template <class S>
void ok(S status, S success, const char* call) {
  if (status != success) fail(std::string(call) + " returned " + std::to_string(int(status)));
}
void cuda(cudaError_t e, const char* call) {
  ok(e, cudaSuccess, call);
}

// --- The block-cyclic layout, computed here independently of ScaLAPACK --------------------------
struct Shape {
  int nprow, npcol;
  bool row_major;
  int myrow, mycol;
  std::string name() const {
    return std::to_string(nprow) + "x" + std::to_string(npcol) + (row_major ? " row" : " col");
  }
};
Shape shape(int nprow, int npcol, bool row_major) {
  Shape s{nprow, npcol, row_major, 0, 0};
  s.myrow = row_major ? g_rank / npcol : g_rank % nprow;
  s.mycol = row_major ? g_rank % npcol : g_rank / nprow;
  return s;
}
// Which grid row (column) holds global row (column) g, 0-based; its local index there.
int owner(int g, int nb, int src, int procs) {
  return (g / nb + src) % procs;
}
int local_index(int g, int nb, int procs) {
  return (g / (nb * procs)) * nb + g % nb;
}
int local_count(int n, int nb, int p, int src, int procs) {
  int c = 0;
  for (int g = 0; g < n; ++g) c += owner(g, nb, src, procs) == p;
  return c;
}

template <class T>
MPI_Datatype mpi_type() {
  return sizeof(T) == sizeof(double) ? MPI_DOUBLE : MPI_FLOAT;
}
template <class T>
cudaDataType_t cuda_type() {
  return sizeof(T) == sizeof(double) ? CUDA_R_64F : CUDA_R_32F;
}
template <class T>
cublasComputeType_t compute_type() {
  return sizeof(T) == sizeof(double) ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F;
}
template <class T>
const char* precision() {
  return sizeof(T) == sizeof(double) ? "fp64" : "fp32";
}

/// The libraries' objects of one grid.
struct Lib {
  Shape s;
  cudaStream_t stream;
  cublasMpHandle_t bh;
  cusolverMpHandle_t sh;
  cublasMpGrid_t bg;
  cusolverMpGrid_t sg;
};

// A global column-major matrix (doubles; a matrix of T holds values of T).
using Global = std::vector<double>;

template <class T>
Global random_matrix(int m, int n, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  Global a(static_cast<std::size_t>(m) * n);
  for (double& x : a) x = static_cast<double>(static_cast<T>(u(gen)));
  return a;
}

/// A distributed matrix: this rank's local array in device memory (lld = local rows + pad) and its
/// descriptors for both libraries.
template <class T>
struct Dist {
  static constexpr T kPad = T(777);  // the padding rows' value, which no call may change
  const Lib* lib;
  int m, n, mb, nb, rsrc, csrc, lr, lc, lld;
  T* d = nullptr;
  cublasMpMatrixDescriptor_t bd = nullptr;
  cusolverMpMatrixDescriptor_t sd = nullptr;

  Dist(const Lib& l, int m_, int n_, int mb_, int nb_, int pad = 0, int rsrc_ = 0, int csrc_ = 0)
      : lib(&l), m(m_), n(n_), mb(mb_), nb(nb_), rsrc(rsrc_), csrc(csrc_) {
    lr = local_count(m, mb, l.s.myrow, rsrc, l.s.nprow);
    lc = local_count(n, nb, l.s.mycol, csrc, l.s.npcol);
    lld = std::max(1, lr) + pad;
    cuda(cudaMalloc(reinterpret_cast<void**>(&d), bytes()), "cudaMalloc");
    ok(cublasMpMatrixDescriptorCreate(m, n, mb, nb, rsrc, csrc, lld, cuda_type<T>(), l.bg, &bd),
       CUBLASMP_STATUS_SUCCESS, "cublasMpMatrixDescriptorCreate");
    ok(cusolverMpCreateMatrixDesc(&sd, l.sg, cuda_type<T>(), m, n, mb, nb,
                                  static_cast<uint32_t>(rsrc), static_cast<uint32_t>(csrc), lld),
       CUSOLVER_STATUS_SUCCESS, "cusolverMpCreateMatrixDesc");
  }
  ~Dist() {
    cublasMpMatrixDescriptorDestroy(bd);
    cusolverMpDestroyMatrixDesc(sd);
    cudaFree(d);
  }
  Dist(const Dist&) = delete;
  Dist& operator=(const Dist&) = delete;

  std::size_t elements() const {
    return std::max<std::size_t>(1, static_cast<std::size_t>(lld) * static_cast<std::size_t>(lc));
  }
  std::size_t bytes() const { return elements() * sizeof(T); }

  /// Sets this rank's blocks from the global matrix (every rank holds all of it).
  void set(const Global& a) {
    std::vector<T> local(elements(), kPad);
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i)
        if (owner(i, mb, rsrc, lib->s.nprow) == lib->s.myrow &&
            owner(j, nb, csrc, lib->s.npcol) == lib->s.mycol)
          local[static_cast<std::size_t>(local_index(j, nb, lib->s.npcol)) * lld +
                local_index(i, mb, lib->s.nprow)] =
              static_cast<T>(a[static_cast<std::size_t>(j) * m + i]);
    cuda(cudaMemcpy(d, local.data(), bytes(), cudaMemcpyHostToDevice), "cudaMemcpy H2D");
  }
  /// The global matrix, gathered on every rank (a blocking copy on the legacy default stream,
  /// which does not wait for the libraries' non-blocking stream).
  Global get(const std::string& what) const {
    std::vector<T> local(elements());
    cuda(cudaMemcpy(local.data(), d, bytes(), cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
    std::vector<T> mine(static_cast<std::size_t>(m) * n, T(0)), all(mine.size());
    for (int jl = 0; jl < lc; ++jl) {
      for (int il = 0; il < lld; ++il) {
        const T v = local[static_cast<std::size_t>(jl) * lld + il];
        if (il >= lr) {
          if (v != kPad) {
            fail(what + ": a padding row of the local array (lld > local rows) was written");
            return Global(mine.size(), 0.0);
          }
          continue;
        }
        const int gi =
            ((il / mb) * lib->s.nprow + (lib->s.myrow - rsrc + lib->s.nprow) % lib->s.nprow) * mb +
            il % mb;
        const int gj =
            ((jl / nb) * lib->s.npcol + (lib->s.mycol - csrc + lib->s.npcol) % lib->s.npcol) * nb +
            jl % nb;
        mine[static_cast<std::size_t>(gj) * m + gi] = v;
      }
    }
    MPI_Allreduce(mine.data(), all.data(), static_cast<int>(all.size()), mpi_type<T>(), MPI_SUM,
                  MPI_COMM_WORLD);
    return Global(all.begin(), all.end());
  }
};

/// Workspaces of the sizes a query returned (device memory, host memory).
struct Work {
  void* d = nullptr;
  std::size_t dsize = 0, hsize = 0;
  std::vector<unsigned char> h;
  void alloc() {
    if (dsize > 0) cuda(cudaMalloc(&d, dsize), "cudaMalloc(d_work)");
    h.resize(hsize);
  }
  void* host() { return hsize > 0 ? h.data() : nullptr; }
  ~Work() {
    if (d != nullptr) cudaFree(d);
  }
};

// The tolerance of a result of T against the host's (computed in double), relative to its largest
// entry: about 10 units of the precision's rounding per term of the sums (the errors seen are near
// one unit in all: a wrong entry, a wrong precision or a lost update is far above it).
template <class T>
double tolerance(int size) {
  return (sizeof(T) == sizeof(double) ? 2e-15 : 1e-6) * size;
}

/// Compares got with want over the entries `in(i, j)` selects (all by default); the others must
/// equal `old` (when given).
void compare(const std::string& what, const Global& got, const Global& want, int m, int n,
             double tol, const std::function<bool(int, int)>& in = nullptr,
             const Global* old = nullptr) {
  double scale = 1, worst = 0;
  for (double x : want) scale = std::max(scale, std::fabs(x));
  int wi = -1, wj = -1;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      const std::size_t k = static_cast<std::size_t>(j) * m + i;
      if (in && !in(i, j)) {
        if (old != nullptr && got[k] != (*old)[k]) {
          fail(what + ": entry (" + std::to_string(i) + ", " + std::to_string(j) +
               ") outside the result changed");
          return;
        }
        continue;
      }
      const double e = std::fabs(got[k] - want[k]) / scale;
      if (!(e <= worst)) {
        worst = e;
        wi = i;
        wj = j;
      }
    }
  if (!(worst <= tol)) {
    char line[160];
    std::snprintf(line, sizeof line, ": relative error %.3g at (%d, %d) exceeds %.3g", worst, wi,
                  wj, tol);
    fail(what + line);
  }
}

// --- cuBLASMp ------------------------------------------------------------------------------------
template <class T>
void test_gemm(const Lib& l) {
  const std::string tag = std::string(precision<T>()) + " " + l.s.name() + " gemm";
  const int m = 37, n = 23, k = 29;
  const T alpha = T(1.5), beta = T(-0.5), one = T(1), zero = T(0);
  const Global a = random_matrix<T>(m, k, 1), b = random_matrix<T>(k, n, 2),
               c = random_matrix<T>(m, n, 3), d0 = random_matrix<T>(k, n, 4);
  // Blocks: A 3 x 4, B 4 x 5, C 3 x 5 (N,N: nbA == mbB, mbA == mbC, nbB == nbC); D = Aᵀ C on
  // 4 x 5 (T,N: mbA == mbC's 3, nbA == mbD, nbC == nbD). C's local array has 2 padding rows.
  Dist<T> da(l, m, k, 3, 4), db(l, k, n, 4, 5), dc(l, m, n, 3, 5, 2), dd(l, k, n, 4, 5, 1);
  da.set(a);
  db.set(b);
  dc.set(c);
  dd.set(d0);

  Work w;
  ok(cublasMpGemm_bufferSize(l.bh, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, da.d, 1, 1, da.bd,
                             db.d, 1, 1, db.bd, &beta, dc.d, 1, 1, dc.bd, compute_type<T>(),
                             &w.dsize, &w.hsize),
     CUBLASMP_STATUS_SUCCESS, "cublasMpGemm_bufferSize");
  w.alloc();
  ok(cublasMpGemm(l.bh, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, da.d, 1, 1, da.bd, db.d, 1, 1,
                  db.bd, &beta, dc.d, 1, 1, dc.bd, compute_type<T>(), w.d, w.dsize, w.host(),
                  w.hsize),
     CUBLASMP_STATUS_SUCCESS, "cublasMpGemm");
  // Queued, not run: C reads as it was until the stream is synchronised.
  compare(tag + " (before synchronising: unchanged)", dc.get(tag), c, m, n, 0);
  cuda(cudaStreamSynchronize(l.stream), "cudaStreamSynchronize");
  Global want = c;
  la::gemm('N', 'N', m, n, k, double(alpha), a.data(), m, b.data(), k, double(beta), want.data(),
           m);
  const Global cn = dc.get(tag);
  compare(tag + " N,N", cn, want, m, n, tolerance<T>(k));

  Work w2;
  ok(cublasMpGemm_bufferSize(l.bh, CUBLAS_OP_T, CUBLAS_OP_N, k, n, m, &one, da.d, 1, 1, da.bd, dc.d,
                             1, 1, dc.bd, &zero, dd.d, 1, 1, dd.bd, compute_type<T>(), &w2.dsize,
                             &w2.hsize),
     CUBLASMP_STATUS_SUCCESS, "cublasMpGemm_bufferSize");
  w2.alloc();
  ok(cublasMpGemm(l.bh, CUBLAS_OP_T, CUBLAS_OP_N, k, n, m, &one, da.d, 1, 1, da.bd, dc.d, 1, 1,
                  dc.bd, &zero, dd.d, 1, 1, dd.bd, compute_type<T>(), w2.d, w2.dsize, w2.host(),
                  w2.hsize),
     CUBLASMP_STATUS_SUCCESS, "cublasMpGemm");
  cuda(cudaStreamSynchronize(l.stream), "cudaStreamSynchronize");
  Global want2(static_cast<std::size_t>(k) * n, 0.0);
  la::gemm('T', 'N', k, n, m, 1.0, a.data(), m, cn.data(), m, 0.0, want2.data(), k);
  compare(tag + " T,N", dd.get(tag), want2, k, n, tolerance<T>(m));
}

template <class T>
void test_syrk(const Lib& l) {
  const std::string tag = std::string(precision<T>()) + " " + l.s.name() + " syrk";
  const int n = 23, k = 37;
  const T alpha = T(0.75), beta = T(0.5);
  for (const bool upper_t : {true, false}) {
    // U,T: C = alpha AᵀA + beta C with A k x n; L,N: C = alpha AAᵀ + beta C with A n x k.
    const int ar = upper_t ? k : n, ac = upper_t ? n : k;
    const Global a = random_matrix<T>(ar, ac, 5), c = random_matrix<T>(n, n, 6);
    Dist<T> da(l, ar, ac, 4, 4), dc(l, n, n, 4, 4, 1);
    da.set(a);
    dc.set(c);
    const cublasFillMode_t uplo = upper_t ? CUBLAS_FILL_MODE_UPPER : CUBLAS_FILL_MODE_LOWER;
    const cublasOperation_t trans = upper_t ? CUBLAS_OP_T : CUBLAS_OP_N;
    Work w;
    ok(cublasMpSyrk_bufferSize(l.bh, uplo, trans, n, k, &alpha, da.d, 1, 1, da.bd, &beta, dc.d, 1,
                               1, dc.bd, compute_type<T>(), &w.dsize, &w.hsize),
       CUBLASMP_STATUS_SUCCESS, "cublasMpSyrk_bufferSize");
    w.alloc();
    ok(cublasMpSyrk(l.bh, uplo, trans, n, k, &alpha, da.d, 1, 1, da.bd, &beta, dc.d, 1, 1, dc.bd,
                    compute_type<T>(), w.d, w.dsize, w.host(), w.hsize),
       CUBLASMP_STATUS_SUCCESS, "cublasMpSyrk");
    cuda(cudaStreamSynchronize(l.stream), "cudaStreamSynchronize");
    Global want = c;
    la::gemm(upper_t ? 'T' : 'N', upper_t ? 'N' : 'T', n, n, k, double(alpha), a.data(), ar,
             a.data(), ar, double(beta), want.data(), n);
    compare(
        tag + (upper_t ? " U,T" : " L,N"), dc.get(tag), want, n, n, tolerance<T>(k),
        [upper_t](int i, int j) { return upper_t ? i <= j : i >= j; }, &c);
  }
}

// A matrix whose triangles are well conditioned: diagonal in [1, 2], the rest small (a trsm reads
// one triangle, or none of the diagonal).
template <class T>
Global triangular(int n, unsigned seed) {
  Global r = random_matrix<T>(n, n, seed);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      double& x = r[static_cast<std::size_t>(j) * n + i];
      x = static_cast<double>(static_cast<T>(i == j ? 1.5 + 0.5 * x : 0.1 * x));
    }
  return r;
}

template <class T>
void test_trsm(const Lib& l) {
  const std::string tag = std::string(precision<T>()) + " " + l.s.name() + " trsm";
  const int m = 37, n = 23;
  const T two = T(2), one = T(1);
  {
    // B ← 2 B R⁻¹ (right, upper, N, non-unit), whole matrices.
    const Global r = triangular<T>(n, 7), b = random_matrix<T>(m, n, 8);
    Dist<T> dr(l, n, n, 4, 4), dbm(l, m, n, 4, 4, 3);
    dr.set(r);
    dbm.set(b);
    Work w;
    ok(cublasMpTrsm_bufferSize(l.bh, CUBLAS_SIDE_RIGHT, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_N,
                               CUBLAS_DIAG_NON_UNIT, m, n, &two, dr.d, 1, 1, dr.bd, dbm.d, 1, 1,
                               dbm.bd, compute_type<T>(), &w.dsize, &w.hsize),
       CUBLASMP_STATUS_SUCCESS, "cublasMpTrsm_bufferSize");
    w.alloc();
    ok(cublasMpTrsm(l.bh, CUBLAS_SIDE_RIGHT, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_N,
                    CUBLAS_DIAG_NON_UNIT, m, n, &two, dr.d, 1, 1, dr.bd, dbm.d, 1, 1, dbm.bd,
                    compute_type<T>(), w.d, w.dsize, w.host(), w.hsize),
       CUBLASMP_STATUS_SUCCESS, "cublasMpTrsm");
    cuda(cudaStreamSynchronize(l.stream), "cudaStreamSynchronize");
    Global want = b;
    la::trsm('R', 'U', 'N', 'N', m, n, 2.0, r.data(), n, want.data(), m);
    compare(tag + " R,U,N,N", dbm.get(tag), want, m, n, tolerance<T>(n));
  }
  {
    // Sub-matrices off the block boundaries (allowed for trsm): B(3:32, 2:21) ← op(A)⁻¹ B(3:32,
    // 2:21) with A(4:33, 3:32) lower triangular, transposed, unit diagonal.
    const int sm = 30, sn = 20, ib = 3, jb = 2, ia = 4, ja = 3;
    const Global a = triangular<T>(m, 9), b = random_matrix<T>(m, n, 10);
    Dist<T> da(l, m, m, 4, 4), dbm(l, m, n, 4, 4);
    da.set(a);
    dbm.set(b);
    Work w;
    ok(cublasMpTrsm_bufferSize(l.bh, CUBLAS_SIDE_LEFT, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_T,
                               CUBLAS_DIAG_UNIT, sm, sn, &one, da.d, ia, ja, da.bd, dbm.d, ib, jb,
                               dbm.bd, compute_type<T>(), &w.dsize, &w.hsize),
       CUBLASMP_STATUS_SUCCESS, "cublasMpTrsm_bufferSize");
    w.alloc();
    ok(cublasMpTrsm(l.bh, CUBLAS_SIDE_LEFT, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_T, CUBLAS_DIAG_UNIT,
                    sm, sn, &one, da.d, ia, ja, da.bd, dbm.d, ib, jb, dbm.bd, compute_type<T>(),
                    w.d, w.dsize, w.host(), w.hsize),
       CUBLASMP_STATUS_SUCCESS, "cublasMpTrsm");
    cuda(cudaStreamSynchronize(l.stream), "cudaStreamSynchronize");
    Global want = b;
    la::trsm('L', 'L', 'T', 'U', sm, sn, 1.0, a.data() + (ja - 1) * m + (ia - 1), m,
             want.data() + (jb - 1) * m + (ib - 1), m);
    compare(
        tag + " L,L,T,U on sub-matrices", dbm.get(tag), want, m, n, tolerance<T>(sm),
        [&](int i, int j) {
          return i >= ib - 1 && i < ib - 1 + sm && j >= jb - 1 && j < jb - 1 + sn;
        },
        &b);
  }
}

// --- cuSOLVERMp ----------------------------------------------------------------------------------
template <class T>
void test_potrf(const Lib& l) {
  const std::string tag = std::string(precision<T>()) + " " + l.s.name() + " potrf";
  const int n = 23, k = 37;
  // G = XᵀX / k + I: positive definite, well conditioned.
  const Global x = random_matrix<T>(k, n, 11);
  Global g(static_cast<std::size_t>(n) * n, 0.0);
  la::gemm('T', 'N', n, n, k, 1.0 / k, x.data(), k, x.data(), k, 0.0, g.data(), n);
  for (int i = 0; i < n; ++i) g[static_cast<std::size_t>(i) * n + i] += 1;
  for (double& v : g) v = static_cast<double>(static_cast<T>(v));
  int* info = nullptr;
  cuda(cudaMalloc(reinterpret_cast<void**>(&info), sizeof(int)), "cudaMalloc(info)");
  for (const bool upper : {true, false}) {
    const cublasFillMode_t uplo = upper ? CUBLAS_FILL_MODE_UPPER : CUBLAS_FILL_MODE_LOWER;
    Dist<T> dg(l, n, n, 4, 4, 1);
    dg.set(g);
    Work w;
    ok(cusolverMpPotrf_bufferSize(l.sh, uplo, n, dg.d, 1, 1, dg.sd, cuda_type<T>(), &w.dsize,
                                  &w.hsize),
       CUSOLVER_STATUS_SUCCESS, "cusolverMpPotrf_bufferSize");
    w.alloc();
    cuda(cudaMemset(info, 0, sizeof(int)), "cudaMemset");  // as NVIDIA's samples: zeroed first
    ok(cusolverMpPotrf(l.sh, uplo, n, dg.d, 1, 1, dg.sd, cuda_type<T>(), w.d, w.dsize, w.host(),
                       w.hsize, info),
       CUSOLVER_STATUS_SUCCESS, "cusolverMpPotrf");
    cuda(cudaStreamSynchronize(l.stream), "cudaStreamSynchronize");
    int h_info = -1;
    cuda(cudaMemcpy(&h_info, info, sizeof(int), cudaMemcpyDeviceToHost), "cudaMemcpy(info)");
    expect(h_info == 0, tag + ": info = " + std::to_string(h_info) +
                            " for a positive definite "
                            "matrix");
    Global want = g;
    expect(la::potrf(upper ? 'U' : 'L', n, want.data(), n) == 0, tag + ": host potrf failed");
    compare(
        tag + (upper ? " U" : " L"), dg.get(tag), want, n, n, tolerance<T>(n),
        [upper](int i, int j) { return upper ? i <= j : i >= j; }, &g);
  }
  {
    // Not positive definite: the leading minor of order 11 is the first that is not.
    Global bad(static_cast<std::size_t>(n) * n, 0.0);
    for (int i = 0; i < n; ++i) bad[static_cast<std::size_t>(i) * n + i] = i == 10 ? -1.0 : 2.0;
    Dist<T> dg(l, n, n, 4, 4);
    dg.set(bad);
    Work w;
    ok(cusolverMpPotrf_bufferSize(l.sh, CUBLAS_FILL_MODE_UPPER, n, dg.d, 1, 1, dg.sd,
                                  cuda_type<T>(), &w.dsize, &w.hsize),
       CUSOLVER_STATUS_SUCCESS, "cusolverMpPotrf_bufferSize");
    w.alloc();
    const int before = -7;
    cuda(cudaMemcpy(info, &before, sizeof(int), cudaMemcpyHostToDevice), "cudaMemcpy(info)");
    ok(cusolverMpPotrf(l.sh, CUBLAS_FILL_MODE_UPPER, n, dg.d, 1, 1, dg.sd, cuda_type<T>(), w.d,
                       w.dsize, w.host(), w.hsize, info),
       CUSOLVER_STATUS_SUCCESS, "cusolverMpPotrf");
    int h_info = 0;
    cuda(cudaMemcpy(&h_info, info, sizeof(int), cudaMemcpyDeviceToHost), "cudaMemcpy(info)");
    expect(h_info == before, tag + ": info changed before the stream was synchronised");
    cuda(cudaStreamSynchronize(l.stream), "cudaStreamSynchronize");
    cuda(cudaMemcpy(&h_info, info, sizeof(int), cudaMemcpyDeviceToHost), "cudaMemcpy(info)");
    expect(h_info == before, tag + ": a nonzero info already there was not kept (sticky)");
    // Zeroed, as a caller must: the order of the first leading minor that is not positive.
    dg.set(bad);
    cuda(cudaMemset(info, 0, sizeof(int)), "cudaMemset");
    ok(cusolverMpPotrf(l.sh, CUBLAS_FILL_MODE_UPPER, n, dg.d, 1, 1, dg.sd, cuda_type<T>(), w.d,
                       w.dsize, w.host(), w.hsize, info),
       CUSOLVER_STATUS_SUCCESS, "cusolverMpPotrf");
    cuda(cudaStreamSynchronize(l.stream), "cudaStreamSynchronize");
    cuda(cudaMemcpy(&h_info, info, sizeof(int), cudaMemcpyDeviceToHost), "cudaMemcpy(info)");
    expect(h_info == 11, tag + ": info = " + std::to_string(h_info) +
                             " for a matrix whose leading minor of order 11 is not positive "
                             "definite (expected 11)");
  }
  cudaFree(info);
}

template <class T>
void test_qr(const Lib& l) {
  const std::string tag = std::string(precision<T>()) + " " + l.s.name() + " geqrf/orgqr";
  const int m = 37, n = 23, nb = 4;
  const int rsrc = 1 % l.s.nprow, csrc = 1 % l.s.npcol;  // first blocks not on grid row/column 0
  const Global a = random_matrix<T>(m, n, 12);
  Dist<T> da(l, m, n, nb, nb, 1, rsrc, csrc);
  da.set(a);
  const int tau_count = std::max(1, local_count(n, nb, l.s.mycol, csrc, l.s.npcol));
  T* tau = nullptr;
  int* info = nullptr;
  cuda(cudaMalloc(reinterpret_cast<void**>(&tau), tau_count * sizeof(T)), "cudaMalloc(tau)");
  cuda(cudaMalloc(reinterpret_cast<void**>(&info), sizeof(int)), "cudaMalloc(info)");

  Work wq, wo;
  ok(cusolverMpGeqrf_bufferSize(l.sh, m, n, da.d, 1, 1, da.sd, cuda_type<T>(), &wq.dsize,
                                &wq.hsize),
     CUSOLVER_STATUS_SUCCESS, "cusolverMpGeqrf_bufferSize");
  ok(cusolverMpOrgqr_bufferSize(l.sh, m, n, n, da.d, 1, 1, da.sd, tau, cuda_type<T>(), &wo.dsize,
                                &wo.hsize),
     CUSOLVER_STATUS_SUCCESS, "cusolverMpOrgqr_bufferSize");
  {
    // The device workspaces are ScaLAPACK's own LWORK (its lwork = -1 query, on a BLACS grid of
    // the same shape made here).
    int ctx = -1, r = 0, c = 0, myrow = -1, mycol = -1;
    Cblacs_get(-1, 0, &ctx);
    Cblacs_gridinit(&ctx, l.s.row_major ? "Row" : "Col", l.s.nprow, l.s.npcol);
    Cblacs_gridinfo(ctx, &r, &c, &myrow, &mycol);
    expect(myrow == l.s.myrow && mycol == l.s.mycol, tag + ": BLACS places this rank elsewhere");
    int desc[9], info0 = 0;
    const int mm = m, nn = n, bb = nb, lld = da.lld, one = 1, query = -1;
    descinit_(desc, &mm, &nn, &bb, &bb, &rsrc, &csrc, &ctx, &lld, &info0);
    T probe = 0, q1 = 0, q2 = 0, dummy = 0;
    int i1 = 0, i2 = 0;
    if constexpr (sizeof(T) == sizeof(double)) {
      pdgeqrf_(&mm, &nn, &probe, &one, &one, desc, &dummy, &q1, &query, &i1);
      pdorgqr_(&mm, &nn, &nn, &probe, &one, &one, desc, &dummy, &q2, &query, &i2);
    } else {
      psgeqrf_(&mm, &nn, &probe, &one, &one, desc, &dummy, &q1, &query, &i1);
      psorgqr_(&mm, &nn, &nn, &probe, &one, &one, desc, &dummy, &q2, &query, &i2);
    }
    expect(wq.dsize == static_cast<std::size_t>(q1) * sizeof(T),
           tag + ": geqrf's device workspace " + std::to_string(wq.dsize) + " bytes, ScaLAPACK's " +
               std::to_string(static_cast<long>(q1)) + " elements");
    expect(wo.dsize == static_cast<std::size_t>(q2) * sizeof(T),
           tag + ": orgqr's device workspace " + std::to_string(wo.dsize) + " bytes, ScaLAPACK's " +
               std::to_string(static_cast<long>(q2)) + " elements");
    Cblacs_gridexit(ctx);
  }
  wq.alloc();
  wo.alloc();
  cuda(cudaMemset(info, 0, sizeof(int)), "cudaMemset");
  ok(cusolverMpGeqrf(l.sh, m, n, da.d, 1, 1, da.sd, tau, cuda_type<T>(), wq.d, wq.dsize, wq.host(),
                     wq.hsize, info),
     CUSOLVER_STATUS_SUCCESS, "cusolverMpGeqrf");
  cuda(cudaStreamSynchronize(l.stream), "cudaStreamSynchronize");
  int h_info = -1;
  cuda(cudaMemcpy(&h_info, info, sizeof(int), cudaMemcpyDeviceToHost), "cudaMemcpy(info)");
  expect(h_info == 0, tag + ": geqrf info = " + std::to_string(h_info));
  Global qr = a, htau(n);
  std::vector<double> work(static_cast<std::size_t>(la::optimal_lwork<double>(m, n, -1, m)));
  la::geqrf(m, n, qr.data(), m, htau.data(), work.data(), static_cast<int>(work.size()));
  compare(tag + ": R", da.get(tag), qr, m, n, tolerance<T>(m), [](int i, int j) { return i <= j; });

  cuda(cudaMemset(info, 0, sizeof(int)), "cudaMemset");
  ok(cusolverMpOrgqr(l.sh, m, n, n, da.d, 1, 1, da.sd, tau, cuda_type<T>(), wo.d, wo.dsize,
                     wo.host(), wo.hsize, info),
     CUSOLVER_STATUS_SUCCESS, "cusolverMpOrgqr");
  cuda(cudaStreamSynchronize(l.stream), "cudaStreamSynchronize");
  cuda(cudaMemcpy(&h_info, info, sizeof(int), cudaMemcpyDeviceToHost), "cudaMemcpy(info)");
  expect(h_info == 0, tag + ": orgqr info = " + std::to_string(h_info));
  work.assign(static_cast<std::size_t>(la::optimal_lwork<double>(m, n, n, m)), 0.0);
  la::orgqr(m, n, n, qr.data(), m, htau.data(), work.data(), static_cast<int>(work.size()));
  compare(tag + ": Q", da.get(tag), qr, m, n, tolerance<T>(m));
  cudaFree(tau);
  cudaFree(info);
}

// --- Setup ---------------------------------------------------------------------------------------
ncclComm_t make_comm(int ranks_with_own_id = 0) {
  ncclUniqueId id;
  if (g_rank == 0 || g_rank < ranks_with_own_id) ok(ncclGetUniqueId(&id), ncclSuccess, "id");
  if (ranks_with_own_id == 0) MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD);
  ncclComm_t comm = nullptr;
  ok(ncclCommInitRank(&comm, g_size, id, g_rank), ncclSuccess, "ncclCommInitRank");
  return comm;
}

Lib make_lib(ncclComm_t comm, cudaStream_t stream, cublasMpHandle_t bh, cusolverMpHandle_t sh,
             const Shape& s) {
  Lib l{s, stream, bh, sh, nullptr, nullptr};
  ok(cublasMpGridCreate(
         s.nprow, s.npcol,
         s.row_major ? CUBLASMP_GRID_LAYOUT_ROW_MAJOR : CUBLASMP_GRID_LAYOUT_COL_MAJOR, comm,
         &l.bg),
     CUBLASMP_STATUS_SUCCESS, "cublasMpGridCreate");
  ok(cusolverMpCreateDeviceGrid(
         sh, &l.sg, comm, s.nprow, s.npcol,
         s.row_major ? CUSOLVERMP_GRID_MAPPING_ROW_MAJOR : CUSOLVERMP_GRID_MAPPING_COL_MAJOR),
     CUSOLVER_STATUS_SUCCESS, "cusolverMpCreateDeviceGrid");
  return l;
}

// One mistake the emulator must refuse (it aborts; returning is a failure).
int violate(const std::string& what) {
  ncclComm_t comm = make_comm(what == "unshared_id" ? g_size : 0);
  cudaStream_t stream = nullptr;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  cublasMpHandle_t bh = nullptr;
  cusolverMpHandle_t sh = nullptr;
  cublasMpCreate(&bh, stream);
  cusolverMpCreate(&sh, 0, stream);
  const Lib l = make_lib(comm, stream, bh, sh, shape(1, g_size, true));
  const double one = 1;
  Dist<double> a(l, 8, 8, 4, 4), b(l, 8, 8, 4, 4), c(l, 8, 8, 4, 4);
  Work w;
  cublasMpGemm_bufferSize(bh, CUBLAS_OP_N, CUBLAS_OP_N, 8, 8, 8, &one, a.d, 1, 1, a.bd, b.d, 1, 1,
                          b.bd, &one, c.d, 1, 1, c.bd, CUBLAS_COMPUTE_64F, &w.dsize, &w.hsize);
  w.alloc();
  if (what == "small_workspace") {
    cublasMpGemm(bh, CUBLAS_OP_N, CUBLAS_OP_N, 8, 8, 8, &one, a.d, 1, 1, a.bd, b.d, 1, 1, b.bd,
                 &one, c.d, 1, 1, c.bd, CUBLAS_COMPUTE_64F, w.d, w.dsize - 1, w.host(), w.hsize);
  } else if (what == "host_matrix") {
    std::vector<double> host(64, 1.0);
    Work wp;
    cusolverMpPotrf_bufferSize(sh, CUBLAS_FILL_MODE_UPPER, 8, a.d, 1, 1, a.sd, CUDA_R_64F,
                               &wp.dsize, &wp.hsize);
    wp.alloc();
    int* info = nullptr;
    cudaMalloc(reinterpret_cast<void**>(&info), sizeof(int));
    cusolverMpPotrf(sh, CUBLAS_FILL_MODE_UPPER, 8, host.data(), 1, 1, a.sd, CUDA_R_64F, wp.d,
                    wp.dsize, wp.host(), wp.hsize, info);
  } else if (what == "foreign_grid") {
    cublasMpGrid_t other = nullptr;
    cublasMpGridCreate(1, g_size, CUBLASMP_GRID_LAYOUT_ROW_MAJOR, comm, &other);
    cublasMpMatrixDescriptor_t elsewhere = nullptr;
    cublasMpMatrixDescriptorCreate(8, 8, 4, 4, 0, 0, c.lld, CUDA_R_64F, other, &elsewhere);
    cublasMpGemm(bh, CUBLAS_OP_N, CUBLAS_OP_N, 8, 8, 8, &one, a.d, 1, 1, a.bd, b.d, 1, 1, b.bd,
                 &one, c.d, 1, 1, elsewhere, CUBLAS_COMPUTE_64F, w.d, w.dsize, w.host(), w.hsize);
  }
  std::fprintf(stderr, "rank %d: --violate %s: the emulator did not refuse it\n", g_rank,
               what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  if (argc == 3 && std::string(argv[1]) == "--violate") {
    const int status = violate(argv[2]);
    MPI_Finalize();
    return status;
  }

  ncclComm_t comm = make_comm();
  cudaStream_t stream = nullptr;
  cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  cublasMpHandle_t bh = nullptr;
  cusolverMpHandle_t sh = nullptr;
  ok(cublasMpCreate(&bh, stream), CUBLASMP_STATUS_SUCCESS, "cublasMpCreate");
  ok(cusolverMpCreate(&sh, 0, stream), CUSOLVER_STATUS_SUCCESS, "cusolverMpCreate");

  // Every grid of g_size ranks; both layouts where they differ.
  std::vector<Shape> shapes;
  for (int p = 1; p <= g_size; ++p)
    if (g_size % p == 0) {
      shapes.push_back(shape(p, g_size / p, true));
      if (p > 1 && p < g_size) shapes.push_back(shape(p, g_size / p, false));
    }
  for (const Shape& s : shapes) {
    const Lib l = make_lib(comm, stream, bh, sh, s);
    test_gemm<double>(l);
    test_gemm<float>(l);
    test_syrk<double>(l);
    test_syrk<float>(l);
    test_trsm<double>(l);
    test_trsm<float>(l);
    test_potrf<double>(l);
    test_potrf<float>(l);
    test_qr<double>(l);
    test_qr<float>(l);
    ok(cusolverMpDestroyGrid(l.sg), CUSOLVER_STATUS_SUCCESS, "cusolverMpDestroyGrid");
    ok(cublasMpGridDestroy(l.bg), CUBLASMP_STATUS_SUCCESS, "cublasMpGridDestroy");
  }

  ok(cusolverMpDestroy(sh), CUSOLVER_STATUS_SUCCESS, "cusolverMpDestroy");
  ok(cublasMpDestroy(bh), CUBLASMP_STATUS_SUCCESS, "cublasMpDestroy");
  ok(ncclCommDestroy(comm), ncclSuccess, "ncclCommDestroy");
  cuda(cudaStreamDestroy(stream), "cudaStreamDestroy");

  int failures = 0;
  MPI_Allreduce(&g_failures, &failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (g_rank == 0)
    std::printf("emulated cuBLASMp/cuSOLVERMp/NCCL on %d ranks, %zu grids: %s (%d failures)\n",
                g_size, shapes.size(), failures == 0 ? "passed" : "FAILED", failures);
  MPI_Finalize();
  return failures == 0 ? 0 : 1;
}
