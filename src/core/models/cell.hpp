// Trained cells (vanilla RNN with tanh or relu, GRU, LSTM; PyTorch conventions), one layer or a
// stack of L, B input sequences of one network in lockstep. The tangent map is applied through its
// structure. Every gate derivative is a per-row factor, so the parts of a layer's Jacobian that
// act on its own δh collapse, in O(G·N²) per step, into one d × N matrix
//   rnn:  E = diag(c0) W_hh
//   gru:  E = diag(c0) W_hr + diag(c1) W_hz + diag(c2) W_hn                  (+ diag(z) on δh)
//   lstm: M = diag(c0) W_hi + diag(c1) W_hf + diag(c2) W_hg, P = diag(c4) W_ho + diag(c5) M,
//         E = [P; M]                                       (+ diag(c5 f; f) on δc; h-only: E = P)
// and the layer's step is Q_l' = E Q_{h,l} + D Q_l: one GEMM of 2·d·N·k flops. Against the product
// W_hh Q_h (2·G·N²·k) that is 3× fewer flops for the GRU and 2× fewer for the full LSTM; the dense
// Jacobian (what a dense-Jacobian loop multiplies) is never formed.
//
// Stacked layers. The tangent rows are the layers' blocks of d rows (d = N, or 2N for the full
// LSTM), layer 0 first. Layer l > 0 is driven by layer l−1's new h through W_ih_l, so the Jacobian
// is block lower-triangular and layer l's step adds E_in Q'_{h,l−1}, E_in formed from W_ih_l with
// the same row scalings (the GRU's n gate with c4, elementwise.hpp), applied to the rows layer
// l−1 has just been moved to. Layers run in order within a step: state step, E and D·Q, E Q_h,
// then the input term; per layer 2 GEMMs (1 for layer 0). The h-only LSTM holds every layer's c
// fixed, as for one layer: its rows are the L h blocks and E = P, E_in = P_in.
#pragma once

#include <cstdint>
#include <vector>

#include "../propagator.hpp"
#include "cell_kernels.hpp"
#include "cell_layout.hpp"
#include "model.hpp"

namespace rnnlyap::detail {

template <class T>
class CellModel final : public TangentModel<T> {
 public:
  /// Member b runs sequence first + b of `inputs`; net and inputs are read by upload().
  CellModel(const CellNetwork& net, const InputSequences& inputs, int first, int count,
            bool lstm_h_only);

  int batch() const override { return count_; }
  int state_size() const override { return net_.state_size(); }
  int tangent_rows() const override { return dim_; }
  double bytes_needed(int k) const;
  double bytes_needed(const Memory&, int k) const override { return bytes_needed(k); }
  int buffer_count() const override { return 4 * layers_ + 8; }  // upload()'s, at most
  void upload(Executor<T>& ex, int k) override;
  void set_state(const std::vector<double>& all) override;
  std::vector<double> state_blocking() override;
  T* basis() override { return q_.get(); }
  void state_step(std::int64_t step) override;
  void tangent_step(std::int64_t step) override;

 private:
  void check_step(std::int64_t t) const;
  // Layer l's state step at input step t (with coef: its tangent coefficients); the layers below
  // must have stepped already (layer l > 0 reads their new h).
  void layer_step(int l, std::int64_t t, T* coef);

  const CellNetwork& net_;
  const InputSequences& inputs_;
  CellKind kind_;
  int first_, count_, n_, gn_, layers_, d_, dim_, k_ = 0, steps_;
  bool h_only_;
  Executor<T>* ex_ = nullptr;
  CellKernels<T>* kern_ = nullptr;  // ex_'s, found in upload()
  // Per layer: W_hh (G·N × N column-major), b_hh; W_ih and b_ih of layers l > 0 (index l; empty at
  // 0, whose drive W_ih x_t + b_ih is precomputed for every step in drive_).
  std::vector<Buffer<T>> whh_, bhh_, wih_, bih_;
  // h_[.] and c_: L blocks of B·N (layer-major, member-major within a layer); gi_: an upper layer's
  // input drive (B·G·N).
  Buffer<T> drive_, gi_, h_[2], c_, coef_, e_, q_, qn_;
  int h_cur_ = 0;
};

}  // namespace rnnlyap::detail
