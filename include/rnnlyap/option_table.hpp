// The options of `rnnlyap spectrum` and `rnnlyap sweep`, described once (README, "Using rnnlyap"):
// each option's names on the command line and in Python, its type, the spellings of its values,
// the models it applies to and its one-line documentation. The command line builds its options
// from this table, the enums' names and Python's names of flags and choices come from it, and an
// option given where it does not apply is refused here: on the command line by the models it
// applies to, in Python by the keyword arguments each function of the package refuses
// (python_refusal).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "rnnlyap/options.hpp"

namespace rnnlyap {

/// Every option, in the order of the command line's help: the options `spectrum` and `sweep`
/// share, then those of `spectrum` alone.
// clang-format off
enum class OptionId {
  model, integrator, zero_diagonal, k, dt, t_warmup, t_ons_warmup, t_sim, t_ons, input_std, seed,
  network_seed, state_seed, basis_seed, noise_seed, backend, device, precision, qr, threads,
  ensemble, quiet, shard,
  n, g, weights, alpha, weights_file, inputs, lstm_h_only, ftle_window, clv, clv_stats, clv_window,
  clv_transient, initial_state, nonlinearity, bias_std, out, trace, npz, checkpoint,
  checkpoint_every, resume, distribute_network
};
// clang-format on

/// Which front end's names an option goes by: `--t-sim` on the command line, `t_sim` in Python.
enum class Spelling { cli, python };

/// What an option takes: a flag takes no value, a choice one of `values`, a seed a whole number in
/// 0 ... 2^64 - 1, a path a file name.
enum class OptionType { flag, integer, real, seed, choice, path, text };

/// A set of models, one bit per Model.
constexpr unsigned model_bit(Model m) {
  return 1u << static_cast<unsigned>(m);
}
inline constexpr unsigned kAllModels = 0x1f;
inline constexpr unsigned kRandomModels = model_bit(Model::rate) | model_bit(Model::map);
inline constexpr unsigned kTrainedModels =
    model_bit(Model::rnn) | model_bit(Model::gru) | model_bit(Model::lstm);

/// The commands an option belongs to.
inline constexpr unsigned kSpectrum = 1, kSweep = 2;

struct OptionInfo {
  OptionId id;
  std::string_view cli;     ///< "--t-sim"
  std::string_view python;  ///< "t_sim"; empty: the command line's alone
  OptionType type;
  /// A choice's spellings, indexed by its enum's value (Model::map is values[1]).
  std::span<const std::string_view> values;
  unsigned models;         ///< model_bit()s it applies to
  std::string_view scope;  ///< what it is for, said when it is refused for another model
  unsigned commands;       ///< kSpectrum, kSweep
  bool show_default;       ///< the help shows the default value
  std::string_view help;   ///< one line of documentation
};

/// Every option, in OptionId's order.
std::span<const OptionInfo> option_table();
const OptionInfo& option_info(OptionId id);
std::string_view option_name(OptionId id, Spelling s);

/// The option whose values an enum's are.
// clang-format off
constexpr OptionId option_of(Model) { return OptionId::model; }
constexpr OptionId option_of(Integrator) { return OptionId::integrator; }
constexpr OptionId option_of(WeightKind) { return OptionId::weights; }
constexpr OptionId option_of(Precision) { return OptionId::precision; }
constexpr OptionId option_of(BackendKind) { return OptionId::backend; }
constexpr OptionId option_of(QrMethod) { return OptionId::qr; }
constexpr OptionId option_of(Nonlinearity) { return OptionId::nonlinearity; }
// clang-format on

/// The index of `name` among the option's values; -1 when it is none of them.
int choice_index(OptionId id, std::string_view name);
/// The enum value named `name`; throws InvalidInput "--qr must be one of a|b|c, got 'x'" (the
/// names in alphabetical order) about the option when it is none of them.
int parse_choice_index(OptionId id, std::string_view name);
template <class E>
E parse_choice(std::string_view name) {
  return static_cast<E>(parse_choice_index(option_of(E{}), name));
}

/// Throws InvalidInput naming the first option of `given` that does not apply to the options `o`
/// (README, "Errors"): one for another model, the tail index without levy weights, the gain or the
/// network seed with a weights file, the noise seed without noise. `s` names them.
void refuse_options_that_do_not_apply(const SpectrumOptions& o, std::span<const OptionId> given,
                                      Spelling s = Spelling::cli);

/// The functions of the Python package (python/rnnlyap).
enum class PythonFunction { spectrum, trained_spectrum, sweep };

/// The message refusing the keyword argument `name` that the Python function `f` does not take but
/// another function or the command line does ("n does not apply to rnnlyap.trained_spectrum
/// (trained models rnn, gru, lstm); it is for ..."); empty when `name` is none of those (Python
/// raises its own TypeError).
std::string python_refusal(PythonFunction f, std::string_view name);

}  // namespace rnnlyap
