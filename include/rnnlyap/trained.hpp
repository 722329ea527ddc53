// Trained, input-driven networks: vanilla RNN (tanh or relu), GRU and LSTM, one layer or a stack,
// with PyTorch's parameter names, shapes and gate order (README, "Trained networks";
// docs/trained.md).
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

/// One layer as torch.nn.RNN/GRU/LSTM stores it (weight_ih_l{l}, weight_hh_l{l}, bias_ih_l{l},
/// bias_hh_l{l}), row-major, gates stacked in PyTorch's order — GRU (r, z, n), LSTM (i, f, g, o):
/// w_ih is G·N × I for layer 0 and G·N × N above it (its input is the new h of layer l − 1), w_hh
/// G·N × N, the biases G·N (empty without biases, in every layer); G = 1, 3, 4 for rnn, gru, lstm.
struct CellLayer {
  std::vector<double> w_ih, w_hh, b_ih, b_hh;
};

/// A trained cell of num_layers() = L layers, layer 0 first. Per layer, with x its input (x_t for
/// layer 0, layer l−1's new h above it):
///   rnn:  h' = φ(W_ih x + b_ih + W_hh h + b_hh), φ = tanh or relu (`nonlinearity`)
///   gru:  r = σ(.), z = σ(.), n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),
///         h' = (1 − z) ⊙ n + z ⊙ h
///   lstm: i, f, o = σ(.), g = tanh(.), c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c')
/// The state is every layer's state, layer 0 first: (h_0, h_1, …) for rnn and gru, (h_0, c_0,
/// h_1, c_1, …) for the LSTM; the tangent basis has the same rows (the h blocks alone with
/// lstm_h_only).
struct CellNetwork {
  Model type = Model::rnn;
  Nonlinearity nonlinearity = Nonlinearity::tanh;  ///< rnn only (nn.RNN's `nonlinearity`)
  int hidden = 0;                                  ///< N, the same in every layer
  int input_size = 0;                              ///< I, layer 0's input
  std::vector<CellLayer> layers = std::vector<CellLayer>(1);  ///< layers 0 … L−1; at least one

  /// Layer l's weights.
  const CellLayer& layer(int l) const { return layers.at(static_cast<std::size_t>(l)); }
  CellLayer& layer(int l) { return layers.at(static_cast<std::size_t>(l)); }
  /// L, PyTorch's num_layers.
  int num_layers() const { return static_cast<int>(layers.size()); }
  /// The layers have biases (bias=True): all of them or none.
  bool has_biases() const { return !layers.empty() && !layers.front().b_ih.empty(); }
  int gates() const { return type == Model::lstm ? 4 : type == Model::gru ? 3 : 1; }
  /// One layer's state: N, or 2N for the LSTM (h first, then c).
  int layer_state_size() const { return type == Model::lstm ? 2 * hidden : hidden; }
  /// Length of the state vector: L layers' states, layer 0 first.
  int state_size() const { return num_layers() * layer_state_size(); }
  /// Rows of one layer's block of the tangent basis: its state, or the LSTM's h alone.
  int layer_tangent_rows(bool lstm_h_only) const {
    return lstm_h_only ? hidden : layer_state_size();
  }
  /// Rows of the tangent basis: L blocks of layer_tangent_rows, layer 0 first.
  int tangent_rows(bool lstm_h_only) const {
    return num_layers() * layer_tangent_rows(lstm_h_only);
  }
};

/// Builds a cell from state_dict arrays: layers l0 … l{L−1} (consecutive; a gap is refused). Keys
/// may carry a module prefix ("rnn.weight_ih_l0"); the biases may be absent in every layer
/// (bias=False). Throws InvalidInput naming a missing key, a missing layer, a wrong shape, a
/// reverse direction or projection, or a non-finite value; `name` (the file) starts the message.
/// The nonlinearity is not in a state_dict: set it afterwards (tanh by default).
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

/// The schedule for sequences of `steps` inputs: t_warmup, t_ons_warmup, t_ons and t_sim in steps,
/// t_sim = 0 meaning all that is left. Throws InvalidInput when the sequence is too short.
Schedule cell_schedule(const SpectrumOptions& opt, int steps);

/// One spectrum per input sequence (exponents per step; up to net.tangent_rows(): L·N, the LSTM's
/// full spectrum 2·L·N). The state starts at zero, as PyTorch's default h0 (and c0). Members are
/// the sequences. opt.nonlinearity must be net.nonlinearity (InvalidInput otherwise).
/// `control.stop_requested` ends the runs early (Interrupted); trained runs keep no checkpoints
/// (a checkpoint or resume path throws InvalidInput).
EnsembleResult compute_trained_spectra(const SpectrumOptions& opt, const CellNetwork& net,
                                       const InputSequences& inputs,
                                       const Observers& observers = {},
                                       const RunControl& control = {});
/// Loads opt.weights_file (with opt.nonlinearity) and opt.inputs_file, then computes.
EnsembleResult compute_trained_spectra(const SpectrumOptions& opt, const Observers& observers = {},
                                       const RunControl& control = {});

}  // namespace rnnlyap
