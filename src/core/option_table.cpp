// The table of options (rnnlyap/option_table.hpp) and the refusal of an option that does not apply
// (README, "Errors"): an option given for another model is refused (exit 2), never recorded in
// `params` and ignored.
#include "rnnlyap/option_table.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "rnnlyap/errors.hpp"

namespace rnnlyap {
namespace {

using T = OptionType;
using std::string_view;

// The spellings of each enum's values, in the enum's order.
constexpr string_view kModels[] = {"rate", "map", "rnn", "gru", "lstm"};
constexpr string_view kIntegrators[] = {"euler", "rk4"};
constexpr string_view kWeights[] = {"gaussian", "levy", "file"};
constexpr string_view kPrecisions[] = {"fp64", "fp32"};
constexpr string_view kBackends[] = {"auto", "cpu", "cuda"};
constexpr string_view kQrMethods[] = {"householder", "cholesky2", "auto"};
constexpr string_view kNonlinearities[] = {"tanh", "relu"};

constexpr unsigned kRate = model_bit(Model::rate), kAll = kAllModels, kRandom = kRandomModels;
constexpr unsigned kBoth = kSpectrum | kSweep;
constexpr std::span<const string_view> kNone;

// clang-format off
// id, command line, Python, type, values, models, scope (when refused for another model), commands,
// help shows the default, help.
const OptionInfo kTable[] = {
  {OptionId::model, "--model", "model", T::choice, kModels, kAll, "", kBoth, true, "rate | map"},
  {OptionId::integrator, "--integrator", "integrator", T::choice, kIntegrators, kRate,
   "the rate model (map and trained models step in discrete time)", kBoth, true,
   "euler | rk4 (rate model)"},
  {OptionId::zero_diagonal, "--zero-diagonal", "zero_diagonal", T::flag, kNone, kRandom,
   "random networks (rate, map); a trained model's weights are used as they are", kBoth, false,
   "no autapses: J_ii = 0"},
  {OptionId::k, "--k", "k", T::integer, kNone, kAll, "", kBoth, false,
   "number of exponents (default: N)"},
  {OptionId::dt, "--dt", "dt", T::real, kNone, kRate,
   "the rate model (map and trained-model times are in steps)", kBoth, true,
   "time step in tau (rate model)"},
  {OptionId::t_warmup, "--t-warmup", "t_warmup", T::real, kNone, kAll, "", kBoth, true,
   "state-only warm-up time"},
  {OptionId::t_ons_warmup, "--t-ons-warmup", "t_ons_warmup", T::real, kNone, kAll, "", kBoth, true,
   "basis warm-up time (logs discarded)"},
  {OptionId::t_sim, "--t-sim", "t_sim", T::real, kNone, kAll, "", kBoth, true, "averaging time"},
  {OptionId::t_ons, "--t-ons", "t_ons", T::real, kNone, kAll, "", kBoth, true,
   "time between re-orthonormalisations"},
  {OptionId::input_std, "--input-std", "input_std", T::real, kNone, kRandom,
   "random networks (rate, map); trained models take --inputs", kBoth, true,
   "std of the white-noise input"},
  {OptionId::seed, "--seed", "seed", T::seed, kNone, kAll, "", kBoth, true,
   "random seed (weights, initial conditions, noise)"},
  {OptionId::network_seed, "--network-seed", "network_seed", T::seed, kNone, kRandom,
   "random networks (rate, map); a trained model is given", kBoth, false,
   "seed of the random weights alone (default: --seed; in an ensemble, fixed: one network, many "
   "initial conditions)"},
  {OptionId::state_seed, "--state-seed", "state_seed", T::seed, kNone, kRandom,
   "random networks (rate, map); a trained model starts at 0 (or --initial-state)", kBoth, false,
   "seed of the initial state alone (default: --seed)"},
  {OptionId::basis_seed, "--basis-seed", "basis_seed", T::seed, kNone, kAll, "", kBoth, false,
   "seed of the initial tangent basis alone (default: --seed)"},
  {OptionId::noise_seed, "--noise-seed", "noise_seed", T::seed, kNone, kRandom,
   "random networks (rate, map) with --input-std > 0", kBoth, false,
   "seed of the white-noise input alone (default: --seed)"},
  {OptionId::backend, "--backend", "backend", T::choice, kBackends, kAll, "", kBoth, true,
   "auto | cpu | cuda"},
  {OptionId::device, "--device", "device", T::integer, kNone, kAll, "", kBoth, true,
   "CUDA device index (cuda and auto backends)"},
  {OptionId::precision, "--precision", "precision", T::choice, kPrecisions, kAll, "", kBoth, true,
   "fp64 | fp32"},
  {OptionId::qr, "--qr", "qr", T::choice, kQrMethods, kAll, "", kBoth, true,
   "householder | cholesky2 | auto"},
  {OptionId::threads, "--threads", "threads", T::integer, kNone, kAll, "", kBoth, true,
   "CPU threads (0: the BLAS library's default count)"},
  {OptionId::ensemble, "--ensemble", "ensemble", T::integer, kNone, kRandom,
   "random networks (rate, map); a trained model is one network", kBoth, true,
   "number of networks (seeds seed, seed+1, ...)"},
  {OptionId::quiet, "--quiet", "", T::flag, kNone, kAll, "", kBoth, false,
   "no progress bar and no summary line"},
  {OptionId::shard, "--shard", "", T::text, kNone, kAll, "", kBoth, false,
   "compute only share I of N (1 <= I <= N) of the independent spectra (ensemble members, "
   "sequences, grid points' members) into the unit file --out; combine the shards' files with "
   "rnnlyap merge"},
  {OptionId::n, "--n", "n", T::integer, kNone, kRandom,
   "random networks (rate, map); a trained model's N comes from its weights", kSpectrum, true,
   "number of neurons"},
  {OptionId::g, "--g", "g", T::real, kNone, kRandom,
   "random networks (rate, map); a trained model's weights are not scaled", kSpectrum, true,
   "gain"},
  {OptionId::weights, "--weights", "weights", T::choice, kWeights, kRandom,
   "random networks (rate, map); a trained model's weights come from --weights-file", kSpectrum,
   true, "gaussian | levy | file"},
  {OptionId::alpha, "--alpha", "alpha", T::real, kNone, kRandom,
   "random networks (rate, map) with levy weights", kSpectrum, true,
   "tail index of levy weights, (0, 2]"},
  {OptionId::weights_file, "--weights-file", "J", T::path, kNone, kAll, "", kSpectrum, false,
   "square float64/float32 .npy matrix (sets N)"},
  {OptionId::inputs, "--inputs", "inputs", T::path, kNone, kTrainedModels,
   "the trained models rnn, gru and lstm", kSpectrum, false,
   "rnn/gru/lstm: input sequence(s), T x I or B x T x I .npy"},
  {OptionId::lstm_h_only, "--lstm-h-only", "lstm_h_only", T::flag, kNone, model_bit(Model::lstm),
   "--model lstm", kSpectrum, false,
   "lstm: propagate only the h block (N exponents; the full (h, c) spectrum has 2N)"},
  {OptionId::ftle_window, "--ftle-window", "ftle_window", T::real, kNone, kAll, "", kSpectrum,
   false,
   "finite-time exponents over windows of this length (a whole number of --t-ons): their "
   "quantiles per exponent in the JSON, every window in --npz"},
  {OptionId::clv, "--clv", "clv", T::path, kNone, kAll, "", kSpectrum, false,
   "covariant Lyapunov vectors at the middle of the --clv-window as an N x k float64 .npy (unit "
   "columns, in the order of the exponents)"},
  {OptionId::clv_stats, "--clv-stats", "clv_stats", T::flag, kNone, kAll, "", kSpectrum, false,
   "covariant-vector statistics in the JSON (\"clv\"): localisation, angles between the unstable "
   "and stable subspaces, each vector's own growth rate"},
  {OptionId::clv_window, "--clv-window", "clv_window", T::real, kNone, kAll, "", kSpectrum, false,
   "covariant vectors: the first T of the averaging time is kept (a whole number of --t-ons; "
   "default: all of it)"},
  {OptionId::clv_transient, "--clv-transient", "clv_transient", T::real, kNone, kAll, "",
   kSpectrum, false,
   "covariant vectors: backward steps (in time) discarded before an instant is used (default: "
   "--t-ons-warmup)"},
  {OptionId::initial_state, "--initial-state", "initial_state", T::path, kNone, kAll, "",
   kSpectrum, false, "the initial state, .npy of N values (2N for lstm: h then c)"},
  {OptionId::nonlinearity, "--nonlinearity", "nonlinearity", T::choice, kNonlinearities,
   model_bit(Model::rnn),
   "--model rnn (gru and lstm have PyTorch's fixed nonlinearities; rate and map use tanh)",
   kSpectrum, true, "rnn: tanh | relu (PyTorch's nn.RNN)"},
  {OptionId::bias_std, "--bias-std", "bias_std", T::real, kNone, kRandom,
   "random networks (rate, map); a trained model's biases come from --weights-file", kSpectrum,
   true, "rate/map: bias b_i ~ N(0, S^2) drawn from the seed (0: no bias)"},
  {OptionId::out, "--out", "", T::path, kNone, kAll, "", kSpectrum, false,
   "result JSON (default: standard output)"},
  {OptionId::trace, "--trace", "", T::path, kNone, kAll, "", kSpectrum, false,
   "CSV of the running estimate at every re-orthonormalisation"},
  {OptionId::npz, "--npz", "", T::path, kNone, kAll, "", kSpectrum, false,
   "every array of the result (and the trace with --trace) as a NumPy .npz"},
  {OptionId::checkpoint, "--checkpoint", "", T::path, kNone, kAll, "", kSpectrum, false,
   "write a checkpoint here every --checkpoint-every seconds and on SIGINT/SIGTERM"},
  {OptionId::checkpoint_every, "--checkpoint-every", "", T::real, kNone, kAll, "", kSpectrum, true,
   "seconds between checkpoints"},
  {OptionId::resume, "--resume", "", T::path, kNone, kAll, "", kSpectrum, false,
   "continue the run saved in this checkpoint"},
  {OptionId::distribute_network, "--distribute-network", "", T::text, kNone, kRandom,
   "random networks (rate, map); a trained model's sequences are spread over ranks whole",
   kSpectrum, false,
   "PRxPC: one network's matrices in blocks over a PR x PC grid of the PR*PC MPI ranks "
   "(ScaLAPACK, or with --backend cuda cuBLASMp/cuSOLVERMp on one GPU per rank; mpirun -n PR*PC)"},
};
// clang-format on

// Which option is refused first when several that do not apply are given.
constexpr OptionId kRefusalOrder[] = {OptionId::integrator,
                                      OptionId::dt,
                                      OptionId::ensemble,
                                      OptionId::input_std,
                                      OptionId::zero_diagonal,
                                      OptionId::n,
                                      OptionId::g,
                                      OptionId::weights,
                                      OptionId::alpha,
                                      OptionId::inputs,
                                      OptionId::lstm_h_only,
                                      OptionId::network_seed,
                                      OptionId::state_seed,
                                      OptionId::noise_seed,
                                      OptionId::nonlinearity,
                                      OptionId::bias_std};

// Python's refusals (python_refusal): the keyword arguments of one function of the package that
// another function or the command line takes, with what each is for, worded for Python (its
// functions and arguments). The model families as Python names them:
constexpr string_view kPyRandom =
    "the random networks (rate, map) of rnnlyap.spectrum and rnnlyap.sweep";
constexpr string_view kPyTrained =
    "the trained models rnn, gru and lstm (rnnlyap.trained_spectrum)";

constexpr unsigned bit(PythonFunction f) {
  return 1u << static_cast<unsigned>(f);
}
constexpr unsigned kPySpectrum = bit(PythonFunction::spectrum);
constexpr unsigned kPyTrainedSpectrum = bit(PythonFunction::trained_spectrum);
constexpr unsigned kPySweep = bit(PythonFunction::sweep);

struct PythonArgument {
  unsigned functions;  ///< the functions that refuse it
  string_view name;
  string_view family;  ///< the model family it is for (kPyRandom, kPyTrained) or empty
  string_view scope;   ///< what follows the family
  bool whole = false;  ///< scope is the whole message
};

// clang-format off
const PythonArgument kPythonArguments[] = {
  {kPyTrainedSpectrum, "n", kPyRandom, "; a trained model's N comes from its weights"},
  {kPyTrainedSpectrum, "g", kPyRandom, "; a trained model's weights are not scaled"},
  {kPyTrainedSpectrum, "weights", kPyRandom, "; a trained model's weights are `network`"},
  {kPyTrainedSpectrum, "J", kPyRandom, "; a trained model's weights are `network`"},
  {kPyTrainedSpectrum, "alpha", kPyRandom, " with levy weights"},
  {kPyTrainedSpectrum, "ensemble", kPyRandom,
   "; a trained model is one network (give several input sequences)"},
  {kPyTrainedSpectrum, "input_std", kPyRandom, "; a trained model takes `inputs`"},
  {kPyTrainedSpectrum, "bias_std", kPyRandom, "; a trained model's biases come from its weights"},
  {kPyTrainedSpectrum, "zero_diagonal", kPyRandom,
   "; a trained model's weights are used as they are"},
  {kPyTrainedSpectrum, "integrator", "", "the rate model (trained models step in discrete time)"},
  {kPyTrainedSpectrum, "dt", "", "the rate model (trained-model times are in steps)"},
  {kPyTrainedSpectrum, "trace", "", "single runs of random networks (rnnlyap.spectrum)"},
  {kPyTrainedSpectrum, "partial", "", "rnnlyap.sweep"},
  {kPyTrainedSpectrum, "state_dict", "",
   "state_dict is now `network`: pass the state_dict (or the module itself) as the first argument "
   "or network=", true},
  {kPySpectrum | kPySweep, "inputs", kPyTrained, ""},
  {kPySpectrum | kPySweep, "network", kPyTrained, ""},
  {kPySpectrum | kPySweep, "state_dict", kPyTrained, ""},
  {kPySpectrum | kPySweep, "lstm_h_only", "", "model 'lstm' (rnnlyap.trained_spectrum)"},
  {kPySpectrum | kPySweep, "batch_first", kPyTrained, ""},
  {kPySpectrum | kPySweep, "nonlinearity", kPyTrained, ""},
  {kPySpectrum | kPySweep, "num_layers", kPyTrained, ""},
  {kPySpectrum | kPySweep, "weights_file", "",
   "the command line; load the matrix (np.load) and pass it as J"},
  {kPySpectrum | kPySweep, "inputs_file", "",
   "the command line; load the inputs (np.load) and pass them as inputs"},
  {kPySweep, "bias_std", "",
   "single random networks and ensembles (rnnlyap.spectrum), as on the command line"},
  {kPySweep, "J", "", "rnnlyap.spectrum; a sweep draws its networks (gaussian, or levy with alpha)"},
  {kPySweep, "weights", "",
   "rnnlyap.spectrum; a sweep's weights are gaussian, or levy when alpha is given"},
  {kPySweep, "trace", "", "single runs (rnnlyap.spectrum)"},
};
// clang-format on

// Each Python function as its refusals name it.
constexpr string_view kPythonFunctions[] = {
    "rnnlyap.spectrum (models rate and map)",
    "rnnlyap.trained_spectrum (trained models rnn, gru, lstm)",
    "rnnlyap.sweep (grids of random networks)"};

bool has(std::span<const OptionId> given, OptionId id) {
  return std::find(given.begin(), given.end(), id) != given.end();
}

}  // namespace

std::span<const OptionInfo> option_table() {
  return kTable;
}

const OptionInfo& option_info(OptionId id) {
  return kTable[static_cast<std::size_t>(id)];
}

std::string_view option_name(OptionId id, Spelling s) {
  const OptionInfo& o = option_info(id);
  return s == Spelling::cli || o.python.empty() ? o.cli : o.python;
}

int choice_index(OptionId id, std::string_view name) {
  const auto values = option_info(id).values;
  const auto it = std::find(values.begin(), values.end(), name);
  return it == values.end() ? -1 : static_cast<int>(it - values.begin());
}

int parse_choice_index(OptionId id, std::string_view name) {
  if (const int i = choice_index(id, name); i >= 0) return i;
  const auto values = option_info(id).values;
  std::vector<std::string_view> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  std::string names;
  for (std::string_view v : sorted) names += (names.empty() ? "" : "|") + std::string(v);
  throw InvalidInput(id, "", " must be one of " + names + ", got '" + std::string(name) + "'");
}

namespace {

// Python writes a number given to an option as name=value ("t_ons=0.25"), other words after a
// space.
bool starts_a_number(const std::string& v) {
  std::size_t i = v.empty() || (v[0] != '-' && v[0] != '+') ? 0 : 1;
  if (i < v.size() && v[i] == '.') ++i;
  return i < v.size() && v[i] >= '0' && v[i] <= '9';
}

std::string spelled(OptionId id, const std::string& value, const std::string& text, Spelling s) {
  std::string m(option_name(id, s));
  if (!value.empty()) m += (s == Spelling::python && starts_a_number(value) ? "=" : " ") + value;
  return m + text;
}

}  // namespace

InvalidInput::InvalidInput(OptionId id, std::string value, std::string text)
    : Error(spelled(id, value, text, Spelling::cli)),
      option_(id),
      value_(std::move(value)),
      text_(std::move(text)) {}

std::string InvalidInput::message(Spelling s) const {
  return option_ ? spelled(*option_, value_, text_, s) : what();
}

std::string python_refusal(PythonFunction f, std::string_view name) {
  for (const PythonArgument& a : kPythonArguments) {
    if ((a.functions & bit(f)) == 0 || a.name != name) continue;
    if (a.whole) return std::string(a.scope);
    return std::string(name) + " does not apply to " +
           std::string(kPythonFunctions[static_cast<std::size_t>(f)]) + "; it is for " +
           std::string(a.family) + std::string(a.scope);
  }
  return "";
}

void refuse_options_that_do_not_apply(const SpectrumOptions& o, std::span<const OptionId> given,
                                      Spelling s) {
  auto name = [s](OptionId id) { return std::string(option_name(id, s)); };
  for (OptionId id : kRefusalOrder) {
    const OptionInfo& info = option_info(id);
    if (has(given, id) && (info.models & model_bit(o.model)) == 0)
      throw InvalidInput(name(id) + " does not apply to " + name(OptionId::model) + " " +
                         std::string(to_string(o.model)) + " (it is for " +
                         std::string(info.scope) + ")");
  }
  // Within the random networks: the tail index is for levy weights, the gain for generated ones.
  if (has(given, OptionId::alpha) && o.weights != WeightKind::levy)
    throw InvalidInput(name(OptionId::alpha) + " applies to " + name(OptionId::weights) +
                       " levy only (" + std::string(to_string(o.weights)) +
                       " weights have no tail index)");
  if (o.weights == WeightKind::file && has(given, OptionId::network_seed))
    throw InvalidInput(name(OptionId::network_seed) +
                       " does not apply to a weights file (its weights are given)");
  if (has(given, OptionId::noise_seed) && !(o.input_std > 0))
    throw InvalidInput(name(OptionId::noise_seed) + " applies with " + name(OptionId::input_std) +
                       " > 0 only (there is no noise)");
  if (o.weights == WeightKind::file && has(given, OptionId::g))
    throw InvalidInput(name(OptionId::g) +
                       " does not apply to a weights file (its matrix is used as it is; scale the "
                       "file instead)");
}

}  // namespace rnnlyap
