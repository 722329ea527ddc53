// The `rnnlyap` program (README, "Using rnnlyap"). Bad input: one line on stderr and exit status 2.
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <map>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "distribute.hpp"
#include "io/output_file.hpp"
#include "memory_limit.hpp"
#include "messages.hpp"
#include "progress.hpp"
#include "rnnlyap/arrays.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/json.hpp"
#include "rnnlyap/npy.hpp"
#include "rnnlyap/spectrum.hpp"
#include "rnnlyap/sweep.hpp"
#include "rnnlyap/trained.hpp"
#include "rnnlyap/units.hpp"

namespace {

using namespace rnnlyap;

constexpr int kExitInvalid = 2;
constexpr int kExitFailure = 1;

template <class E>
E parse_choice(const std::string& flag, const std::string& value,
               const std::map<std::string, E>& m) {
  if (auto it = m.find(value); it != m.end()) return it->second;
  std::string names;
  for (const auto& [k, v] : m) names += (names.empty() ? "" : "|") + k;
  throw InvalidInput(flag + " must be one of " + names + ", got '" + value + "'");
}

// With --checkpoint, the first SIGINT/SIGTERM asks the run to checkpoint and stop; otherwise (or
// on a second signal) temporaries are removed and the signal takes its default course.
volatile std::sig_atomic_t g_stop_requested = 0;
volatile std::sig_atomic_t g_checkpointing = 0;

extern "C" void on_signal(int sig) {
  if (g_checkpointing && !g_stop_requested) {
    g_stop_requested = 1;
    return;
  }
  io::remove_pending_outputs_from_signal_handler();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// The processes of this job (one without MPI). A distributed command's ranks check their input,
// then agree (ranks_agree) before any of them computes: a rank that refused stops them all.
cli::Ranks g_ranks;
bool g_agreement_pending = false;

void ranks_agree() {
  if (!g_agreement_pending) return;
  g_agreement_pending = false;
  if (!cli::all_ranks_ok(g_ranks, true).all) {
    if (g_ranks.rank == 0)
      std::fprintf(stderr, "rnnlyap: error: another rank refused the run (its message is above)\n");
    throw cli::QuietExit{kExitInvalid};
  }
}

// "--shard I/N": the I-th of N shares of the units (1 <= I <= N).
struct Shard {
  int index = 0, count = 0;  // index 0-based
};
Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  auto whole = [&](const std::string& s) {
    if (s.empty() || s.size() > 6 || !std::all_of(s.begin(), s.end(), ::isdigit))
      throw InvalidInput("--shard must be I/N with whole numbers 1 <= I <= N, got '" + text + "'");
    return std::stoi(s);
  };
  if (slash == std::string::npos)
    throw InvalidInput("--shard must be I/N with whole numbers 1 <= I <= N, got '" + text + "'");
  const int i = whole(text.substr(0, slash)), n = whole(text.substr(slash + 1));
  if (i < 1 || i > n)
    throw InvalidInput("--shard must be I/N with whole numbers 1 <= I <= N, got '" + text + "'");
  return {i - 1, n};
}

struct SpectrumArgs {
  std::string model = "rate", integrator = "euler", weights = "gaussian", backend = "auto",
              precision = "fp64", qr = "householder";
  std::string out, trace, checkpoint, resume, npz, clv;
  double clv_transient = 0;
  std::string seed = "1";  // parsed by parse_seed: the whole range 0 ... 2^64 - 1, nothing else
  std::string network_seed, state_seed, basis_seed, noise_seed;
  std::string nonlinearity = "tanh";  // rnn: tanh | relu
  std::string shard;                  // --shard I/N
  double checkpoint_every = 300;
  bool quiet = false;
  int k = 0;
};

// Options shared by `spectrum` and `sweep`.
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

// On --resume the options come from the checkpoint; only where and how verbosely to run may change.
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

// The models each option applies to. An option given for another model is refused (exit 2), never
// recorded in `params` and ignored (README, "Errors").
constexpr unsigned model_bit(Model m) {
  return 1u << static_cast<unsigned>(m);
}
constexpr unsigned kRateOnly = model_bit(Model::rate);
constexpr unsigned kRandomModels = model_bit(Model::rate) | model_bit(Model::map);
constexpr unsigned kTrainedModels =
    model_bit(Model::rnn) | model_bit(Model::gru) | model_bit(Model::lstm);

struct OptionScope {
  const char* flag;
  unsigned models;  // model_bit()s
  const char* scope;
};

constexpr OptionScope kOptionScopes[] = {
    {"--integrator", kRateOnly, "the rate model (map and trained models step in discrete time)"},
    {"--dt", kRateOnly, "the rate model (map and trained-model times are in steps)"},
    {"--ensemble", kRandomModels, "random networks (rate, map); a trained model is one network"},
    {"--input-std", kRandomModels, "random networks (rate, map); trained models take --inputs"},
    {"--zero-diagonal", kRandomModels,
     "random networks (rate, map); a trained model's weights are used as they are"},
    {"--n", kRandomModels,
     "random networks (rate, map); a trained model's N comes from its weights"},
    {"--g", kRandomModels, "random networks (rate, map); a trained model's weights are not scaled"},
    {"--weights", kRandomModels,
     "random networks (rate, map); a trained model's weights come from --weights-file"},
    {"--alpha", kRandomModels, "random networks (rate, map) with levy weights"},
    {"--inputs", kTrainedModels, "the trained models rnn, gru and lstm"},
    {"--lstm-h-only", model_bit(Model::lstm), "--model lstm"},
    {"--network-seed", kRandomModels, "random networks (rate, map); a trained model is given"},
    {"--state-seed", kRandomModels,
     "random networks (rate, map); a trained model starts at 0 (or --initial-state)"},
    {"--noise-seed", kRandomModels, "random networks (rate, map) with --input-std > 0"},
    {"--nonlinearity", model_bit(Model::rnn),
     "--model rnn (gru and lstm have PyTorch's fixed nonlinearities; rate and map use tanh)"},
    {"--bias-std", kRandomModels,
     "random networks (rate, map); a trained model's biases come from --weights-file"},
};

void refuse_options_that_do_not_apply(const SpectrumOptions& o, const CLI::App& sub) {
  for (const OptionScope& s : kOptionScopes)
    if (given(sub, s.flag) && (s.models & model_bit(o.model)) == 0)
      throw InvalidInput(std::string(s.flag) + " does not apply to --model " +
                         std::string(to_string(o.model)) + " (it is for " + s.scope + ")");
  // Within the random networks: the tail index is for levy weights, the gain for generated ones.
  // (A sweep has no --weights: its --alpha grid itself selects levy weights.)
  if (sub.get_option_no_throw("--weights") != nullptr && given(sub, "--alpha") &&
      o.weights != WeightKind::levy)
    throw InvalidInput("--alpha applies to --weights levy only (" +
                       std::string(to_string(o.weights)) + " weights have no tail index)");
  if (o.weights == WeightKind::file && given(sub, "--network-seed"))
    throw InvalidInput("--network-seed does not apply to a weights file (its weights are given)");
  if (given(sub, "--noise-seed") && !(o.input_std > 0))
    throw InvalidInput("--noise-seed applies with --input-std > 0 only (there is no noise)");
  if (o.weights == WeightKind::file && given(sub, "--g"))
    throw InvalidInput(
        "--g does not apply to a weights file (its matrix is used as it is; scale the file "
        "instead)");
}

void resolve(SpectrumOptions& o, const SpectrumArgs& a, const CLI::App& sub) {
  o.model = parse_choice<Model>("--model", a.model,
                                {{"rate", Model::rate},
                                 {"map", Model::map},
                                 {"rnn", Model::rnn},
                                 {"gru", Model::gru},
                                 {"lstm", Model::lstm}});
  o.integrator = parse_choice<Integrator>("--integrator", a.integrator,
                                          {{"euler", Integrator::euler}, {"rk4", Integrator::rk4}});
  o.nonlinearity =
      parse_choice<Nonlinearity>("--nonlinearity", a.nonlinearity,
                                 {{"tanh", Nonlinearity::tanh}, {"relu", Nonlinearity::relu}});
  o.weights = parse_choice<WeightKind>(
      "--weights", a.weights,
      {{"gaussian", WeightKind::gaussian}, {"levy", WeightKind::levy}, {"file", WeightKind::file}});
  o.backend = parse_choice<BackendKind>(
      "--backend", a.backend,
      {{"auto", BackendKind::auto_select}, {"cpu", BackendKind::cpu}, {"cuda", BackendKind::cuda}});
  o.precision = parse_choice<Precision>("--precision", a.precision,
                                        {{"fp64", Precision::fp64}, {"fp32", Precision::fp32}});
  o.qr = parse_choice<QrMethod>("--qr", a.qr,
                                {{"householder", QrMethod::householder},
                                 {"cholesky2", QrMethod::cholesky2},
                                 {"auto", QrMethod::auto_select}});
  if (o.device < 0) throw InvalidInput("--device must be >= 0, got " + std::to_string(o.device));
  if (given(sub, "--seed")) o.seed = parse_seed(a.seed);
  for (auto [flag, text, seed] : {std::tuple{"--network-seed", &a.network_seed, &o.network_seed},
                                  std::tuple{"--state-seed", &a.state_seed, &o.state_seed},
                                  std::tuple{"--basis-seed", &a.basis_seed, &o.basis_seed},
                                  std::tuple{"--noise-seed", &a.noise_seed, &o.noise_seed}})
    if (given(sub, flag)) *seed = parse_seed(*text, flag);
  // A weights file implies --weights file; N then comes from the file.
  if (!o.weights_file.empty() && sub.count("--weights") == 0) o.weights = WeightKind::file;
  refuse_options_that_do_not_apply(o, sub);
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

// Options naming a file must not be given an empty name ("--resume ''" is not a fresh run); no
// option takes an empty value (CLI11 would read "" as 0 for a number).
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

// A path that names a file (existing or to be created), not standard output, a device or a FIFO.
bool names_a_file(const std::string& path) {
  if (path.empty() || path == "-" || io::named_descriptor(path) >= 0) return false;
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? S_ISREG(st.st_mode) : errno == ENOENT;
}

// --shard writes its unit file to --out, which merge reads back: a file name (not standard output
// or a descriptor), and a regular file or a new one (a FIFO, a device or a folder is named as
// such).
void require_unit_file(const std::string& out) {
  if (out.empty() || out == "-" || io::named_descriptor(out) >= 0)
    throw InvalidInput("--shard writes its units to the file --out: give one");
  io::check_paths({{"--out", out, true}}, {});
}

// A single run's JSON, with its warnings and the summary line on stderr.
std::string report_single(const SpectrumResult& r, bool quiet) {
  for (const std::string& w : r.warnings) std::fprintf(stderr, "rnnlyap: warning: %s\n", w.c_str());
  if (!quiet) {
    const auto &s = r.summary, &se = r.summary_stderr;
    // D_KY's error is not defined for a lower bound ("D_KY=k+").
    char ky_error[32] = "";
    if (!s.ky_is_lower_bound) std::snprintf(ky_error, sizeof ky_error, " +- %.2g", se.ky_dimension);
    std::fprintf(stderr,
                 "rnnlyap: N=%d k=%d  lambda_max=%.5g +- %.2g  mean=%.5g +- %.2g  D_KY=%.4g%s%s  "
                 "H=%.5g +- %.2g  (%s, %.2f s)\n",
                 r.options.n, r.options.num_exponents(), s.max_exponent, se.max_exponent,
                 s.mean_exponent, se.mean_exponent, s.ky_dimension, s.ky_is_lower_bound ? "+" : "",
                 ky_error, s.ks_entropy, se.ks_entropy, r.backend.c_str(), r.timing.seconds);
  }
  return to_json(r) + "\n";
}

// The JSON (and, given `arrays`, the .npz) of an ensemble's members or a trained network's
// sequences, with their warnings and the summary line on stderr. One sequence is reported as a
// single run (so is one member, as from rnnlyap merge).
std::string report_members(const EnsembleResult& e, bool quiet, std::string* arrays) {
  const SpectrumResult& first = e.members.front();
  const SpectrumOptions& o = first.options;
  const bool trained = is_cell(o.model);
  if (e.members.size() == 1) {
    if (arrays) *arrays = to_npz(first);
    if (!trained) return report_single(first, quiet);
  } else if (arrays) {
    *arrays = to_npz(e);
  }
  for (const SpectrumResult& m : e.members)
    for (const std::string& w : m.warnings) {
      if (trained)
        std::fprintf(stderr, "rnnlyap: warning: sequence %d: %s\n", m.sequence, w.c_str());
      else
        std::fprintf(stderr, "rnnlyap: warning: seed %llu: %s\n",
                     static_cast<unsigned long long>(m.options.seed), w.c_str());
    }
  if (!quiet && trained) {
    std::fprintf(
        stderr,
        "rnnlyap: %s N=%d, %zu sequence(s), k=%d  lambda_max=%.5g  mean=%.5g  (%s, %.2f s)\n",
        std::string(to_string(o.model)).c_str(), o.n, e.members.size(), o.num_exponents(),
        e.mean_summary.max_exponent, e.mean_summary.mean_exponent, first.backend.c_str(),
        e.timing.seconds);
  } else if (!quiet) {
    const auto &m = e.mean_summary, &se = e.stderr_summary;
    std::fprintf(stderr,
                 "rnnlyap: %zu networks N=%d k=%d  lambda_max=%.5g +- %.2g  D_KY=%.4g +- %.2g  "
                 "H=%.5g +- %.2g  (%s, %.2f s)\n",
                 e.members.size(), o.n, o.num_exponents(), m.max_exponent, se.max_exponent,
                 m.ky_dimension, se.ky_dimension, m.ks_entropy, se.ks_entropy,
                 first.backend.c_str(), e.timing.seconds);
  }
  return (e.members.size() == 1 ? to_json(first) : to_json(e)) + "\n";
}

// Where this rank computes: one GPU per rank on a node (its node-local rank modulo the node's
// GPUs) unless --device is given, and its share of the node's cores unless --threads is.
UnitPlan placed_for_rank(const UnitPlan& plan, const SpectrumOptions& o, const CLI::App& sub) {
  if (g_ranks.size <= 1) return plan;
  std::optional<int> device, threads;
  if (!given(sub, "--device") && o.backend != BackendKind::cpu) {
    const auto gpus = cuda_devices();
    if (!gpus.empty()) device = g_ranks.local_rank % static_cast<int>(gpus.size());
  }
  if (!given(sub, "--threads")) {
    // The cores this rank is bound to (srun --cpus-per-task, mpirun's binding), else its share.
    const int cores = static_cast<int>(std::thread::hardware_concurrency());
    cpu_set_t set;
    CPU_ZERO(&set);
    const int bound = ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : cores;
    threads =
        bound > 0 && bound < cores ? bound : std::max(1, cores / std::max(1, g_ranks.local_size));
  }
  return plan.placed(device, threads);
}

// The units rank 0 gives out: the missing ones, or with --shard those of this shard.
std::vector<std::size_t> units_to_compute(const UnitStore& store,
                                          const std::optional<Shard>& shard) {
  std::vector<std::size_t> todo = store.missing();
  if (shard)
    std::erase_if(todo, [&](std::size_t u) {
      return store.plan().shard_of(u, shard->count) != shard->index;
    });
  return todo;
}

// Computes `todo` over the ranks (rank 0 keeps them in `store`, the unit file `name`), with a
// progress bar on rank 0; SIGINT/SIGTERM stop it.
void compute_units(const UnitPlan& plan, UnitStore* store, const std::vector<std::size_t>& todo,
                   const std::string& name, bool quiet, double log_seconds) {
  cli::ProgressBar bar(cli::progress_mode(quiet || g_ranks.rank != 0), log_seconds);
  cli::run_units(
      g_ranks, plan, store, todo, name,
      [&](std::size_t done, std::size_t total, const std::string& label) {
        bar.update(label, static_cast<std::int64_t>(done), static_cast<std::int64_t>(total));
      },
      [] { return g_stop_requested != 0; });
  bar.finish();
}

// What a unit file held at the start: lines ignored, units kept.
void report_store(const UnitStore& store, bool quiet, bool warnings = true) {
  if (warnings)
    for (const auto& w : store.warnings())
      std::fprintf(stderr, "rnnlyap: warning: %s\n", w.c_str());
  if (store.taken_from_file() > 0 && !quiet)
    std::fprintf(stderr, "rnnlyap: %zu of %zu units taken from %s\n", store.taken_from_file(),
                 store.plan().size(), store.path().c_str());
}

void report_shard(const UnitStore& store, const std::vector<std::size_t>& todo, const Shard& shard,
                  bool quiet) {
  if (quiet) return;
  std::fprintf(stderr,
               "rnnlyap: shard %d/%d: %zu units computed, %zu of %zu units in %s; combine the "
               "shards' files with rnnlyap merge\n",
               shard.index + 1, shard.count, todo.size(), store.done(), store.plan().size(),
               store.path().c_str());
}

// An ensemble or a trained network's sequences spread over MPI ranks or computed as one shard:
// its units, kept in a unit file (beside --out, or --out itself for a shard), then the same
// result as one process.
int run_spectrum_units(SpectrumOptions o, const SpectrumArgs& a, const CLI::App& sub) {
  g_agreement_pending = g_ranks.size > 1;
  require_names(sub, {"--out", "--trace", "--npz", "--checkpoint", "--resume", "--weights-file",
                      "--inputs", "--initial-state"});
  const double log_seconds = cli::progress_log_seconds();
  resolve(o, a, sub);
  validate(o);
  std::optional<Shard> shard;
  if (!a.shard.empty()) shard = parse_shard(a.shard);
  const std::string how = shard ? "--shard" : "MPI ranks";
  if (!a.checkpoint.empty() || !a.resume.empty())
    throw InvalidInput("--checkpoint and --resume are for single runs, not with " + how +
                       " (finished units are kept instead)");
  if (!a.trace.empty()) throw InvalidInput("--trace is for single runs, not with " + how);
  if (o.clv || o.clv_stats)
    throw InvalidInput("--clv and --clv-stats are for single runs, not with " + how);
  if (shard && g_ranks.size > 1)
    throw InvalidInput("--shard is for runs without MPI (MPI ranks share the units themselves)");
  if (!shard && g_ranks.size == 1 && !a.quiet)
    std::fprintf(stderr, "rnnlyap: continuing the run kept in %s.partial.jsonl\n", a.out.c_str());
  if (shard) require_unit_file(a.out);
  if (shard && !a.npz.empty())
    throw InvalidInput("--npz is for the combined result: give it to rnnlyap merge");
  const std::string units_path = shard                 ? a.out
                                 : names_a_file(a.out) ? a.out + ".partial.jsonl"
                                                       : std::string();
  std::vector<io::PathOption> inputs;
  if (!o.weights_file.empty()) inputs.push_back({"--weights-file", o.weights_file});
  if (!o.inputs_file.empty()) inputs.push_back({"--inputs", o.inputs_file});
  if (!o.initial_state_file.empty()) inputs.push_back({"--initial-state", o.initial_state_file});
  std::unique_ptr<io::OutputFile> out, npz;
  if (g_ranks.rank == 0) {
    std::vector<io::PathOption> outputs;
    if (shard) {
      outputs.push_back({"--out", a.out, true});
    } else {
      outputs.push_back({"--out", a.out.empty() ? "-" : a.out});
      if (!units_path.empty()) outputs.push_back({"--out (its partial file)", units_path, true});
      if (!a.npz.empty()) outputs.push_back({"--npz", a.npz});
    }
    io::check_paths(outputs, inputs);
  } else {
    io::check_paths({}, inputs);
  }
  const UnitPlan plan = UnitPlan::spectrum(o);
  std::unique_ptr<UnitStore> store;
  if (g_ranks.rank == 0) {
    store = std::make_unique<UnitStore>(plan, units_path);
    if (!shard) {
      out = std::make_unique<io::OutputFile>("--out", a.out.empty() ? "-" : a.out);
      if (!a.npz.empty()) npz = std::make_unique<io::OutputFile>("--npz", a.npz);
    }
  }
  ranks_agree();
  g_checkpointing = 1;  // SIGINT/SIGTERM: stop; the unit file keeps the finished units
  if (store) report_store(*store, a.quiet);
  const std::vector<std::size_t> todo =
      store ? units_to_compute(*store, shard) : std::vector<std::size_t>{};
  compute_units(placed_for_rank(plan, o, sub), store.get(), todo, units_path, a.quiet, log_seconds);
  if (g_ranks.rank != 0) return 0;
  if (shard) {
    store->save();
    report_shard(*store, todo, *shard, a.quiet);
    return 0;
  }
  std::string arrays;
  const std::string json =
      report_members(store->ensemble_result(), a.quiet, npz ? &arrays : nullptr);
  if (npz) {
    npz->write(arrays);
    npz->commit();
  }
  out->write(json);
  out->commit();
  if (!units_path.empty()) io::remove_file(units_path);
  return 0;
}

int run_spectrum(SpectrumOptions o, const SpectrumArgs& a, const CLI::App& sub) {
  const bool trained = a.model == "rnn" || a.model == "gru" || a.model == "lstm";
  // Units: spread over ranks, a shard, or the partial file a stopped distributed run left (which
  // one process continues too).
  const bool units = trained || o.ensemble > 1;
  struct stat st {};
  const bool left =
      units && names_a_file(a.out) && ::stat((a.out + ".partial.jsonl").c_str(), &st) == 0;
  if (!a.shard.empty() || (g_ranks.size > 1 && units) || left) return run_spectrum_units(o, a, sub);
  if (g_ranks.rank != 0) return 0;  // one run: rank 0 computes it alone
  require_names(sub, {"--out", "--trace", "--npz", "--checkpoint", "--resume", "--weights-file",
                      "--inputs", "--initial-state", "--clv"});
  const double log_seconds = cli::progress_log_seconds();
  if ((given(sub, "--clv") || given(sub, "--clv-stats")) &&
      (!a.resume.empty() || !a.checkpoint.empty()))
    throw InvalidInput(
        "--clv and --clv-stats are not kept in checkpoints: give them without --checkpoint and "
        "--resume");
  resolve(o, a, sub);
  if (!a.resume.empty()) {
    io::check_paths({}, {{"--resume", a.resume}});
    resume_options(o, a, sub);
  }
  validate(o);
  if (!(a.checkpoint_every > 0)) throw InvalidInput("--checkpoint-every must be > 0 seconds");
  // Every output and input path is checked before anything is computed (README, "Errors").
  {
    std::vector<io::PathOption> outputs = {{"--out", a.out.empty() ? "-" : a.out}};
    if (!a.trace.empty()) outputs.push_back({"--trace", a.trace});
    if (!a.npz.empty()) outputs.push_back({"--npz", a.npz});
    if (!a.clv.empty()) outputs.push_back({"--clv", a.clv});
    if (!a.checkpoint.empty()) outputs.push_back({"--checkpoint", a.checkpoint, true});
    std::vector<io::PathOption> inputs;
    if (!o.weights_file.empty()) inputs.push_back({"--weights-file", o.weights_file});
    if (!o.inputs_file.empty()) inputs.push_back({"--inputs", o.inputs_file});
    if (!o.initial_state_file.empty()) inputs.push_back({"--initial-state", o.initial_state_file});
    if (!a.resume.empty()) inputs.push_back({"--resume", a.resume});
    io::check_paths(outputs, inputs);
  }
  RunControl control;
  control.checkpoint_path = a.checkpoint;
  control.checkpoint_every = a.checkpoint_every;
  control.resume_path = a.resume;
  control.stop_requested = [] { return g_stop_requested != 0; };
  g_checkpointing = a.checkpoint.empty() ? 0 : 1;
  // Open the outputs before the run, so that a bad path fails now and not after hours.
  std::unique_ptr<io::OutputFile> trace;
  io::OutputFile out("--out", a.out.empty() ? "-" : a.out);
  if (!a.trace.empty()) trace = std::make_unique<io::OutputFile>("--trace", a.trace);
  std::unique_ptr<io::OutputFile> npz;
  if (!a.npz.empty()) npz = std::make_unique<io::OutputFile>("--npz", a.npz);
  std::unique_ptr<io::OutputFile> clv;
  if (!a.clv.empty()) clv = std::make_unique<io::OutputFile>("--clv", a.clv);
  std::string clv_bytes;  // the --clv .npy
  auto keep_clv = [&](const SpectrumResult& r) {
    if (!clv) return;
    if (!r.clv || r.clv->vectors.empty()) throw Error("--clv: no covariant vectors were computed");
    const std::size_t rows = static_cast<std::size_t>(r.clv->rows);
    clv_bytes = npy_bytes(
        npz_float64("clv", {rows, r.clv->vectors.size() / rows}, clv_vectors_c_order(*r.clv)));
  };
  Trace kept_trace;  // for the .npz

  cli::ProgressBar bar(cli::progress_mode(a.quiet), log_seconds);
  Observers obs;
  obs.progress = [&](Phase p, std::int64_t done, std::int64_t total) {
    bar.update(std::string(to_string(p)), done, total);
  };
  bool trace_header = false;
  if (trace) {
    obs.trace = [&](double t, std::span<const double> est) {
      std::FILE* f = trace->get();
      if (!trace_header) {
        std::fputs("time", f);
        for (std::size_t i = 0; i < est.size(); ++i) std::fprintf(f, ",lambda_%zu", i + 1);
        std::fputc('\n', f);
        trace_header = true;
      }
      std::fprintf(f, "%.10g", t);
      for (double v : est) std::fprintf(f, ",%.10g", v);
      std::fputc('\n', f);
      trace->note_failure();
      if (npz) kept_trace.add(t, est);
    };
    obs.trace_kept = npz != nullptr;  // counted in the run's memory check
  }
  std::string json, arrays;
  if (is_cell(o.model)) {
    if (control.checkpoint_path.size() || control.resume_path.size())
      throw InvalidInput("--checkpoint and --resume are for random networks, not trained models");
    if (trace) throw InvalidInput("--trace is for random networks, not trained models");
    const EnsembleResult e = compute_trained_spectra(o, obs);
    bar.finish();
    keep_clv(e.members.front());
    json = report_members(e, a.quiet, npz ? &arrays : nullptr);
  } else if (o.ensemble > 1) {
    const EnsembleResult e = compute_ensemble(o, obs, control);
    bar.finish();
    json = report_members(e, a.quiet, npz ? &arrays : nullptr);
  } else {
    const SpectrumResult r = compute_spectrum(o, obs, control);
    bar.finish();
    if (npz) arrays = to_npz(r, trace ? &kept_trace : nullptr);
    keep_clv(r);
    json = report_single(r, a.quiet);
  }
  if (trace) trace->commit();
  if (npz) {
    npz->write(arrays);
    npz->commit();
  }
  if (clv) {
    clv->write(clv_bytes);
    clv->commit();
  }
  out.write(json);
  out.commit();
  return 0;
}

struct SweepArgs {
  std::string g = "0.5:3:0.25", alpha, n = "100";
  std::string out = "sweep.json", csv, npz;
};

void add_sweep_options(CLI::App& sub, SpectrumOptions& o, SpectrumArgs& a, SweepArgs& w) {
  add_common_options(sub, o, a);
  sub.add_option("--g", w.g, "gains: START:STOP:STEP or a list g1,g2,...")->capture_default_str();
  sub.add_option("--alpha", w.alpha,
                 "tail indices of levy weights, e.g. 1,1.5,2 (default: gaussian)");
  sub.add_option("--n", w.n, "sizes, e.g. 250,500,1000")->capture_default_str();
  sub.add_option("--out", w.out,
                 "sweep JSON; finished points are kept in OUT.partial.jsonl until the end")
      ->capture_default_str();
  sub.add_option("--csv", w.csv, "the grid as CSV (default: OUT with .csv)");
  sub.add_option("--npz", w.npz,
                 "the grid and every member's spectrum as a NumPy .npz, by (n, alpha, g)");
}

// The sweep's outputs and its summary on stderr.
void report_sweep(const SweepResult& r, io::OutputFile& json_out, io::OutputFile& csv_out,
                  io::OutputFile* npz_out, const std::string& partial, const std::string& out,
                  const std::string& csv_path, bool quiet) {
  for (const auto& warning : r.warnings)
    std::fprintf(stderr, "rnnlyap: warning: %s\n", warning.c_str());
  if (r.resumed_points > 0 && !quiet && !partial.empty())
    std::fprintf(stderr, "rnnlyap: %d points taken from %s\n", r.resumed_points, partial.c_str());
  json_out.write(sweep_json(r) + "\n");
  csv_out.write(sweep_csv(r));
  if (npz_out) {
    const std::string arrays = sweep_npz(r);
    npz_out->write(arrays);
    npz_out->commit();
  }
  json_out.commit();
  csv_out.commit();
  if (!partial.empty()) io::remove_file(partial);
  if (quiet) return;
  std::fprintf(stderr, "rnnlyap: sweep of %zu points written to %s and %s\n", r.grid.size(),
               out.c_str(), csv_path.c_str());
  for (const auto& t : r.transitions) {
    std::fprintf(stderr, "  N=%d%s: ", t.n,
                 t.alpha ? (" alpha=" + std::to_string(*t.alpha).substr(0, 4)).c_str() : "");
    if (t.g_cross)
      std::fprintf(stderr, "lambda_max crosses 0 at g = %.4g +- %.2g", *t.g_cross,
                   *t.g_cross_stderr);
    else
      std::fprintf(stderr, "lambda_max does not cross 0 in the grid");
    if (t.g_star_predicted) std::fprintf(stderr, "  (predicted %.4g)", *t.g_star_predicted);
    std::fprintf(stderr, "\n");
    if (t.g_significant) {
      std::fprintf(stderr, "    lambda_max > %g s.e. from g = %.4g on", kSignificance,
                   *t.g_significant);
      if (t.g_significant_after) std::fprintf(stderr, " (not at %.4g)", *t.g_significant_after);
      if (t.neutral_window)
        std::fprintf(stderr, "; consistent with 0 on g = %.4g ... %.4g", t.neutral_window->first,
                     t.neutral_window->second);
      std::fprintf(stderr, "\n");
    } else {
      std::fprintf(stderr,
                   "    lambda_max is not %g s.e. above 0 up to the grid's end (more networks "
                   "or a longer --t-sim narrow the errors)\n",
                   kSignificance);
    }
  }
}

// The CSV's path: --csv, or --out with .csv.
std::string csv_path_for(const std::string& out, const std::string& csv) {
  if (!csv.empty()) return csv;
  if (!names_a_file(out))
    throw InvalidInput("--out " + out + " is not a file: give the CSV's path with --csv");
  const auto dot = out.rfind('.');
  return (dot == std::string::npos || out.find('/', dot) != std::string::npos
              ? out
              : out.substr(0, dot)) +
         ".csv";
}

int run_sweep_command(SpectrumOptions o, const SpectrumArgs& a, const SweepArgs& w,
                      const CLI::App& sub) {
  const bool distributed = g_ranks.size > 1;
  g_agreement_pending = distributed;
  std::optional<Shard> shard;
  if (!a.shard.empty()) shard = parse_shard(a.shard);
  require_names(sub, {"--out", "--csv", "--npz"});
  const double log_seconds = cli::progress_log_seconds();
  resolve(o, a, sub);
  SweepSpec spec;
  spec.g = parse_grid(w.g, "--g");
  if (!w.alpha.empty()) spec.alpha = parse_grid(w.alpha, "--alpha");
  for (double v : parse_grid(w.n, "--n")) {
    if (v != std::floor(v) || v < 1 || v > 1e9)
      throw InvalidInput("--n: sizes must be whole numbers >= 1");
    spec.n.push_back(static_cast<int>(v));
  }
  if (o.k && *o.k > *std::min_element(spec.n.begin(), spec.n.end()))
    throw InvalidInput("--k " + std::to_string(*o.k) + " exceeds the smallest N of the sweep");
  spec.base = o;
  if (shard) {
    if (distributed)
      throw InvalidInput("--shard is for runs without MPI (MPI ranks share the units themselves)");
    require_unit_file(w.out);
    if (!w.csv.empty() || !w.npz.empty())
      throw InvalidInput(std::string(w.csv.empty() ? "--npz" : "--csv") +
                         " is for the combined result: give it to rnnlyap merge");
    io::check_paths({{"--out", w.out, true}}, {});
    const UnitPlan plan = UnitPlan::sweep(spec);
    UnitStore store(plan, w.out);
    report_store(store, a.quiet);
    const std::vector<std::size_t> todo = units_to_compute(store, shard);
    g_checkpointing = 1;
    compute_units(plan, &store, todo, w.out, a.quiet, log_seconds);
    store.save();
    report_shard(store, todo, *shard, a.quiet);
    return 0;
  }
  const std::string csv_path = csv_path_for(w.out, w.csv);
  // Finished units are kept beside the JSON (or, when that is standard output or a device,
  // beside the CSV) until the end.
  std::string partial;
  if (names_a_file(w.out))
    partial = w.out + ".partial.jsonl";
  else if (names_a_file(csv_path))
    partial = csv_path + ".partial.jsonl";
  else
    throw InvalidInput("a sweep keeps its finished points beside --out or --csv: give one a file");
  std::unique_ptr<io::OutputFile> json_out, csv_out, npz_out;
  if (g_ranks.rank == 0) {
    std::vector<io::PathOption> outputs = {
        {"--out", w.out}, {"--csv", csv_path}, {"--out (its partial file)", partial, true}};
    if (!w.npz.empty()) outputs.push_back({"--npz", w.npz});
    io::check_paths(outputs, {});
  }
  auto open_outputs = [&] {
    json_out = std::make_unique<io::OutputFile>("--out", w.out);
    csv_out = std::make_unique<io::OutputFile>("--csv", csv_path);
    if (!w.npz.empty()) npz_out = std::make_unique<io::OutputFile>("--npz", w.npz);
  };
  g_checkpointing =
      1;  // SIGINT/SIGTERM: stop the point in progress; the partial file keeps the finished ones
  if (!distributed) {
    open_outputs();
    cli::ProgressBar bar(cli::progress_mode(a.quiet), log_seconds);
    const SweepResult r = run_sweep(
        spec, partial,
        [&](int done, int total, const std::string& label) { bar.update(label, done, total); },
        [] { return g_stop_requested != 0; });
    bar.finish();
    report_sweep(r, *json_out, *csv_out, npz_out.get(), partial, w.out, csv_path, a.quiet);
    return 0;
  }
  // MPI ranks: the (point, member) units of the grid, dealt out by rank 0.
  const UnitPlan plan = UnitPlan::sweep(spec);
  std::unique_ptr<UnitStore> store;
  if (g_ranks.rank == 0) {
    store = std::make_unique<UnitStore>(plan, partial);
    open_outputs();
  }
  ranks_agree();
  if (store) report_store(*store, a.quiet, false);  // its warnings come with the result
  const std::vector<std::size_t> todo = store ? store->missing() : std::vector<std::size_t>{};
  compute_units(placed_for_rank(plan, o, sub), store.get(), todo, partial, a.quiet, log_seconds);
  if (g_ranks.rank != 0) return 0;
  SweepResult r = store->sweep_result();
  r.resumed_points = 0;  // said in units above
  report_sweep(r, *json_out, *csv_out, npz_out.get(), partial, w.out, csv_path, a.quiet);
  return 0;
}

// rnnlyap merge: the unit files of a run's shards (or a partial file) combined into its result.
struct MergeArgs {
  std::vector<std::string> files;
  std::string out, csv, npz;
  bool quiet = false;
};

int run_merge(const MergeArgs& m, const CLI::App& sub) {
  require_names(sub, {"--out", "--csv", "--npz"});
  std::vector<io::PathOption> inputs;
  for (const std::string& f : m.files) inputs.push_back({"FILE", f});
  io::check_paths({}, inputs);  // regular files, before any is read
  std::ifstream first(m.files.front());
  std::string head;
  if (!first || !std::getline(first, head))
    throw InvalidInput(m.files.front() + ": cannot read it, or it is empty");
  const UnitPlan plan = UnitPlan::from_head(head, m.files.front());
  UnitStore store(plan, "");
  for (const std::string& f : m.files) store.add_file(f);
  const std::vector<std::size_t> missing = store.missing();
  if (plan.kind() != UnitKind::sweep || !missing.empty())  // a sweep's come with its result
    for (const auto& w : store.warnings())
      std::fprintf(stderr, "rnnlyap: warning: %s\n", w.c_str());
  if (!missing.empty())
    throw InvalidInput(std::to_string(missing.size()) + " of " + std::to_string(plan.size()) +
                       " units are missing (the first: " + plan.label(missing.front()) +
                       "): run the shards that compute them (the same command with their --shard) "
                       "and merge again");
  if (plan.kind() == UnitKind::sweep) {
    const std::string out = m.out.empty() ? "sweep.json" : m.out;
    const std::string csv_path = csv_path_for(out, m.csv);
    std::vector<io::PathOption> outputs = {{"--out", out}, {"--csv", csv_path}};
    if (!m.npz.empty()) outputs.push_back({"--npz", m.npz});
    io::check_paths(outputs, inputs);
    io::OutputFile json_out("--out", out), csv_out("--csv", csv_path);
    std::unique_ptr<io::OutputFile> npz_out;
    if (!m.npz.empty()) npz_out = std::make_unique<io::OutputFile>("--npz", m.npz);
    report_sweep(store.sweep_result(), json_out, csv_out, npz_out.get(), "", out, csv_path,
                 m.quiet);
    return 0;
  }
  if (!m.csv.empty())
    throw InvalidInput("--csv is for sweeps; these files hold a spectrum's units");
  std::vector<io::PathOption> outputs = {{"--out", m.out.empty() ? "-" : m.out}};
  if (!m.npz.empty()) outputs.push_back({"--npz", m.npz});
  io::check_paths(outputs, inputs);
  io::OutputFile out("--out", m.out.empty() ? "-" : m.out);
  std::unique_ptr<io::OutputFile> npz;
  if (!m.npz.empty()) npz = std::make_unique<io::OutputFile>("--npz", m.npz);
  std::string arrays;
  const std::string json =
      report_members(store.ensemble_result(), m.quiet, npz ? &arrays : nullptr);
  if (npz) {
    npz->write(arrays);
    npz->commit();
  }
  out.write(json);
  out.commit();
  return 0;
}

int run_info(bool as_json) {
  const auto devices = cuda_devices();
  if (as_json) {
    nlohmann::json j = {
        {"version", version()}, {"backends", compiled_backends()}, {"blas", blas_info()}};
    const std::string slow = blas_warning();
    j["blas_warning"] = slow.empty() ? nlohmann::json(nullptr) : nlohmann::json(slow);
    j["mpi"] =
        cli::mpi_library().empty() ? nlohmann::json(nullptr) : nlohmann::json(cli::mpi_library());
    j["devices"] = nlohmann::json::array();
    for (const auto& d : devices)
      j["devices"].push_back(
          {{"index", d.index},
           {"name", d.name},
           {"compute_capability", std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor)},
           {"total_memory", d.total_memory},
           {"free_memory",  // 0: not asked (that would make a context on every GPU)
            d.free_memory ? nlohmann::json(d.free_memory) : nlohmann::json(nullptr)},
           {"multiprocessors", d.multiprocessors},
           {"emulated", d.emulated}});
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "rnnlyap " << version() << "\n";
  std::string b;
  for (const auto& s : compiled_backends()) b += (b.empty() ? "" : ", ") + s;
  std::cout << "backends compiled in: " << b << "\n";
  std::cout << "BLAS: " << blas_info() << "\n";
  if (const std::string slow = blas_warning(); !slow.empty())
    std::cout << "BLAS warning: " << slow << "\n";
  const std::string mpi = cli::mpi_library();
  std::cout << "MPI: "
            << (mpi.empty() ? "not compiled in (--shard and merge spread a run instead)" : mpi)
            << "\n";
  if (devices.empty()) std::cout << "CUDA devices: none found\n";
  for (const auto& d : devices) {
    char free_text[48] = "free memory unknown";  // not asked: it would make a context per GPU
    if (d.free_memory != 0)
      std::snprintf(free_text, sizeof free_text, "%.1f GiB free",
                    static_cast<double>(d.free_memory) / (1 << 30));
    std::printf("CUDA device %d: %s, compute capability %d.%d, %.1f GiB (%s), %d SMs\n", d.index,
                d.name.c_str(), d.cc_major, d.cc_minor,
                static_cast<double>(d.total_memory) / (1 << 30), free_text, d.multiprocessors);
    if (d.emulated)
      std::cout
          << "  (the test-only emulated device of a build with RNNLYAP_CUDA_EMULATION: it runs "
             "the CUDA code on the CPU; --backend auto never uses it)\n";
  }
  return 0;
}

// The rank a launcher gave this process, before MPI is started (for messages only).
int launched_rank() {
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"})
    if (const char* s = std::getenv(v)) return std::atoi(s);
  return 0;
}

// Whatever went to standard output must have arrived (a full disk, a closed pipe): throws Error
// (exit 1) otherwise. `earlier`: errno after a write that may have failed already.
void check_standard_output(int earlier = 0) {
  errno = 0;
  std::cout.flush();  // the first failure sets errno; a later flush may not
  int err = errno != 0 ? errno : earlier;
  if (std::fflush(stdout) != 0 && err == 0) err = errno;
  if (!std::cout || std::ferror(stdout))
    throw Error(std::string("cannot write standard output: ") +
                std::strerror(err != 0 ? err : EIO));
}

// --help and --version, printed by CLI11 (its std::endl flushes, so a failure's errno is set at
// once): a failed write is exit 1 with one line, as for results.
template <class Print>
int printed_by_cli11(Print print) {
  errno = 0;
  const int status = print();
  const int err = errno;
  try {
    check_standard_output(err);
  } catch (const Error& e) {
    std::fprintf(stderr, "rnnlyap: failed: %s\n", e.what());
    return kExitFailure;
  }
  return status;
}

int run_main(int argc, char** argv) {
  CLI::App app{"rnnlyap: Lyapunov spectra of recurrent neural networks"};
  app.require_subcommand(1);
  app.set_version_flag("--version", rnnlyap::version());

  SpectrumOptions opt;
  SpectrumArgs args;
  CLI::App* spectrum = app.add_subcommand("spectrum", "compute a Lyapunov spectrum");
  add_spectrum_options(*spectrum, opt, args);
  SpectrumOptions sweep_opt;
  SpectrumArgs sweep_args;
  SweepArgs sweep_grid;
  CLI::App* sweep = app.add_subcommand("sweep", "spectra over a grid of gain, tail index and size");
  add_sweep_options(*sweep, sweep_opt, sweep_args, sweep_grid);
  MergeArgs merge_args;
  CLI::App* merge = app.add_subcommand(
      "merge", "combine the unit files of a run's shards (--shard I/N) into its result");
  merge->add_option("files", merge_args.files, "the shards' unit files")->required();
  merge->add_option("--out", merge_args.out,
                    "result JSON (default: standard output; sweep.json for a sweep)");
  merge->add_option("--csv", merge_args.csv, "a sweep's grid as CSV (default: OUT with .csv)");
  merge->add_option("--npz", merge_args.npz, "every array of the result as a NumPy .npz");
  merge->add_flag("--quiet", merge_args.quiet, "no summary line");
  bool info_json = false;
  CLI::App* info = app.add_subcommand("info", "version, backends, devices and BLAS");
  info->add_flag("--json", info_json, "machine-readable output");

  // An unknown command is named (CLI11 would say only that a subcommand is required).
  if (argc > 1 && argv[1][0] != '-') {
    const auto commands = app.get_subcommands([](const CLI::App*) { return true; });
    std::string names;  // "spectrum, sweep, merge and info"
    bool known = false;
    for (std::size_t i = 0; i < commands.size(); ++i) {
      names += (i == 0 ? "" : i + 1 == commands.size() ? " and " : ", ") + commands[i]->get_name();
      known = known || commands[i]->get_name() == argv[1];
    }
    if (!known) {
      if (g_ranks.rank == 0)
        std::fprintf(stderr,
                     "rnnlyap: error: unknown command '%s' (the commands are %s; see rnnlyap "
                     "--help)\n",
                     argv[1], names.c_str());
      return kExitInvalid;
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return g_ranks.rank == 0 ? printed_by_cli11([&] { return app.exit(CLI::CallForHelp()); }) : 0;
  } catch (const CLI::CallForAllHelp& e) {
    return g_ranks.rank == 0 ? printed_by_cli11([&] { return app.exit(e); }) : 0;
  } catch (const CLI::CallForVersion& e) {
    return g_ranks.rank == 0 ? printed_by_cli11([&] { return app.exit(e); }) : 0;
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    for (char& c : what)
      if (c == '\n') c = ' ';
    if (g_ranks.rank == 0)
      std::fprintf(stderr, "rnnlyap: error: %s (see rnnlyap --help)\n", what.c_str());
    return kExitInvalid;
  }

  // Messages: rank 0 speaks for the job; another rank says only what is its own.
  auto say = [](const char* format, const char* what) {
    if (g_agreement_pending) {  // its input was refused before the ranks agreed to start
      g_agreement_pending = false;
      const cli::Agreement agreed = cli::all_ranks_ok(g_ranks, false);
      if (g_ranks.rank != 0 && !agreed.rank0) return;  // rank 0 says it
    }
    if (g_ranks.rank == 0)
      std::fprintf(stderr, format, "", what);
    else
      std::fprintf(stderr, format, (" rank " + std::to_string(g_ranks.rank) + ":").c_str(), what);
  };
  try {
    if ((*info || *merge) && g_ranks.rank != 0) return 0;  // rank 0 alone
    const int status = *info    ? run_info(info_json)
                       : *merge ? run_merge(merge_args, *merge)
                       : *sweep ? run_sweep_command(sweep_opt, sweep_args, sweep_grid, *sweep)
                                : run_spectrum(opt, args, *spectrum);
    check_standard_output();  // a full disk, a closed pipe: exit 1
    return status;
  } catch (const cli::QuietExit& e) {
    return e.status;
  } catch (const Interrupted& e) {
    say("rnnlyap:%s %s\n", e.what());
    return 130;
  } catch (const InvalidInput& e) {
    say("rnnlyap:%s error: %s\n", cli::without_source_location(e.what()).c_str());
    return kExitInvalid;
  } catch (const std::bad_alloc&) {
    say("rnnlyap:%s error: %s\n", "out of memory: the run does not fit in this machine's memory");
    return kExitInvalid;
  } catch (const std::exception& e) {
    say("rnnlyap:%s failed: %s\n", e.what());
    return kExitFailure;
  }
}

// A standard descriptor the program was started without (">&-", "2>&-") is given /dev/null, opened
// the wrong way round (read-only for output, write-only for input): the number is taken, so no file
// the program opens becomes its stdout or stderr and no message lands in a result, while every use
// fails as it would on the closed descriptor (a result to a closed stdout still exits 1).
void reserve_standard_descriptors() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    const int null = ::open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);  // the lowest free: fd
    if (null >= 0 && null != fd) {
      (void)::dup2(null, fd);
      ::close(null);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  reserve_standard_descriptors();
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  // A closed pipe on standard output is a write error with a message (exit 1), not a silent death.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    g_ranks = cli::start_ranks(argc, argv);
    // The ranks on a node share its memory: each checks its runs against its share.
    detail::set_host_memory_share(g_ranks.local_size);
  } catch (const std::exception& e) {
    if (launched_rank() == 0) std::fprintf(stderr, "rnnlyap: error: %s\n", e.what());
    return kExitInvalid;
  }
  const int status = run_main(argc, argv);
  cli::end_ranks(g_ranks);
  return status;
}
