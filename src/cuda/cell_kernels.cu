// Kernels of the trained cells (models/cell.cpp) for B members at once, one layer per call: a
// stacked layer's input drive W_ih h + b_ih, the fused gate / coefficient / state step, and the two
// passes of the tangent step Q' = E Q_h + D Q (forming E, dim × N, and the diagonal part D Q). Each
// does the CPU executor's arithmetic element for element in its order: sums with explicitly rounded
// products and additions, the per-element formulas from core/elementwise.hpp (this target is
// compiled with --fmad=false). Only the device's exp, log, cos and tanh may differ from the host's
// libm by an ulp or two. W_hh and b_hh are shared by the members; blockIdx.z strides over them.
#include <string>

#include "cuda_check.hpp"
#include "device_api.cuh"
#include "device_math.cuh"
#include "kernels.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::cuda::kernels {
namespace {

// One step of 32 units of one member (RowBlock): gh = W_hh h_in + b_hh for their G rows
// (block_row_dot, one gate after the other; each row summed from its bias over c = 0..N-1), then
// lane i of warp 0 forms unit i's state update and (when kCoef) tangent coefficients with
// detail::cell_unit. h_out must not alias h_in: other blocks still read h_in.
template <class T, CellKind K, bool kCoef>
__global__ void __launch_bounds__(kDotThreads)
    cell_step_kernel(int n, const T* __restrict__ whh, const T* __restrict__ bhh,
                     const T* __restrict__ gi_all, long long gi_stride, const T* __restrict__ h_all,
                     T* __restrict__ h_out_all, T* __restrict__ c_all, T* __restrict__ coef_all) {
  constexpr int G = detail::kCellGates<K>;
  const std::size_t un = static_cast<std::size_t>(n);
  const RowBlock rb(n);
  const std::size_t b = static_cast<std::size_t>(rb.b);
  const int i0 = rb.r0, rows = rb.rows, i = i0 + static_cast<int>(threadIdx.x);
  const T* h_in = h_all + b * un;
  T gh[G];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    const T bias = static_cast<int>(threadIdx.x) < rows ? bhh[g * un + i] : T(0);
    gh[g] = block_row_dot(n, G * un, whh + g * un + i0, rows, h_in, bias);
  }
  if (static_cast<int>(threadIdx.x) >= rows) return;
  const T* gi = gi_all + static_cast<long long>(b) * gi_stride;
  T a[G];
#pragma unroll
  for (int g = 0; g < G; ++g) a[g] = gi[g * un + i];
  // The unit's update and coefficients: the per-element math the CPU executor runs too.
  T* c = K == CellKind::lstm ? c_all + b * un + i : nullptr;
  T ci = c != nullptr ? *c : T(0);
  h_out_all[b * un + i] = detail::cell_unit<T, K>(
      a, gh, h_in[i], ci, kCoef ? coef_all + b * detail::kCoefSlots * un + i : nullptr, un);
  if (c != nullptr) *c = ci;
}

// y_b = A x_b + bias for 32 rows of one member (RowBlock over m rows): block_row_dot's sums, each
// row from its bias over c = 0..n-1, as cell_step_kernel's gh.
template <class T>
__global__ void __launch_bounds__(kDotThreads)
    input_drive_kernel(int m, int n, const T* __restrict__ a, const T* __restrict__ bias,
                       const T* __restrict__ x_all, T* __restrict__ y_all) {
  const RowBlock rb(m);
  const std::size_t b = static_cast<std::size_t>(rb.b);
  const int r = rb.r0 + static_cast<int>(threadIdx.x);
  const T init = static_cast<int>(threadIdx.x) < rb.rows ? bias[r] : T(0);
  const T y = block_row_dot(n, static_cast<std::size_t>(m), a + rb.r0, rb.rows,
                            x_all + b * static_cast<std::size_t>(n), init);
  if (static_cast<int>(threadIdx.x) < rb.rows) y_all[b * static_cast<std::size_t>(m) + r] = y;
}

