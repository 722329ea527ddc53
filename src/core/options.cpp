// Validation of the options and the step schedule derived from them (README, "Using rnnlyap").
#include <cmath>
#include <limits>
#include <sstream>
#include <utility>

#include "rnnlyap/errors.hpp"
#include "rnnlyap/option_table.hpp"
#include "rnnlyap/options.hpp"

namespace rnnlyap {
namespace {

[[noreturn]] void fail(const std::string& msg) {
  throw InvalidInput(msg);
}
// A message about one option: its name (and `value`, unless empty), then `text`.
[[noreturn]] void fail(OptionId id, const std::string& value, const std::string& text) {
  throw InvalidInput(id, value, text);
}

std::string fmt(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void require_finite_nonneg(double v, OptionId id) {
  if (!std::isfinite(v) || v < 0) fail(id, "", " must be a finite number >= 0, got " + fmt(v));
}

// Steps for a time t: round(t / step), with the rounding checked so that, e.g., t_ons = 0.25 with
// dt = 0.1 is not silently turned into 0.2.
std::int64_t steps_for(double t, double step) {
  return std::llround(t / step);
}

}  // namespace

void validate(const SpectrumOptions& o) {
  if (o.weights != WeightKind::file || o.n > 0) {
    if (o.n < 1) fail(OptionId::n, "", " must be at least 1, got " + std::to_string(o.n));
  }
  if (o.k && *o.k < 1) fail(OptionId::k, "", " must be at least 1, got " + std::to_string(*o.k));
  if (o.state_seed && !o.initial_state_file.empty())
    fail(OptionId::state_seed, "", " and --initial-state exclude each other (the state is given)");
  // The LSTM's tangent space is (h, c): 2N exponents. A trained network's size (N, layers) is known
  // once its file is loaded: compute_trained_spectra checks k then.
  const int dim = o.model == Model::lstm && !o.lstm_h_only ? 2 * o.n : o.n;
  if (o.k && o.n > 0 && !is_cell(o.model) && *o.k > dim)
    fail(OptionId::k, std::to_string(*o.k),
         std::string(" exceeds the ") +
             (dim == o.n ? "number of neurons N = " : "LSTM state size 2N = ") +
             std::to_string(dim));
  if (!std::isfinite(o.g) || o.g < 0)
    fail(OptionId::g, "", " must be a finite number >= 0, got " + fmt(o.g));
  if (o.weights == WeightKind::levy && !(o.alpha > 0 && o.alpha <= 2))
    fail(OptionId::alpha, "", " must be in (0, 2], got " + fmt(o.alpha));
  if (o.weights == WeightKind::file && o.weights_file.empty())
    fail(OptionId::weights, "file", " needs --weights-file W.npy");
  if (o.weights != WeightKind::file && !o.weights_file.empty())
    fail(OptionId::weights_file, "",
         " is given but --weights is " + std::string(to_string(o.weights)) +
             " (use --weights file)");
  if (o.model == Model::rate && !(o.dt > 0 && o.dt <= 1))
    fail(OptionId::dt, "", " must be in (0, 1], got " + fmt(o.dt));
  require_finite_nonneg(o.t_warmup, OptionId::t_warmup);
  require_finite_nonneg(o.t_ons_warmup, OptionId::t_ons_warmup);
  require_finite_nonneg(o.t_sim, OptionId::t_sim);
  require_finite_nonneg(o.input_std, OptionId::input_std);
  const double step = o.step_time();
  if (!std::isfinite(o.t_ons) || o.t_ons < step)
    fail(OptionId::t_ons, "",
         " must be at least one step (" + fmt(step) + "), got " + fmt(o.t_ons));
  const double per_ons = static_cast<double>(steps_for(o.t_ons, step)) * step;
  if (std::fabs(per_ons - o.t_ons) > 1e-9 * o.t_ons)
    fail(OptionId::t_ons, fmt(o.t_ons), " is not a whole number of steps of " + fmt(step));
  if (is_cell(o.model)) {
    // The files are checked where they are loaded (compute_trained_spectra): the library also
    // takes cells and inputs from memory.
  } else if (!o.inputs_file.empty()) {
    fail(OptionId::inputs, "", " applies to the trained models rnn, gru and lstm only");
  }
  if (o.lstm_h_only && o.model != Model::lstm)
    fail(OptionId::lstm_h_only, "", " applies to --model lstm only");
  if (o.nonlinearity != Nonlinearity::tanh && o.model != Model::rnn)
    fail(OptionId::nonlinearity, "",
         " applies to --model rnn only (" + std::string(to_string(o.model)) + " uses tanh)");
  require_finite_nonneg(o.bias_std, OptionId::bias_std);
  require_finite_nonneg(o.ftle_window, OptionId::ftle_window);
  if (o.ensemble > 1 && o.seed > std::numeric_limits<std::uint64_t>::max() -
                                     static_cast<std::uint64_t>(o.ensemble - 1))
    fail(OptionId::seed, std::to_string(o.seed),
         " with --ensemble " + std::to_string(o.ensemble) + ": the members' seeds seed ... seed+" +
             std::to_string(o.ensemble - 1) + " would pass 2^64-1 and wrap to 0");
  if (o.ftle_window > 0) {
    const double ons = static_cast<double>(steps_for(o.t_ons, step)) * step;
    const double per = o.ftle_window / ons;
    if (std::fabs(per - std::round(per)) > 1e-9 * per || std::round(per) < 1)
      fail(OptionId::ftle_window, fmt(o.ftle_window),
           " is not a whole number of --t-ons " + fmt(o.t_ons));
    if (!is_cell(o.model) && o.ftle_window > o.t_sim)
      fail(OptionId::ftle_window, fmt(o.ftle_window), " is longer than --t-sim " + fmt(o.t_sim));
  }
  require_finite_nonneg(o.clv_window, OptionId::clv_window);
  if (o.clv_transient) require_finite_nonneg(*o.clv_transient, OptionId::clv_transient);
  if (!o.clv_requested() && (o.clv_window > 0 || o.clv_transient))
    fail(o.clv_window > 0 ? OptionId::clv_window : OptionId::clv_transient, "",
         " applies with --clv or --clv-stats only");
  if (o.clv_requested() && o.ensemble > 1)
    fail("--clv and --clv-stats are for single runs, not with --ensemble " +
         std::to_string(o.ensemble));
  for (auto [t, id] : {std::pair{o.clv_window, OptionId::clv_window},
                       std::pair{o.clv_transient.value_or(0), OptionId::clv_transient}}) {
    if (!(t > 0)) continue;
    const double ons = static_cast<double>(steps_for(o.t_ons, step)) * step;
    const double per = t / ons;
    if (std::fabs(per - std::round(per)) > 1e-9 * per || std::round(per) < 1)
      fail(id, fmt(t), " is not a whole number of --t-ons " + fmt(o.t_ons));
  }
  if (!is_cell(o.model) && o.clv_window > o.t_sim)
    fail(OptionId::clv_window, fmt(o.clv_window), " is longer than --t-sim " + fmt(o.t_sim));
  if (o.bias_std != 0 && is_cell(o.model))
    fail(OptionId::bias_std, "",
         " applies to random networks (rate, map) only; a trained network's biases come from its "
         "weights file");
  // Trained models: t_sim = 0 means "all the input that is left" (README, "Using rnnlyap").
  if (!(is_cell(o.model) && o.t_sim == 0) && o.t_sim < o.t_ons)
    fail(OptionId::t_sim, fmt(o.t_sim),
         " is shorter than one re-orthonormalisation interval --t-ons " + fmt(o.t_ons));
  const double max_steps = 1e15;
  if (o.t_warmup / step > max_steps || o.t_sim / step > max_steps ||
      o.t_ons_warmup / step > max_steps)
    fail("run length exceeds 1e15 steps");
  if (o.ensemble < 1)
    fail(OptionId::ensemble, "", " must be at least 1, got " + std::to_string(o.ensemble));
  if (o.threads < 0) fail(OptionId::threads, "", " must be >= 0, got " + std::to_string(o.threads));
  if (o.distributed()) {
    const std::string grid = std::to_string(o.grid_rows) + "x" + std::to_string(o.grid_cols);
    if (o.grid_rows < 1 || o.grid_cols < 1)
      fail(OptionId::distribute_network, grid, ": both sides of the grid must be >= 1");
    if (is_cell(o.model))
      fail(OptionId::distribute_network, "",
           " is for random networks (rate, map); a trained model's sequences are spread over "
           "ranks whole without it");
    if (o.ensemble > 1)
      fail(OptionId::distribute_network, "",
           " spreads one network; an ensemble's networks are spread over ranks whole without it");
    if (o.clv_requested())
      fail(OptionId::distribute_network, "",
           " cannot compute covariant vectors (--clv, --clv-stats)");
    const long long cells = static_cast<long long>(o.grid_rows) * o.grid_cols;
    if (cells > 65536) fail(OptionId::distribute_network, grid, ": at most 65536 ranks");
  }
  if (o.device < 0) fail(OptionId::device, "", " must be >= 0, got " + std::to_string(o.device));
}

Schedule make_schedule(const SpectrumOptions& o) {
  Schedule s;
  s.step_time = o.step_time();
  s.warmup_steps = steps_for(o.t_warmup, s.step_time);
  s.steps_per_ons = std::max<std::int64_t>(1, steps_for(o.t_ons, s.step_time));
  const double ons_time = static_cast<double>(s.steps_per_ons) * s.step_time;
  s.ons_warmup = std::llround(o.t_ons_warmup / ons_time);
  s.ons_sim = std::max<std::int64_t>(1, std::llround(o.t_sim / ons_time));
  return s;
}

namespace {

// An enum value's spelling: the option table's (rnnlyap/option_table.hpp).
template <class E>
std::string_view spelling(E e) {
  return option_info(option_of(e)).values[static_cast<std::size_t>(e)];
}

}  // namespace

std::string_view to_string(Model m) {
  return spelling(m);
}
std::string_view to_string(Integrator i) {
  return spelling(i);
}
std::string_view to_string(WeightKind w) {
  return spelling(w);
}
std::string_view to_string(Precision p) {
  return spelling(p);
}
std::string_view to_string(BackendKind b) {
  return spelling(b);
}
std::string_view to_string(Nonlinearity f) {
  return spelling(f);
}
std::string_view to_string(QrMethod q) {
  return spelling(q);
}

}  // namespace rnnlyap
