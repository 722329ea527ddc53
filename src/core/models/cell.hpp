// Trained cells (vanilla RNN, GRU, LSTM; PyTorch conventions), B input sequences of one network in
// lockstep. The tangent map is applied through its structure. Every gate derivative is a per-row
// factor, so the parts of the Jacobian that act on δh collapse, in O(G·N²) per step, into one
// dim × N matrix
//   rnn:  E = diag(c0) W_hh
//   gru:  E = diag(c0) W_hr + diag(c1) W_hz + diag(c2) W_hn                  (+ diag(z) on δh)
//   lstm: M = diag(c0) W_hi + diag(c1) W_hf + diag(c2) W_hg, P = diag(c4) W_ho + diag(c5) M,
//         E = [P; M]                                       (+ diag(c5 f; f) on δc; h-only: E = P)
// and the step is Q' = E Q_h + D Q: one GEMM of 2·dim·N·k flops. Against the product W_hh Q_h
// (2·G·N²·k) that is 3× fewer flops for the GRU and 2× fewer for the full LSTM; the dense
// dim × dim Jacobian (what a dense-Jacobian loop multiplies, 2·dim²·k) is never formed.
#pragma once

#include <cstdint>
#include <vector>

#include "../propagator.hpp"
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
  double bytes_needed(int k) const override;
  void upload(Executor<T>& ex, int k) override;
  void set_state(const std::vector<double>& all) override;
  std::vector<double> state_blocking() override;
  T* basis() override { return q_.get(); }
  void state_step(std::int64_t step) override;
  void tangent_step(std::int64_t step) override;

 private:
  void step(std::int64_t t, T* coef);

  const CellNetwork& net_;
  const InputSequences& inputs_;
  CellKind kind_;
  int first_, count_, n_, gn_, dim_, k_ = 0, steps_;
  bool h_only_;
  Executor<T>* ex_ = nullptr;
  Buffer<T> whh_, bhh_, drive_, h_[2], c_, coef_, e_, q_, qn_;
  int h_cur_ = 0;
};

}  // namespace rnnlyap::detail
