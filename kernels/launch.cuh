// Host-callable launchers of rnnlyap's CUDA kernels. This header is plain C++ (no kernel code, no
// CUDA language extensions): src/cuda/cuda_backend.cpp includes it through the host compiler.
// Every launcher enqueues its kernel on `stream`, checks the launch (cudaGetLastError) and
// returns without synchronising. Instantiated for T = float and T = double. All matrices are
// column-major with leading dimension = number of rows.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace rnnlyap::cuda::kernels {

/// Device buffers of the RK4 state step (n-vectors). Mirrors CpuBackend::rk4_state.
template <class T>
struct Rk4State {
  T* h = nullptr;  ///< the state; the last stage updates it in place
  T* x[4] = {};    ///< x[s] = φ(y_s); x[0] = φ(h) holds between steps
  T* y[4] = {};    ///< stage points y_s (y_0 = h before the step)
  T* f[4] = {};    ///< f(y_s) = -y_s + J φ(y_s) + b
};

/// x = φ(h) (after the state is set from the host).
template <class T>
void phi_into(int n, const T* h, T* x, cudaStream_t stream);

/// One Euler (rate) or map state step, fused: drive = J x_in (one thread per row, columns summed
/// in order 0..n-1), h ← update(h, drive, noise), x_out = φ(h_new). Requires x_in = φ(h) on entry;
/// x_out must be a different buffer (other rows still read x_in).
template <class T>
void euler_or_map_state_step(int n, bool map, const T* j, const T* bias, T* h, const T* x_in,
                             T* x_out, T dt, T noise_scale, std::uint64_t noise_key,
                             std::int64_t step, cudaStream_t stream);

/// Stage `stage` (0..3) of the classic RK4 state step: f_s = -y_s + J x_s + b; for stages 0..2
/// also y_{s+1} = h + c_next f_s and x_{s+1} = φ(y_{s+1}); stage 3 moves h (plus noise) and sets
/// x_0 = φ(h). Stage 0 copies h into y_0.
template <class T>
void rk4_stage(int n, int stage, const T* j, const T* bias, const Rk4State<T>& b, T c_next,
               T dt_over_6, T noise_scale, std::uint64_t noise_key, std::int64_t step,
               cudaStream_t stream);

/// s = diag(φ'(h)) q for n×k q.
template <class T>
void scale_rows_by_dphi(int n, int k, const T* h, const T* q, T* s, cudaStream_t stream);

/// The fused pass after RK4 tangent product `stage` (CpuBackend::tangent_step_rk4):
/// K ← K - Q; A ← (stage == 0 ? Q : A) + w K; for stage < 3, S ← diag(φ'(y_next)) (Q + c_next K).
template <class T>
void rk4_tangent_combine(int n, int k, int stage, T w, T c_next, const T* y_next, T* kbuf,
                         const T* q, T* acc, T* s, cudaStream_t stream);

/// After geqrf of the n×k matrix qr: logs[i] += log|R_ii| when `accumulate`; folds geqrf's devInfo
/// into the sticky status word.
template <class T>
void householder_logs(int n, int k, const T* qr, bool accumulate, double* logs, const int* info,
                      int* sticky, cudaStream_t stream);

/// *sticky = *info when *info != 0 and *sticky is still 0 (lazy devInfo check).
void record_info(const int* info, int* sticky, cudaStream_t stream);

/// After the first CholeskyQR potrf of the k×k Gram matrix r: diag1[i] = |R1_ii| and *fail = 1
/// when potrf failed or max/min diag > max_cond (the Householder fallback), else 0.
template <class T>
void cholesky_check(int k, const T* r, const int* info, double max_cond, double* diag1, int* fail,
                    cudaStream_t stream);

/// After the second CholeskyQR potrf: logs[i] += log diag1[i] + log|R2_ii| when `accumulate`;
/// folds the second potrf's devInfo into the sticky status word.
template <class T>
void cholesky_logs(int k, const T* r, const int* info, const double* diag1, bool accumulate,
                   double* logs, int* sticky, cudaStream_t stream);

