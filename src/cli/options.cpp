#include "options.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <set>
#include <tuple>
#include <vector>

#include "rnnlyap/errors.hpp"
#include "rnnlyap/option_table.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap::cli {

void add_common_options(CLI::App& sub, SpectrumOptions& o, SpectrumArgs& a) {
  sub.add_option("--model", a.model, "rate | map")->capture_default_str();
  sub.add_option("--integrator", a.integrator, "euler | rk4 (rate model)")->capture_default_str();
  sub.add_flag("--zero-diagonal", o.zero_diagonal, "no autapses: J_ii = 0");
  sub.add_option("--k", a.k, "number of exponents (default: N)");
  sub.add_option("--dt", o.dt, "time step in tau (rate model)")->capture_default_str();
  sub.add_option("--t-warmup", o.t_warmup, "state-only warm-up time")->capture_default_str();
  sub.add_option("--t-ons-warmup", o.t_ons_warmup, "basis warm-up time (logs discarded)")
      ->capture_default_str();
  sub.add_option("--t-sim", o.t_sim, "averaging time")->capture_default_str();
  sub.add_option("--t-ons", o.t_ons, "time between re-orthonormalisations")->capture_default_str();
  sub.add_option("--input-std", o.input_std, "std of the white-noise input")->capture_default_str();
  sub.add_option("--seed", a.seed, "random seed (weights, initial conditions, noise)")
      ->capture_default_str();
  sub.add_option("--network-seed", a.network_seed,
                 "seed of the random weights alone (default: --seed; in an ensemble, fixed: one "
                 "network, many initial conditions)");
  sub.add_option("--state-seed", a.state_seed, "seed of the initial state alone (default: --seed)");
  sub.add_option("--basis-seed", a.basis_seed,
                 "seed of the initial tangent basis alone (default: --seed)");
  sub.add_option("--noise-seed", a.noise_seed,
                 "seed of the white-noise input alone (default: --seed)");
  sub.add_option("--backend", a.backend, "auto | cpu | cuda")->capture_default_str();
  sub.add_option("--device", o.device, "CUDA device index (cuda and auto backends)")
      ->capture_default_str();
  sub.add_option("--precision", a.precision, "fp64 | fp32")->capture_default_str();
  sub.add_option("--qr", a.qr, "householder | cholesky2 | auto")->capture_default_str();
  sub.add_option("--threads", o.threads, "CPU BLAS threads (0: the library's default)")
      ->capture_default_str();
  sub.add_option("--ensemble", o.ensemble, "number of networks (seeds seed, seed+1, ...)")
      ->capture_default_str();
  sub.add_flag("--quiet", a.quiet, "no progress bar and no summary line");
  sub.add_option("--shard", a.shard,
                 "compute only share I of N (1 <= I <= N) of the independent spectra (ensemble "
                 "members, sequences, grid points' members) into the unit file --out; combine the "
                 "shards' files with rnnlyap merge");
}

