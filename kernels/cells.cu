// Kernels of the trained-cell propagator (src/cuda/cuda_cell_backend.cpp): the input drive of
// every step, the fused gate/coefficient/state step, and the two passes of the tangent step
// Q' = E Q_h + D Q: forming the per-step matrix E (dim × N) and the diagonal part D Q. Each does
// CpuCellBackend's arithmetic (src/cpu/cell_backend.cpp) element for element, in the same order:
// sums are formed with explicitly rounded products and additions, and the per-element formulas are
// the CPU's expressions verbatim (this target is compiled with
// --fmad=false, so nvcc contracts none of them into an FMA). Only the transcendental functions
// (exp, tanh) may differ from the host's libm by an ulp.
#include <algorithm>
#include <string>

#include "cuda/cuda_check.hpp"
#include "device_math.cuh"
#include "launch.cuh"

namespace rnnlyap::cuda::kernels {
namespace {

using rnnlyap::detail::dphi;
using rnnlyap::detail::dsigmoid;
using rnnlyap::detail::phi;
using rnnlyap::detail::sigmoid;

constexpr int kDriveThreads = 256;
// Hidden units per block of the step kernel: a block is kUnits × G threads, thread (x, gate)
// owning row gate·N + unit. Each warp holds 32 consecutive rows of one gate (coalesced loads of
// W_hh's columns); the G rows of a unit meet in shared memory.
constexpr int kUnits = 32;

// drive[t·gn + r] = b_ih[r] + Σ_j W_ih[r, j] x_t[j], in fp64 and in the order j = 0..in-1 as
// CpuCellBackend::upload sums it, then rounded to T once. W_ih arrives transposed (in × gn,
// column-major gn × in read as w_t[j·gn + r]) so that a warp's loads are coalesced.
template <class T>
__global__ void cell_drive_kernel(int gn, int in, long long steps, const double* __restrict__ w_t,
                                  const double* __restrict__ b_ih, const double* __restrict__ x,
                                  T* __restrict__ drive) {
  const int r = global_row();
  if (r >= gn) return;
  const std::size_t ugn = static_cast<std::size_t>(gn);
  const double b = b_ih != nullptr ? b_ih[r] : 0.0;
  for (long long t = blockIdx.y; t < steps; t += gridDim.y) {
    const double* xt = x + static_cast<std::size_t>(t) * static_cast<std::size_t>(in);
    double a = b;
    for (int j = 0; j < in; ++j)
      a = __dadd_rn(a, __dmul_rn(w_t[static_cast<std::size_t>(j) * ugn + r], xt[j]));
    drive[static_cast<std::size_t>(t) * ugn + r] = static_cast<T>(a);
  }
}

// gh_r = b_hh[r] + Σ_c W_hh[r, c] h[c], W_hh column-major with leading dimension gn, summed in the
// fixed order c = 0..n-1 starting from the bias, as CpuCellBackend::gates does. The loads of a
// chunk are issued before its (sequentially dependent) additions.
template <class T>
__device__ __forceinline__ T gate_row(int n, int gn, const T* __restrict__ whh, T bias,
                                      const T* __restrict__ h, int r) {
  return strided_row_dot(n, static_cast<std::size_t>(gn), whh, h, r, bias);
}

// One step of the cell, fused: gh = W_hh h_in + b_hh (all G·N rows), then for each unit i the
// per-row tangent coefficients (when kCoef; CpuCellBackend::tangent's first loop) and the state
// update (CpuCellBackend::update_state) into h_out, c in place. h_out must not alias h_in: other
// blocks still read h_in. gi is the drive of this step (G·N values).
template <class T, CellKind K, bool kCoef>
__global__ void __launch_bounds__(kUnits* static_cast<int>(K))
    cell_step_kernel(int n, const T* __restrict__ whh, const T* __restrict__ bhh,
                     const T* __restrict__ gi, const T* __restrict__ h_in, T* __restrict__ h_out,
                     T* __restrict__ c, T* __restrict__ coef) {
  constexpr int G = static_cast<int>(K);
  __shared__ T gh_s[G][kUnits];
  const int x = static_cast<int>(threadIdx.x);
  const int gate = static_cast<int>(threadIdx.y);
  const int i = static_cast<int>(blockIdx.x) * kUnits + x;
  const int gn = G * n;
  if (i < n) gh_s[gate][x] = gate_row(n, gn, whh, bhh[gate * n + i], h_in, gate * n + i);
  __syncthreads();
  if (gate != 0 || i >= n) return;
  const std::size_t un = static_cast<std::size_t>(n);
  if constexpr (K == CellKind::rnn) {
    const T a = gi[i] + gh_s[0][x];
    if constexpr (kCoef) coef[i] = dphi(a);
    h_out[i] = phi(a);
  } else if constexpr (K == CellKind::gru) {
    const T ar = gi[i] + gh_s[0][x], az = gi[n + i] + gh_s[1][x];
    const T r = sigmoid(ar), z = sigmoid(az);
    const T an = gi[2 * n + i] + r * gh_s[2][x];
    const T hi = h_in[i];
    if constexpr (kCoef) {
      const T dn = dphi(an) * (T(1) - z);
      coef[i] = dn * dsigmoid(ar) * gh_s[2][x];
      coef[un + i] = dsigmoid(az) * (hi - phi(an));
      coef[2 * un + i] = dn * r;
      coef[3 * un + i] = z;
    }
    const T nn = phi(an);
    h_out[i] = (T(1) - z) * nn + z * hi;
  } else {  // lstm
    const T ai = gi[i] + gh_s[0][x], af = gi[n + i] + gh_s[1][x];
    const T ag = gi[2 * n + i] + gh_s[2][x], ao = gi[3 * n + i] + gh_s[3][x];
    const T ig = sigmoid(ai), fg = sigmoid(af), gg = phi(ag), og = sigmoid(ao);
    const T ci = c[i];
    const T cn = fg * ci + ig * gg;
    if constexpr (kCoef) {
      coef[i] = dsigmoid(ai) * gg;
      coef[un + i] = dsigmoid(af) * ci;
      coef[2 * un + i] = ig * dphi(ag);
      coef[3 * un + i] = fg;
      coef[4 * un + i] = dsigmoid(ao) * phi(cn);
      coef[5 * un + i] = og * dphi(cn);
    }
    c[i] = cn;
    h_out[i] = og * phi(cn);
  }
}

// E (dim × N, leading dimension dim) from W_hh and this step's coefficients
// (CpuCellBackend::form_e): one thread per unit i, walking the columns blockIdx.y,
// blockIdx.y + gridDim.y, …; rnn E = c0 W_hh, gru E = c0 W_hr + c1 W_hz + c2 W_hn, lstm
// M = c0 W_hi + c1 W_hf + c2 W_hg, E = [c4 W_ho + c5 M; M] (h-only: the first block), every
// product a row scaling.
template <class T, CellKind K, bool kHOnly>
__global__ void cell_form_e_kernel(int n, int dim, const T* __restrict__ coef,
                                   const T* __restrict__ whh, T* __restrict__ e) {
  const int i = global_row();
  if (i >= n) return;
  constexpr int G = static_cast<int>(K);
  const std::size_t un = static_cast<std::size_t>(n);
  const std::size_t gn = static_cast<std::size_t>(G) * un;
  const std::size_t ld = static_cast<std::size_t>(dim);
  const T c0 = coef[i];
  for (int col = static_cast<int>(blockIdx.y); col < n; col += static_cast<int>(gridDim.y)) {
    const T* w = whh + static_cast<std::size_t>(col) * gn;
    T* ec = e + static_cast<std::size_t>(col) * ld;
    if constexpr (K == CellKind::rnn) {
      ec[i] = c0 * w[i];
    } else if constexpr (K == CellKind::gru) {
      ec[i] = c0 * w[i] + coef[un + i] * w[un + i] + coef[2 * un + i] * w[2 * un + i];
    } else {  // lstm
      const T m = c0 * w[i] + coef[un + i] * w[un + i] + coef[2 * un + i] * w[2 * un + i];
      ec[i] = coef[4 * un + i] * w[3 * un + i] + coef[5 * un + i] * m;
      if constexpr (!kHOnly) ec[un + i] = m;
    }
  }
}

// qn = D q, the diagonal part of the tangent step (CpuCellBackend::tangent's column loop): gru
// qn_h = z q_h; full lstm qn_h = c5 f q_c, qn_c = f q_c (f = c3). One thread per unit i.
template <class T, CellKind K>
__global__ void cell_diagonal_kernel(int n, int dim, int k, const T* __restrict__ coef,
                                     const T* __restrict__ q, T* __restrict__ qn) {
  const int i = global_row();
  if (i >= n) return;
  const std::size_t un = static_cast<std::size_t>(n);
  const std::size_t ld = static_cast<std::size_t>(dim);
  const T c3 = coef[3 * un + i];
  for (int col = static_cast<int>(blockIdx.y); col < k; col += static_cast<int>(gridDim.y)) {
    const std::size_t o = static_cast<std::size_t>(col) * ld + i;
    if constexpr (K == CellKind::gru) {
      qn[o] = c3 * q[o];
    } else {
      const T c5 = coef[5 * un + i];
      qn[o] = c5 * c3 * q[o + un];
      qn[o + un] = c3 * q[o + un];
    }
  }
}

// Grid of an N × k element-wise pass (as kernels/tangent.cu's): blocks of rows × a column stride
// that gives the grid a few thousand blocks without reloading the coefficients more than needed.
struct Geometry {
  dim3 grid, block;
};

Geometry matrix_geometry(int n, int k) {
  const int threads = std::min(256, std::max(32, (n + 31) / 32 * 32));
  const unsigned row_blocks = blocks_for(n, threads);
  const unsigned target = 2048;
  const unsigned col_blocks =
      std::min<unsigned>({static_cast<unsigned>(k), 65535u, std::max(1u, target / row_blocks)});
  return {dim3(row_blocks, col_blocks), dim3(static_cast<unsigned>(threads))};
}

template <class T, CellKind K>
void launch_step(int n, const T* whh, const T* bhh, const T* gi, const T* h_in, T* h_out, T* c,
                 T* coef, cudaStream_t stream) {
  const dim3 block(kUnits, static_cast<unsigned>(K));
  const dim3 grid(blocks_for(n, kUnits));
  if (coef != nullptr)
    cell_step_kernel<T, K, true><<<grid, block, 0, stream>>>(n, whh, bhh, gi, h_in, h_out, c, coef);
  else
    cell_step_kernel<T, K, false>
        <<<grid, block, 0, stream>>>(n, whh, bhh, gi, h_in, h_out, c, coef);
  RNNLYAP_CUDA_CHECK_LAUNCH(cell_step_kernel);
}

}  // namespace

template <class T>
void cell_input_drive(int gn, int in, long long steps, const double* w_ih_t, const double* b_ih,
                      const double* x, T* drive, cudaStream_t stream) {
  if (gn <= 0 || steps <= 0) return;
  const dim3 grid(blocks_for(gn, kDriveThreads),
                  static_cast<unsigned>(std::min<long long>(steps, 65535)));
  cell_drive_kernel<T><<<grid, kDriveThreads, 0, stream>>>(gn, in, steps, w_ih_t, b_ih, x, drive);
  RNNLYAP_CUDA_CHECK_LAUNCH(cell_drive_kernel);
}

template <class T>
void cell_step(CellKind kind, int n, const T* whh, const T* bhh, const T* gi, const T* h_in,
               T* h_out, T* c, T* coef, cudaStream_t stream) {
  switch (kind) {
    case CellKind::rnn:
      launch_step<T, CellKind::rnn>(n, whh, bhh, gi, h_in, h_out, c, coef, stream);
      break;
    case CellKind::gru:
      launch_step<T, CellKind::gru>(n, whh, bhh, gi, h_in, h_out, c, coef, stream);
      break;
    case CellKind::lstm:
      launch_step<T, CellKind::lstm>(n, whh, bhh, gi, h_in, h_out, c, coef, stream);
      break;
    default:
      throw Error("cell_step: unknown cell kind " + std::to_string(static_cast<int>(kind)));
  }
}

template <class T>
void cell_form_e(CellKind kind, bool h_only, int n, int dim, const T* coef, const T* whh, T* e,
                 cudaStream_t stream) {
  const Geometry geo = matrix_geometry(n, n);
  switch (kind) {
    case CellKind::rnn:
      cell_form_e_kernel<T, CellKind::rnn, false>
          <<<geo.grid, geo.block, 0, stream>>>(n, dim, coef, whh, e);
      break;
    case CellKind::gru:
      cell_form_e_kernel<T, CellKind::gru, false>
          <<<geo.grid, geo.block, 0, stream>>>(n, dim, coef, whh, e);
      break;
    case CellKind::lstm:
      if (h_only)
        cell_form_e_kernel<T, CellKind::lstm, true>
            <<<geo.grid, geo.block, 0, stream>>>(n, dim, coef, whh, e);
      else
        cell_form_e_kernel<T, CellKind::lstm, false>
            <<<geo.grid, geo.block, 0, stream>>>(n, dim, coef, whh, e);
      break;
    default:
      throw Error("cell_form_e: unknown cell kind " + std::to_string(static_cast<int>(kind)));
  }
  RNNLYAP_CUDA_CHECK_LAUNCH(cell_form_e_kernel);
}

template <class T>
bool cell_diagonal(CellKind kind, bool h_only, int n, int dim, int k, const T* coef, const T* q,
                   T* qn, cudaStream_t stream) {
  const Geometry geo = matrix_geometry(n, k);
  if (kind == CellKind::gru)
    cell_diagonal_kernel<T, CellKind::gru>
        <<<geo.grid, geo.block, 0, stream>>>(n, dim, k, coef, q, qn);
  else if (kind == CellKind::lstm && !h_only)
    cell_diagonal_kernel<T, CellKind::lstm>
        <<<geo.grid, geo.block, 0, stream>>>(n, dim, k, coef, q, qn);
  else
    return false;  // rnn, h-only lstm: no diagonal part
  RNNLYAP_CUDA_CHECK_LAUNCH(cell_diagonal_kernel);
  return true;
}

#define RNNLYAP_INSTANTIATE(T)                                                                  \
  template void cell_input_drive<T>(int, int, long long, const double*, const double*,          \
                                    const double*, T*, cudaStream_t);                           \
  template void cell_step<T>(CellKind, int, const T*, const T*, const T*, const T*, T*, T*, T*, \
                             cudaStream_t);                                                     \
  template void cell_form_e<T>(CellKind, bool, int, int, const T*, const T*, T*, cudaStream_t); \
  template bool cell_diagonal<T>(CellKind, bool, int, int, int, const T*, const T*, T*,         \
                                 cudaStream_t);
RNNLYAP_INSTANTIATE(float)
RNNLYAP_INSTANTIATE(double)
#undef RNNLYAP_INSTANTIATE

}  // namespace rnnlyap::cuda::kernels