#define RNNLYAP_KERNELS_EXTERN(T)                                                                  \
  extern template void phi_into<T>(int, const T*, T*, cudaStream_t);                               \
  extern template void euler_or_map_state_step<T>(int, bool, const T*, const T*, T*, const T*, T*, \
                                                  T, T, std::uint64_t, std::int64_t,               \
                                                  cudaStream_t);                                   \
  extern template void rk4_stage<T>(int, int, const T*, const T*, const Rk4State<T>&, T, T, T,     \
                                    std::uint64_t, std::int64_t, cudaStream_t);                    \
  extern template void scale_rows_by_dphi<T>(int, int, const T*, const T*, T*, cudaStream_t);      \
  extern template void rk4_tangent_combine<T>(int, int, int, T, T, const T*, T*, const T*, T*, T*, \
                                              cudaStream_t);                                       \
  extern template void householder_logs<T>(int, int, const T*, bool, double*, const int*, int*,    \
                                           cudaStream_t);                                          \
  extern template void cholesky_check<T>(int, const T*, const int*, double, double*, int*,         \
                                         cudaStream_t);                                            \
  extern template void cholesky_logs<T>(int, const T*, const int*, const double*, bool, double*,   \
                                        int*, cudaStream_t);
RNNLYAP_KERNELS_EXTERN(float)
RNNLYAP_KERNELS_EXTERN(double)
#undef RNNLYAP_KERNELS_EXTERN

// --- the batch (kernels/batch.cu, src/cuda/cuda_batch_backend.cpp) -------------------------------
// B networks of the same size n in lockstep: vectors are B·n values (member b at offset b·n), bases
// B blocks of n×k column-major (member b at offset b·n·k), weights B blocks of n×n, logs B·k
// values. Each launcher does, per member, what its single-network counterpart above does.

/// out[b] = base + b·stride for b < batch (pointer arrays of the batched cuBLAS calls).
template <class T>
void batch_pointers(int batch, T* base, long long stride, T** out, cudaStream_t stream);

/// euler_or_map_state_step for every member; member b draws its noise with noise_keys[b] (a
/// device array of B keys).
template <class T>
void batch_euler_or_map_state_step(int batch, int n, bool map, const T* j, const T* bias, T* h,
                                   const T* x_in, T* x_out, T dt, T noise_scale,
                                   const std::uint64_t* noise_keys, std::int64_t step,
                                   cudaStream_t stream);

/// rk4_stage for every member (the buffers of `b` hold B·n values each).
template <class T>
void batch_rk4_stage(int batch, int n, int stage, const T* j, const T* bias, const Rk4State<T>& b,
                     T c_next, T dt_over_6, T noise_scale, const std::uint64_t* noise_keys,
                     std::int64_t step, cudaStream_t stream);

/// scale_rows_by_dphi for every member: s_b = diag(φ'(h_b)) q_b.
template <class T>
void batch_scale_rows_by_dphi(int batch, int n, int k, const T* h, const T* q, T* s,
                              cudaStream_t stream);

/// rk4_tangent_combine for every member.
template <class T>
void batch_rk4_tangent_combine(int batch, int n, int k, int stage, T w, T c_next, const T* y_next,
                               T* kbuf, const T* q, T* acc, T* s, cudaStream_t stream);

/// After a batched geqrf of the B n×k blocks of qr: logs[b·k + i] += log|R_b(i, i)|.
template <class T>
void batch_diag_logs(int batch, int n, int k, const T* qr, double* logs, cudaStream_t stream);

/// Forms each block's Q (n×k) in place from its geqrf reflectors and tau (B·k values), as
/// LAPACK's orgqr(n, k, k) does: Q = H_1 … H_k [I_k; 0].
template <class T>
void batch_form_q(int batch, int n, int k, T* qr, const T* tau, cudaStream_t stream);

