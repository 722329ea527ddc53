// Options of a Lyapunov-spectrum run (README, "Using rnnlyap"). Plain data: no CUDA or BLAS headers
// here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rnnlyap {

/// The dynamical system whose tangent dynamics are integrated (docs/design.md, the models table):
/// random/file networks (`rate`, `map`) or trained cells, one layer or a stack, driven by inputs
/// (`rnn`, `gru`, `lstm`, PyTorch conventions).
enum class Model { rate, map, rnn, gru, lstm };
/// The vanilla RNN's nonlinearity (PyTorch's nn.RNN `nonlinearity`); the other models use tanh.
enum class Nonlinearity { tanh, relu };
/// True for the trained, input-driven cells.
inline bool is_cell(Model m) {
  return m == Model::rnn || m == Model::gru || m == Model::lstm;
}
/// Time stepping of the `rate` model; ignored for `map`.
enum class Integrator { euler, rk4 };
/// Where the coupling matrix J comes from.
enum class WeightKind { gaussian, levy, file };
/// Working precision of state, weights and tangent basis; log|R_ii| always accumulate in fp64.
enum class Precision { fp64, fp32 };
/// Which backend runs the primitives; `auto_select` picks CUDA when a device is present.
enum class BackendKind { auto_select, cpu, cuda };
/// How the tangent basis is re-orthonormalised.
enum class QrMethod { householder, cholesky2, auto_select };

/// Every option of `rnnlyap spectrum`. Times are in units of τ for `rate` and in steps for `map`.
struct SpectrumOptions {
  Model model = Model::rate;
  Integrator integrator = Integrator::euler;
  int n = 100;     ///< number of neurons (set by the weights file when one is given)
  double g = 2.0;  ///< gain
  WeightKind weights = WeightKind::gaussian;
  double alpha = 2.0;          ///< tail index for `levy`
  std::string weights_file;    ///< .npy matrix for `file`
  bool zero_diagonal = false;  ///< no autapses
  std::optional<int> k;        ///< number of exponents; defaults to n
  double dt = 0.1;             ///< Euler/RK4 step (rate only)
  double t_warmup = 100;       ///< state-only warm-up
  double t_ons_warmup = 100;   ///< basis warm-up: re-orthonormalised, logs discarded
  double t_sim = 1000;         ///< averaging time
  double t_ons = 1;            ///< time between re-orthonormalisations
  double input_std = 0;        ///< σ of the white-noise input
  std::uint64_t seed = 1;
  BackendKind backend = BackendKind::auto_select;
  int device = 0;  ///< CUDA device index (`--device`)
  Precision precision = Precision::fp64;
  QrMethod qr = QrMethod::auto_select;
  int threads = 0;   ///< CPU threads; 0 takes the BLAS library's default count
  int ensemble = 1;  ///< networks computed (seeds seed, seed+1, ...)
  /// One network over a grid_rows × grid_cols grid of MPI ranks (`--distribute-network
  /// PRxPC`: ScaLAPACK, README "One network over many ranks"); 0 × 0: one process. The program
  /// alone can run it (under mpirun, built with MPI and ScaLAPACK).
  int grid_rows = 0, grid_cols = 0;
  std::string inputs_file;   ///< rnn/gru/lstm: .npy input sequence, T×I or B×T×I
  bool lstm_h_only = false;  ///< lstm: propagate only the h blocks (N per layer, not 2N)
  Nonlinearity nonlinearity = Nonlinearity::tanh;  ///< rnn: tanh or relu
  double bias_std = 0;  ///< rate/map: bias b_i ~ N(0, bias_std²) drawn from the network's seed
  /// Seeds of the parts of a run, each defaulting to `seed` (in an ensemble, member m's seed
  /// + m): given, a part is the same for every member (an ensemble of initial conditions of one
  /// network: network_seed alone).
  std::optional<std::uint64_t> network_seed;  ///< random weights
  std::optional<std::uint64_t> state_seed;    ///< initial state h(0) ~ N(0, 1)
  std::optional<std::uint64_t> basis_seed;    ///< initial tangent basis
  std::optional<std::uint64_t> noise_seed;    ///< white-noise input
  /// A given initial state (.npy of the state's size: N, or 2N for an LSTM, h then c); empty:
  /// drawn from the state seed (random networks) or zero (trained networks, as PyTorch's h0).
  std::string initial_state_file;
  /// Finite-time exponents: the estimate of every exponent over each window of this length (a
  /// whole number of t_ons; windows tile the averaging time); 0: none.
  double ftle_window = 0;
  /// Covariant Lyapunov vectors (Ginelli et al. 2007; result.clv): `clv` keeps the vectors at the
  /// middle of the window, `clv_stats` their statistics over it. The window is the first
  /// `clv_window` of the averaging time (0: all of it; a whole number of t_ons); the backward
  /// iteration discards `clv_transient` (default: t_ons_warmup) before the first instant it
  /// reports. Memory: window·k² + (instants kept)·rows·k doubles. Single runs only.
  bool clv = false;
  bool clv_stats = false;
  double clv_window = 0;
  std::optional<double> clv_transient;

  std::uint64_t network_seed_used() const { return network_seed.value_or(seed); }
  std::uint64_t state_seed_used() const { return state_seed.value_or(seed); }
  std::uint64_t basis_seed_used() const { return basis_seed.value_or(seed); }
  std::uint64_t noise_seed_used() const { return noise_seed.value_or(seed); }

  /// True when one network is spread over a grid of ranks (grid_rows, grid_cols).
  bool distributed() const { return grid_rows > 0 || grid_cols > 0; }
  /// True when covariant vectors are computed.
  bool clv_requested() const { return clv || clv_stats; }
  /// k as used: the given value, or n.
  int num_exponents() const { return k.value_or(n); }
  /// Integration step in model time units: dt for `rate`, 1 for `map` and the cells.
  double step_time() const { return model == Model::rate ? dt : 1.0; }
};

/// The schedule of a run in steps, derived from the times (README, "Using rnnlyap": steps =
/// round(t/dt)).
struct Schedule {
  std::int64_t warmup_steps = 0;   ///< state only
  std::int64_t steps_per_ons = 1;  ///< tangent steps between re-orthonormalisations
  std::int64_t ons_warmup = 0;     ///< re-orthonormalisations whose logs are discarded
  std::int64_t ons_sim = 0;        ///< re-orthonormalisations whose logs are averaged
  double step_time = 0.1;          ///< model time per step
  /// Model time covered by the averaged part of the run.
  double averaged_time() const { return static_cast<double>(ons_sim * steps_per_ons) * step_time; }
  std::int64_t tangent_steps() const { return (ons_warmup + ons_sim) * steps_per_ons; }
};

/// Computes the schedule; assumes validate() passed.
Schedule make_schedule(const SpectrumOptions& opt);

/// Throws InvalidInput naming the first problem with the options (k > n, dt out of (0, 1], ...).
/// File contents are checked when the weights are loaded.
void validate(const SpectrumOptions& opt);

std::string_view to_string(Model m);
std::string_view to_string(Integrator i);
std::string_view to_string(WeightKind w);
std::string_view to_string(Precision p);
std::string_view to_string(BackendKind b);
std::string_view to_string(QrMethod q);
std::string_view to_string(Nonlinearity f);

}  // namespace rnnlyap
