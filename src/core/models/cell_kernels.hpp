// The per-element kernels of the trained cells (cell.cpp): declared here, beside the model, and
// implemented once per backend (src/cpu/cell_kernels.cpp, src/cuda/cuda_executor.cpp over
// cell_kernels.cu). The model finds them once, in upload(), with
// Executor::kernels<CellKernels<T>>(), and calls them once per layer and step on the whole batch.
//
// One layer at a time. N units, G = cell_gates(kind) gates; W_hh (G·N × N column-major) and b_hh
// are shared by every member; gi is member 0's input drive of this step (G·N values), member b's
// at gi + b·gi_stride; h, c B·N values; coef B blocks of kCoefSlots·N (cell_layout.hpp); e B
// blocks of dim × N; q, qn B blocks of dim × k (a stacked network passes q and qn offset to the
// layer's first row, and dim its total rows). The pointers are the executor's memory.
#pragma once

#include "../executor.hpp"
#include "cell_layout.hpp"

namespace rnnlyap::detail {

template <class T>
class CellKernels : public Kernels {
 public:
  /// y_b = A x_b + bias for b < batch: A (m × n column-major) and bias (m) shared, x B·n values, y
  /// B·m values; each row summed from the bias over columns 0..n-1 in order (the input drive
  /// W_ih h + b_ih of a stacked layer, from the new h of the layer below).
  virtual void input_drive(int batch, int m, int n, const T* a, const T* bias, const T* x,
                           T* y) = 0;
  /// gh = W_hh h_in + b_hh (each row summed from the bias over columns 0..N-1 in order), then per
  /// unit the tangent coefficients into coef (skipped when null) and the state update into h_out
  /// and c (c in place; null but for the LSTM). h_out is another buffer than h_in.
  virtual void step(CellKind kind, int batch, int n, const T* whh, const T* bhh, const T* gi,
                    long long gi_stride, const T* h_in, T* h_out, T* c, T* coef) = 0;
  /// E, the dim × N matrix that maps δh to the new tangent vector (cell.hpp), from w = W_hh. With
  /// `input`, w is a stacked layer's W_ih (G·N × N) and E maps the layer's input δx (the layer
  /// below's new δh): the same row scalings, but the GRU's n gate takes n_x (its input part is
  /// not reset by r) instead of n_h.
  virtual void form_e(CellKind kind, bool h_only, bool input, int batch, int n, int dim,
                      const T* coef, const T* w, T* e) = 0;
  /// qn = D q, the diagonal part of the tangent map (gru: keep = z on δh; full lstm: keep = f on
  /// δc, into both blocks), rows 0 … 2N−1 of each column (dim: the leading dimension and a
  /// member's rows). Returns false, doing nothing, when the cell has none (rnn, h-only lstm).
  virtual bool diagonal(CellKind kind, bool h_only, int batch, int n, int dim, int k, const T* coef,
                        const T* q, T* qn) = 0;
};

}  // namespace rnnlyap::detail