void add_spectrum_options(CLI::App& sub, SpectrumOptions& o, SpectrumArgs& a) {
  add_common_options(sub, o, a);
  sub.add_option("--n", o.n, "number of neurons")->capture_default_str();
  sub.add_option("--g", o.g, "gain")->capture_default_str();
  sub.add_option("--weights", a.weights, "gaussian | levy | file")->capture_default_str();
  sub.add_option("--alpha", o.alpha, "tail index of levy weights, (0, 2]")->capture_default_str();
  sub.add_option("--weights-file", o.weights_file, "square float64/float32 .npy matrix (sets N)");
  sub.add_option("--inputs", o.inputs_file,
                 "rnn/gru/lstm: input sequence(s), T x I or B x T x I .npy");
  sub.add_flag("--lstm-h-only", o.lstm_h_only,
               "lstm: propagate only the h block (N exponents; the full (h, c) spectrum has 2N)");
  sub.add_option("--ftle-window", o.ftle_window,
                 "finite-time exponents over windows of this length (a whole number of --t-ons): "
                 "their quantiles per exponent in the JSON, every window in --npz");
  sub.add_option("--clv", a.clv,
                 "covariant Lyapunov vectors at the middle of the --clv-window as an N x k float64 "
                 ".npy (unit columns, in the order of the exponents)");
  sub.add_flag("--clv-stats", o.clv_stats,
               "covariant-vector statistics in the JSON (\"clv\"): localisation, angles between "
               "the unstable and stable subspaces, each vector's own growth rate");
  sub.add_option("--clv-window", o.clv_window,
                 "covariant vectors: the first T of the averaging time is kept (a whole number "
                 "of --t-ons; default: all of it)");
  sub.add_option("--clv-transient", a.clv_transient,
                 "covariant vectors: backward steps (in time) discarded before an instant is used "
                 "(default: --t-ons-warmup)");
  sub.add_option("--initial-state", o.initial_state_file,
                 "the initial state, .npy of N values (2N for lstm: h then c)");
  sub.add_option("--nonlinearity", a.nonlinearity, "rnn: tanh | relu (PyTorch's nn.RNN)")
      ->capture_default_str();
  sub.add_option("--bias-std", o.bias_std,
                 "rate/map: bias b_i ~ N(0, S^2) drawn from the seed (0: no bias)")
      ->capture_default_str();
  sub.add_option("--out", a.out, "result JSON (default: standard output)");
  sub.add_option("--trace", a.trace, "CSV of the running estimate at every re-orthonormalisation");
  sub.add_option("--npz", a.npz,
                 "every array of the result (and the trace with --trace) as a NumPy .npz");
  sub.add_option("--checkpoint", a.checkpoint,
                 "write a checkpoint here every --checkpoint-every seconds and on SIGINT/SIGTERM");
  sub.add_option("--checkpoint-every", a.checkpoint_every, "seconds between checkpoints")
      ->capture_default_str();
  sub.add_option("--resume", a.resume, "continue the run saved in this checkpoint");
}

void resume_options(SpectrumOptions& o, const SpectrumArgs& a, const CLI::App& sub) {
  static const std::set<std::string> changeable = {
      "--resume", "--checkpoint", "--checkpoint-every", "--out",    "--trace",
      "--npz",    "--quiet",      "--backend",          "--device", "--threads"};
  for (const CLI::Option* opt : sub.get_options()) {
    if (opt->count() == 0) continue;
    const std::string name = opt->get_name();
    if (name.rfind("--", 0) == 0 && changeable.count(name) == 0)
      throw InvalidInput(name + " cannot be changed when resuming (the run's options are in " +
                         a.resume + ")");
  }
  SpectrumOptions saved = read_checkpoint_options(a.resume);
  if (sub.count("--backend") > 0) saved.backend = o.backend;
  if (sub.count("--device") > 0) saved.device = o.device;
  if (sub.count("--threads") > 0) saved.threads = o.threads;
  o = saved;
}

bool given(const CLI::App& sub, const char* flag) {
  const CLI::Option* opt = sub.get_option_no_throw(flag);
  return opt != nullptr && opt->count() > 0;
}