// E (dim × N, leading dimension dim) of each member from W_hh and its coefficients: one thread
// per unit i, blockIdx.y striding over the columns; rnn E = act W_hh, gru E = r W_hr + z W_hz +
// n_h W_hn, lstm M = i W_hi + f W_hf + g W_hg, E = [o W_ho + c_to_h M; M] (h-only: the first
// block), every product a row scaling (the slots of models/cell_layout.hpp). kInput: whh is a
// stacked layer's W_ih, and the GRU's n gate takes n_x instead of n_h.
template <class T, CellKind K, bool kHOnly, bool kInput = false>
__global__ void cell_form_e_kernel(int batch, int n, int dim, const T* __restrict__ coef_all,
                                   const T* __restrict__ whh, T* __restrict__ e_all) {
  const long long i = global_index();
  if (i >= n) return;
  const std::size_t un = static_cast<std::size_t>(n);
  constexpr int G = detail::kCellGates<K>;
  const std::size_t gn = static_cast<std::size_t>(G) * un, ld = static_cast<std::size_t>(dim);
  for (std::size_t b = blockIdx.z; b < static_cast<std::size_t>(batch); b += gridDim.z) {
    const T* coef = coef_all + b * detail::kCoefSlots * un;
    const auto slot = [&](int s) { return coef[s * un + i]; };
    T* e = e_all + b * ld * un;
    const T c0 = coef[i];  // slot 0: act, r or i
    for (int col = static_cast<int>(blockIdx.y); col < n; col += static_cast<int>(gridDim.y)) {
      const T* w = whh + static_cast<std::size_t>(col) * gn;
      T* ec = e + static_cast<std::size_t>(col) * ld;
      if constexpr (K == CellKind::rnn_tanh) {
        ec[i] = c0 * w[i];
      } else if constexpr (K == CellKind::gru) {
        const T cn = kInput ? slot(GruCoef::n_x) : slot(GruCoef::n_h);
        ec[i] = c0 * w[i] + slot(GruCoef::z) * w[un + i] + cn * w[2 * un + i];
      } else {  // lstm
        const T m = c0 * w[i] + slot(LstmCoef::f) * w[un + i] + slot(LstmCoef::g) * w[2 * un + i];
        ec[i] = slot(LstmCoef::o) * w[3 * un + i] + slot(LstmCoef::c_to_h) * m;
        if constexpr (!kHOnly) ec[un + i] = m;
      }
    }
  }
}

// qn = D q of each member: gru qn_h = keep q_h (keep = z); full lstm qn_h = c_to_h keep q_c,
// qn_c = keep q_c (keep = f).
template <class T, CellKind K>
__global__ void cell_diagonal_kernel(int batch, int n, int dim, int k,
                                     const T* __restrict__ coef_all, const T* __restrict__ q_all,
                                     T* __restrict__ qn_all) {
  const long long i = global_index();
  if (i >= n) return;
  const std::size_t un = static_cast<std::size_t>(n), ld = static_cast<std::size_t>(dim);
  for (std::size_t b = blockIdx.z; b < static_cast<std::size_t>(batch); b += gridDim.z) {
    const T* coef = coef_all + b * detail::kCoefSlots * un;
    const T* q = q_all + b * ld * k;
    T* qn = qn_all + b * ld * k;
    const T keep = coef[(K == CellKind::gru ? GruCoef::keep : LstmCoef::keep) * un + i];
    for (int col = static_cast<int>(blockIdx.y); col < k; col += static_cast<int>(gridDim.y)) {
      const std::size_t o = static_cast<std::size_t>(col) * ld + i;
      if constexpr (K == CellKind::gru) {
        qn[o] = keep * q[o];
      } else {
        const T c_to_h = coef[LstmCoef::c_to_h * un + i];
        qn[o] = c_to_h * keep * q[o + un];
        qn[o + un] = keep * q[o + un];
      }
    }
  }
}

// Grid of an N × cols pass over every member: the members on z (at most 65535; the kernels
// stride), and a column stride that keeps the grid at a few thousand blocks.
dim3 member_grid(int batch, int n, int cols, int threads) {
  const dim3 g = column_grid(n, cols, threads);
  const unsigned z = static_cast<unsigned>(batch < 65535 ? batch : 65535);
  const unsigned y = g.y / z > 0 ? g.y / z : 1;
  return dim3(g.x, y, z);
}

constexpr int kThreads = 128;

template <class T, CellKind K>
void launch_step(int batch, int n, const T* whh, const T* bhh, const T* gi, long long gi_stride,
                 const T* h_in, T* h_out, T* c, T* coef, cudaStream_t stream) {
  const unsigned grid = row_blocks(batch, n);
  if (coef != nullptr)
    launch(cell_step_kernel<T, K, true>, grid, kDotThreads, stream, n, whh, bhh, gi, gi_stride,
           h_in, h_out, c, coef);
  else
    launch(cell_step_kernel<T, K, false>, grid, kDotThreads, stream, n, whh, bhh, gi, gi_stride,
           h_in, h_out, c, coef);
  RNNLYAP_CUDA_CHECK_LAUNCH(cell_step_kernel);
}

[[noreturn]] void unknown(CellKind kind) {
  throw Error("unknown cell kind " + std::to_string(static_cast<int>(kind)));
}

}  // namespace