#define RNNLYAP_BATCH_KERNELS_EXTERN(T)                                                           \
  extern template void batch_pointers<T>(int, T*, long long, T**, cudaStream_t);                  \
  extern template void batch_euler_or_map_state_step<T>(int, int, bool, const T*, const T*, T*,   \
                                                        const T*, T*, T, T, const std::uint64_t*, \
                                                        std::int64_t, cudaStream_t);              \
  extern template void batch_rk4_stage<T>(int, int, int, const T*, const T*, const Rk4State<T>&,  \
                                          T, T, T, const std::uint64_t*, std::int64_t,            \
                                          cudaStream_t);                                          \
  extern template void batch_scale_rows_by_dphi<T>(int, int, int, const T*, const T*, T*,         \
                                                   cudaStream_t);                                 \
  extern template void batch_rk4_tangent_combine<T>(int, int, int, int, T, T, const T*, T*,       \
                                                    const T*, T*, T*, cudaStream_t);              \
  extern template void batch_diag_logs<T>(int, int, int, const T*, double*, cudaStream_t);        \
  extern template void batch_form_q<T>(int, int, int, T*, const T*, cudaStream_t);
RNNLYAP_BATCH_KERNELS_EXTERN(float)
RNNLYAP_BATCH_KERNELS_EXTERN(double)
#undef RNNLYAP_BATCH_KERNELS_EXTERN

// --- trained cells (kernels/cells.cu, src/cuda/cuda_cell_backend.cpp) ----------------------------
// N hidden units, G gates (the enumerator's value), gates stacked in PyTorch's order: G·N-vectors
// hold gate g's rows at g·N .. g·N + N - 1. W_hh is column-major G·N × N (leading dimension G·N).

/// The cell of the kernels below; the value is the number of gates G.
enum class CellKind : int { rnn = 1, gru = 3, lstm = 4 };

/// drive[t·gn + r] = (T)(b_ih[r] + Σ_j w_ih_t[j·gn + r] x[t·in + j]) for t < steps, r < gn: the
/// input drive of every step, summed in fp64 in the order j = 0..in-1 and rounded once to T.
/// w_ih_t is W_ih transposed (in × gn as gn × in column-major); b_ih may be null (no bias).
template <class T>
void cell_input_drive(int gn, int in, long long steps, const double* w_ih_t, const double* b_ih,
                      const double* x, T* drive, cudaStream_t stream);

/// One fused step of the cell from h_in (and c): gh = W_hh h_in + b_hh (one thread per row, the
/// columns summed in order from the bias), then per unit the tangent coefficients into coef (6·N
/// values, coefficient j of unit i at j·N + i; skipped when coef is null) and the state update
/// into h_out and c (in place; null for rnn/gru). gi is this step's drive (G·N values). h_out must
/// be a different buffer from h_in.
template <class T>
void cell_step(CellKind kind, int n, const T* whh, const T* bhh, const T* gi, const T* h_in,
               T* h_out, T* c, T* coef, cudaStream_t stream);

/// The tangent step is Q' = E Q_h + D Q (src/cpu/cell_backend.cpp). This forms E (dim × N,
/// leading dimension dim; dim = 2N for the full LSTM, else N) from the coefficients of cell_step
/// and W_hh.
template <class T>
void cell_form_e(CellKind kind, bool h_only, int n, int dim, const T* coef, const T* whh, T* e,
                 cudaStream_t stream);

/// qn = D q, the diagonal part (q and qn dim × k, leading dimension dim). Returns false, launching
/// nothing, when the cell has none (rnn, h-only lstm): then the product must overwrite qn.
template <class T>
bool cell_diagonal(CellKind kind, bool h_only, int n, int dim, int k, const T* coef, const T* q,
                   T* qn, cudaStream_t stream);

#define RNNLYAP_CELL_KERNELS_EXTERN(T)                                                             \
  extern template void cell_input_drive<T>(int, int, long long, const double*, const double*,      \
                                           const double*, T*, cudaStream_t);                       \
  extern template void cell_step<T>(CellKind, int, const T*, const T*, const T*, const T*, T*, T*, \
                                    T*, cudaStream_t);                                             \
  extern template void cell_form_e<T>(CellKind, bool, int, int, const T*, const T*, T*,            \
                                      cudaStream_t);                                               \
  extern template bool cell_diagonal<T>(CellKind, bool, int, int, int, const T*, const T*, T*,     \
                                        cudaStream_t);
RNNLYAP_CELL_KERNELS_EXTERN(float)
RNNLYAP_CELL_KERNELS_EXTERN(double)
#undef RNNLYAP_CELL_KERNELS_EXTERN

}  // namespace rnnlyap::cuda::kernels
