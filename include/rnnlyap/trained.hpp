// Trained, input-driven networks: single-layer vanilla RNN (tanh), GRU and LSTM cells with
// PyTorch's parameter names, shapes and gate order (README, "Trained networks").
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

#include "rnnlyap/npy.hpp"
#include "rnnlyap/options.hpp"
#include "rnnlyap/result.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap {

/// One layer as torch.nn.RNN/GRU/LSTM stores it: weight_ih_l0 (G·N × I), weight_hh_l0 (G·N × N),
/// bias_ih_l0 and bias_hh_l0 (G·N), row-major, gates stacked in PyTorch's order — GRU (r, z, n),
/// LSTM (i, f, g, o); G = 1, 3, 4 for rnn, gru, lstm.
///   rnn:  h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
///   gru:  r = σ(.), z = σ(.), n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z
///   ⊙ h lstm: i, f, o = σ(.), g = tanh(.), c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c')
struct CellNetwork {
  Model type = Model::rnn;
  int hidden = 0;      ///< N
  int input_size = 0;  ///< I
  std::vector<double> w_ih, w_hh, b_ih, b_hh;
  int gates() const { return type == Model::lstm ? 4 : type == Model::gru ? 3 : 1; }
  /// Length of the state vector: N, or 2N for the LSTM (h first, then c).
  int state_size() const { return type == Model::lstm ? 2 * hidden : hidden; }
  /// Rows of the tangent basis: the state, or the LSTM's h block alone with lstm_h_only.
  int tangent_rows(bool lstm_h_only) const { return lstm_h_only ? hidden : state_size(); }
};

/// Builds a cell from state_dict arrays. Keys may carry a module prefix ("rnn.weight_ih_l0"); the
/// biases may both be absent (bias=False). Throws InvalidInput naming a missing key, a wrong shape,
/// a second layer, or a non-finite value; `name` (the file) starts the message.
CellNetwork cell_from_arrays(Model type, const std::map<std::string, NpyArray>& arrays,
                             const std::string& name);
/// Reads an .npz of a state_dict (np.savez(path, **{k: v.numpy() for k, v in sd.items()})).
CellNetwork load_cell_network(Model type, const std::string& npz_path);

/// Input sequences, batch × steps × input_size in C order (a T × I file is one sequence).
struct InputSequences {
  int batch = 0, steps = 0, input_size = 0;
  std::vector<double> data;
  std::span<const double> sequence(int b) const {
    return {data.data() + static_cast<std::size_t>(b) * steps * input_size,
            static_cast<std::size_t>(steps) * input_size};
  }
};
InputSequences load_inputs(const std::string& npy_path);

/// One step of the cell from `state` (h, or h then c) with input x: the next state. The reference
/// the propagators are tested against.
std::vector<double> cell_step(const CellNetwork& net, std::span<const double> state,
                              std::span<const double> x);

/// The schedule for sequences of `steps` inputs: t_warmup, t_ons_warmup, t_ons and t_sim in steps,
/// t_sim = 0 meaning all that is left. Throws InvalidInput when the sequence is too short.
Schedule cell_schedule(const SpectrumOptions& opt, int steps);

/// One spectrum per input sequence (exponents per step; the LSTM's full spectrum has 2N, h block
/// first). The state starts at zero, as PyTorch's default h0 (and c0). Members are the sequences.
EnsembleResult compute_trained_spectra(const SpectrumOptions& opt, const CellNetwork& net,
                                       const InputSequences& inputs,
                                       const Observers& observers = {});
/// Loads opt.weights_file and opt.inputs_file, then computes.
EnsembleResult compute_trained_spectra(const SpectrumOptions& opt, const Observers& observers = {});

}  // namespace rnnlyap