template <class T>
void cell_input_drive(int batch, int m, int n, const T* a, const T* bias, const T* x, T* y,
                      cudaStream_t stream) {
  launch(input_drive_kernel<T>, row_blocks(batch, m), kDotThreads, stream, m, n, a, bias, x, y);
  RNNLYAP_CUDA_CHECK_LAUNCH(input_drive_kernel);
}

template <class T>
void cell_step(CellKind kind, int batch, int n, const T* whh, const T* bhh, const T* gi,
               long long gi_stride, const T* h_in, T* h_out, T* c, T* coef, cudaStream_t stream) {
  switch (kind) {
    case CellKind::rnn_tanh:
      return launch_step<T, CellKind::rnn_tanh>(batch, n, whh, bhh, gi, gi_stride, h_in, h_out, c,
                                                coef, stream);
    case CellKind::rnn_relu:
      return launch_step<T, CellKind::rnn_relu>(batch, n, whh, bhh, gi, gi_stride, h_in, h_out, c,
                                                coef, stream);
    case CellKind::gru:
      return launch_step<T, CellKind::gru>(batch, n, whh, bhh, gi, gi_stride, h_in, h_out, c, coef,
                                           stream);
    case CellKind::lstm:
      return launch_step<T, CellKind::lstm>(batch, n, whh, bhh, gi, gi_stride, h_in, h_out, c, coef,
                                            stream);
  }
  unknown(kind);
}

template <class T>
void cell_form_e(CellKind kind, bool h_only, bool input, int batch, int n, int dim, const T* coef,
                 const T* whh, T* e, cudaStream_t stream) {
  const int threads = row_threads(n, kThreads);
  const dim3 g = member_grid(batch, n, n, threads);
  if (kind == CellKind::rnn_tanh || kind == CellKind::rnn_relu)  // the same E
    launch(cell_form_e_kernel<T, CellKind::rnn_tanh, false>, g, threads, stream, batch, n, dim,
           coef, whh, e);
  else if (kind == CellKind::gru && input)
    launch(cell_form_e_kernel<T, CellKind::gru, false, true>, g, threads, stream, batch, n, dim,
           coef, whh, e);
  else if (kind == CellKind::gru)
    launch(cell_form_e_kernel<T, CellKind::gru, false>, g, threads, stream, batch, n, dim, coef,
           whh, e);
  else if (kind == CellKind::lstm && h_only)
    launch(cell_form_e_kernel<T, CellKind::lstm, true>, g, threads, stream, batch, n, dim, coef,
           whh, e);
  else if (kind == CellKind::lstm)
    launch(cell_form_e_kernel<T, CellKind::lstm, false>, g, threads, stream, batch, n, dim, coef,
           whh, e);
  else
    unknown(kind);
  RNNLYAP_CUDA_CHECK_LAUNCH(cell_form_e_kernel);
}

template <class T>
bool cell_diagonal(CellKind kind, bool h_only, int batch, int n, int dim, int k, const T* coef,
                   const T* q, T* qn, cudaStream_t stream) {
  const int threads = row_threads(n, kThreads);
  const dim3 g = member_grid(batch, n, k, threads);
  if (kind == CellKind::gru)
    launch(cell_diagonal_kernel<T, CellKind::gru>, g, threads, stream, batch, n, dim, k, coef, q,
           qn);
  else if (kind == CellKind::lstm && !h_only)
    launch(cell_diagonal_kernel<T, CellKind::lstm>, g, threads, stream, batch, n, dim, k, coef, q,
           qn);
  else
    return false;  // rnn (tanh or relu), h-only lstm: no diagonal part
  RNNLYAP_CUDA_CHECK_LAUNCH(cell_diagonal_kernel);
  return true;
}

#define RNNLYAP_INSTANTIATE(T)                                                               \
  template void cell_input_drive<T>(int, int, int, const T*, const T*, const T*, T*,         \
                                    cudaStream_t);                                           \
  template void cell_step<T>(CellKind, int, int, const T*, const T*, const T*, long long,    \
                             const T*, T*, T*, T*, cudaStream_t);                            \
  template void cell_form_e<T>(CellKind, bool, bool, int, int, int, const T*, const T*, T*,  \
                               cudaStream_t);                                                \
  template bool cell_diagonal<T>(CellKind, bool, int, int, int, int, const T*, const T*, T*, \
                                 cudaStream_t);
RNNLYAP_INSTANTIATE(float)
RNNLYAP_INSTANTIATE(double)
#undef RNNLYAP_INSTANTIATE

}  // namespace rnnlyap::cuda::kernels
