// A trained cell's kind and the layout of its tangent coefficients: one header for the model
// (cell.cpp), the per-element math (core/elementwise.hpp, cell_unit) and every backend's cell
// kernels, so that a slot is named once. Plain C++ (host and device code include it).
#pragma once

namespace rnnlyap::detail {

/// The cell of a trained network: the vanilla RNN with tanh or relu (nn.RNN's nonlinearity), the
/// GRU or the LSTM.
enum class CellKind : int { rnn_tanh, rnn_relu, gru, lstm };

/// G, the number of gates of a kind: 1 (rnn_tanh, rnn_relu), 3 (gru), 4 (lstm).
constexpr int cell_gates(CellKind kind) {
  return kind == CellKind::lstm ? 4 : kind == CellKind::gru ? 3 : 1;
}
/// cell_gates(K) as a constant, which device code may read (it may not call a host function).
template <CellKind K>
inline constexpr int kCellGates = cell_gates(K);

/// The tangent coefficients of one member and layer: kCoefSlots blocks of N values, slot s of unit
/// i at s·N + i. cell_unit (elementwise.hpp) writes them from the state before the step; the
/// tangent step (models/cell.hpp) applies them as per-row factors of the weights' gate blocks.
inline constexpr int kCoefSlots = 6;

/// The vanilla RNN, h' = φ(a): dh' = act (W_hh dh + W_ih dx).
struct RnnCoef {
  static constexpr int act = 0;  ///< φ'(a)
};

/// The GRU: dh' = r (W_hr dh + W_ir dx) + z (W_hz dh + W_iz dx) + n_h (W_hn dh) + n_x (W_in dx)
/// + keep dh.
struct GruCoef {
  static constexpr int r = 0;     ///< (1 − z) φ'(a_n) σ'(a_r) gh_n: through the reset gate
  static constexpr int z = 1;     ///< σ'(a_z) (h − n): through the update gate
  static constexpr int n_h = 2;   ///< (1 − z) φ'(a_n) r: the n gate's hidden part (reset by r)
  static constexpr int keep = 3;  ///< z: the diagonal part on δh
  static constexpr int n_x =
      4;  ///< (1 − z) φ'(a_n): the n gate's input part (a stacked layer's W_in)
};

/// The LSTM: dc' = i (W_hi dh + W_ii dx) + f (W_hf dh + W_if dx) + g (W_hg dh + W_ig dx) + keep dc,
/// dh' = o (W_ho dh + W_io dx) + c_to_h dc'.
struct LstmCoef {
  static constexpr int i = 0;       ///< σ'(a_i) g
  static constexpr int f = 1;       ///< σ'(a_f) c
  static constexpr int g = 2;       ///< i φ'(a_g)
  static constexpr int keep = 3;    ///< f: the diagonal part on δc
  static constexpr int o = 4;       ///< σ'(a_o) φ(c')
  static constexpr int c_to_h = 5;  ///< o φ'(c'): how dc' enters dh'
};

}  // namespace rnnlyap::detail
