// Host-callable launchers of the CUDA executor's kernels (state_kernels.cu, cell_kernels.cu,
// qr_kernels.cu). Plain C++17, no CUDA language extensions, so the host compiler includes it too.
// Each launcher queues its kernel on `stream`, checks the launch and returns without waiting;
// each is explicitly instantiated for T = float and double in its .cu file. The per-element
// launchers take the arguments of the kernel of the same name (core/models/*_kernels.hpp; a cell's
// without the cell_ prefix), where their semantics are documented, and do per member the CPU
// executor's arithmetic in its order.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/models/cell_layout.hpp"
#include "core/models/random_network_kernels.hpp"

namespace rnnlyap::cuda::kernels {

using detail::CellKind;
using detail::GruCoef;
using detail::LstmCoef;
using detail::Rk4Buffers;

// --- random networks (state_kernels.cu) ---------------------------------------------------------

template <class T>
void phi_into(long long count, const T* h, T* x, cudaStream_t stream);
// With `drive` (B·n values), the state steps take J φ(h) from it instead of computing it from `j`
// (the distributed executor's, summed over the ranks: src/distributed/); `j` is then not read.
template <class T>
void euler_or_map_state_step(int batch, int n, bool map, const T* j, const T* bias, T* h,
                             const T* x_in, T* x_out, T dt, T noise_scale,
                             const std::uint64_t* keys, std::int64_t step, cudaStream_t stream,
                             const T* drive = nullptr);
template <class T>
void rk4_stage(int batch, int n, int stage, const T* j, const T* bias, const Rk4Buffers<T>& b,
               T c_next, T dt_over_6, T noise_scale, const std::uint64_t* keys, std::int64_t step,
               cudaStream_t stream, const T* drive = nullptr);
template <class T>
void scale_rows_by_dphi(int batch, int n, int k, const T* h, const T* q, T* s, cudaStream_t stream);
template <class T>
void rk4_tangent_combine(int batch, int n, int k, int stage, T w, T c_next, const T* y_next,
                         T* kbuf, const T* q, T* acc, T* s, cudaStream_t stream);

// --- trained cells (cell_kernels.cu) ------------------------------------------------------------

template <class T>
void cell_input_drive(int batch, int m, int n, const T* a, const T* bias, const T* x, T* y,
                      cudaStream_t stream);
template <class T>
void cell_step(CellKind kind, int batch, int n, const T* whh, const T* bhh, const T* gi,
               long long gi_stride, const T* h_in, T* h_out, T* c, T* coef, cudaStream_t stream);
template <class T>
void cell_form_e(CellKind kind, bool h_only, bool input, int batch, int n, int dim, const T* coef,
                 const T* whh, T* e, cudaStream_t stream);
/// Returns false, launching nothing, when the cell has no diagonal part.
template <class T>
bool cell_diagonal(CellKind kind, bool h_only, int batch, int n, int dim, int k, const T* coef,
                   const T* q, T* qn, cudaStream_t stream);

// --- re-orthonormalisation (qr_kernels.cu) ------------------------------------------------------
// B blocks of rows × k, member b's at b·rows·k; logs B·k fp64 values. cuSOLVER's devInfo words
// stay on the device: the kernels fold a nonzero one into a sticky word (the first one wins).

/// out[b] = base + b·stride for b < batch (the pointer arrays of the batched library calls).
template <class T>
void pointers(int batch, T* base, long long stride, T** out, cudaStream_t stream);

/// After geqrf of each block: when `accumulate`, logs[b·k + i] += log|R_b(i, i)| and
/// max_ratio[b·k + i] raised to log|R_b(0, 0)| − log|R_b(i, i)| where that is finite (LogSums,
/// core/executor.hpp); folds *info into *sticky when info is not null.
template <class T>
void householder_logs(int batch, int rows, int k, const T* qr, bool accumulate, double* logs,
                      double* max_ratio, const int* info, int* sticky, cudaStream_t stream);

/// Folds *info into *sticky.
void record_info(const int* info, int* sticky, cudaStream_t stream);

/// Forms each block's Q in place from its geqrf reflectors and tau (B·k values), as LAPACK's
/// orgqr does: Q = H_1 … H_k [I_k; 0].
template <class T>
void form_q(int batch, int rows, int k, T* qr, const T* tau, cudaStream_t stream);

/// CholeskyQR verdicts: what each member does after the first pass. kSkipped is set by the host
/// for a member that goes straight to Householder QR this time (no Cholesky attempt).
enum Verdict : int { kTwoPasses = 0, kFallback = 1, kOnePass = 2, kSkipped = 3 };

/// After the first potrf of the B k×k Gram blocks r (infos: one per member): for each member not
/// marked kSkipped, diag1 = |diag R1| and its verdict: kFallback when potrf failed or max/min diag
/// > max_cond, else kOnePass when max/min diag ≤ one_pass_cond, else kTwoPasses. The R of a
/// kFallback or kSkipped member becomes the identity, so that the solve leaves its Q as it was.
template <class T>
void cholesky_check(int batch, int k, T* r, const int* info, double max_cond, double one_pass_cond,
                    double* diag1, int* verdict, cudaStream_t stream);

/// After the (optional) second potrf: with `second`, `info` holds the second check's verdicts
/// (kTwoPasses = 0 where the second factor is good); a kTwoPasses member whose second factor failed
/// adds no logs (the host restores its basis and runs Householder), and every member but a good
/// kTwoPasses one gets R2 = identity. When `accumulate`, logs += log diag1 (+ log |diag R2| for
/// kTwoPasses) for every kTwoPasses or kOnePass member that did not fail, and max_ratio as in
/// householder_logs. `sticky` is unused: a failed factorisation is never an error.
template <class T>
void cholesky_finish(int batch, int k, T* r, const int* info, bool second, const int* verdict,
                     const double* diag1, bool accumulate, double* logs, double* max_ratio,
                     int* sticky, cudaStream_t stream);

}  // namespace rnnlyap::cuda::kernels