namespace {

// A seed is a whole number in 0 ... 2^64 - 1: no sign, no fraction, no exponent, no wrap-around.
std::uint64_t parse_seed(const std::string& text, const std::string& flag = "--seed") {
  const bool digits =
      !text.empty() && text.size() <= 20 &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  errno = 0;
  const unsigned long long v = digits ? std::strtoull(text.c_str(), nullptr, 10) : 0;
  if (!digits || errno == ERANGE)
    throw InvalidInput(flag + " must be a whole number in 0 ... 18446744073709551615, got '" +
                       text + "'");
  return static_cast<std::uint64_t>(v);
}

// The table's options given on `sub` (a sweep's grids --g, --alpha and --n go by the names of the
// options they vary).
std::vector<OptionId> given_options(const CLI::App& sub) {
  std::vector<OptionId> ids;
  for (const OptionInfo& info : option_table())
    if (given(sub, std::string(info.cli).c_str())) ids.push_back(info.id);
  return ids;
}

// The choices (--model, --backend, ...) parsed.
void resolve_choices(SpectrumOptions& o, const SpectrumArgs& a) {
  o.model = parse_choice<Model>(a.model);
  o.integrator = parse_choice<Integrator>(a.integrator);
  o.nonlinearity = parse_choice<Nonlinearity>(a.nonlinearity);
  o.weights = parse_choice<WeightKind>(a.weights);
  o.backend = parse_choice<BackendKind>(a.backend);
  o.precision = parse_choice<Precision>(a.precision);
  o.qr = parse_choice<QrMethod>(a.qr);
}

// --device and the seeds, each given as a whole number.
void resolve_numbers(SpectrumOptions& o, const SpectrumArgs& a, const CLI::App& sub) {
  if (o.device < 0) throw InvalidInput("--device must be >= 0, got " + std::to_string(o.device));
  if (given(sub, "--seed")) o.seed = parse_seed(a.seed);
  for (auto [flag, text, seed] : {std::tuple{"--network-seed", &a.network_seed, &o.network_seed},
                                  std::tuple{"--state-seed", &a.state_seed, &o.state_seed},
                                  std::tuple{"--basis-seed", &a.basis_seed, &o.basis_seed},
                                  std::tuple{"--noise-seed", &a.noise_seed, &o.noise_seed}})
    if (given(sub, flag)) *seed = parse_seed(*text, flag);
}

}  // namespace

void resolve(SpectrumOptions& o, const SpectrumArgs& a, const CLI::App& sub) {
  resolve_choices(o, a);
  resolve_numbers(o, a, sub);
  // A weights file implies --weights file; N then comes from the file.
  if (!o.weights_file.empty() && sub.count("--weights") == 0) o.weights = WeightKind::file;
  // A sweep has no --weights: its --alpha grid itself selects levy weights.
  SpectrumOptions as_given = o;
  if (sub.get_option_no_throw("--weights") == nullptr && given(sub, "--alpha"))
    as_given.weights = WeightKind::levy;
  refuse_options_that_do_not_apply(as_given, given_options(sub));
  if (o.weights == WeightKind::file) {
    if (o.weights_file.empty()) throw InvalidInput("--weights file needs --weights-file W.npy");
    if (sub.count("--n") > 0)
      throw InvalidInput("--n cannot be combined with a weights file (N comes from the file)");
    o.n = 0;
  }
  if (sub.count("--k") > 0) o.k = a.k;
  if (!a.clv.empty()) o.clv = true;
  // The library's clv_window 0 means "all of the averaging time"; on the command line that is
  // said by leaving the flag out, so an explicit 0 is refused rather than read as "all".
  if (given(sub, "--clv-window") && o.clv_window == 0)
    throw InvalidInput("--clv-window must be > 0 (leave it out to keep all of the averaging time)");
  if (given(sub, "--clv-transient")) o.clv_transient = a.clv_transient;
  if (given(sub, "--checkpoint-every") && a.checkpoint.empty())
    throw InvalidInput(
        "--checkpoint-every applies with --checkpoint only (no checkpoint is written "
        "without it)");
  // Trained models: without --t-sim every input step after the warm-ups is averaged.
  if (is_cell(o.model) && sub.count("--t-sim") == 0) o.t_sim = 0;
}

void require_names(const CLI::App& sub, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const CLI::Option* opt = sub.get_option_no_throw(name);
    if (opt && opt->count() > 0 && opt->as<std::string>().empty())
      throw InvalidInput(std::string(name) + " needs a file name, got an empty string");
  }
  for (const CLI::Option* opt : sub.get_options()) {
    if (opt->count() == 0 || opt->get_items_expected_max() == 0) continue;  // not given, a flag
    for (const std::string& v : opt->results())
      if (v.empty()) throw InvalidInput(opt->get_name() + " needs a value, got an empty string");
  }
}

}  // namespace rnnlyap::cli
