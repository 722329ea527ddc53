#include "options.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "rnnlyap/errors.hpp"
#include "rnnlyap/option_table.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap::cli {

namespace {

// Where the command line puts each option of the table: the library's options, or SpectrumArgs for
// what is parsed afterwards (choices, seeds, optional numbers) and what the program alone uses.
using Target = std::variant<bool*, int*, double*, std::string*>;

Target target(OptionId id, SpectrumOptions& o, SpectrumArgs& a) {
  // clang-format off
  switch (id) {
    case OptionId::model: return &a.model;
    case OptionId::integrator: return &a.integrator;
    case OptionId::zero_diagonal: return &o.zero_diagonal;
    case OptionId::k: return &a.k;
    case OptionId::dt: return &o.dt;
    case OptionId::t_warmup: return &o.t_warmup;
    case OptionId::t_ons_warmup: return &o.t_ons_warmup;
    case OptionId::t_sim: return &o.t_sim;
    case OptionId::t_ons: return &o.t_ons;
    case OptionId::input_std: return &o.input_std;
    case OptionId::seed: return &a.seed;
    case OptionId::network_seed: return &a.network_seed;
    case OptionId::state_seed: return &a.state_seed;
    case OptionId::basis_seed: return &a.basis_seed;
    case OptionId::noise_seed: return &a.noise_seed;
    case OptionId::backend: return &a.backend;
    case OptionId::device: return &o.device;
    case OptionId::precision: return &a.precision;
    case OptionId::qr: return &a.qr;
    case OptionId::threads: return &o.threads;
    case OptionId::ensemble: return &o.ensemble;
    case OptionId::quiet: return &a.quiet;
    case OptionId::shard: return &a.shard;
    case OptionId::n: return &o.n;
    case OptionId::g: return &o.g;
    case OptionId::weights: return &a.weights;
    case OptionId::alpha: return &o.alpha;
    case OptionId::weights_file: return &o.weights_file;
    case OptionId::inputs: return &o.inputs_file;
    case OptionId::lstm_h_only: return &o.lstm_h_only;
    case OptionId::ftle_window: return &o.ftle_window;
    case OptionId::clv: return &a.clv;
    case OptionId::clv_stats: return &o.clv_stats;
    case OptionId::clv_window: return &o.clv_window;
    case OptionId::clv_transient: return &a.clv_transient;
    case OptionId::initial_state: return &o.initial_state_file;
    case OptionId::nonlinearity: return &a.nonlinearity;
    case OptionId::bias_std: return &o.bias_std;
    case OptionId::out: return &a.out;
    case OptionId::trace: return &a.trace;
    case OptionId::npz: return &a.npz;
    case OptionId::checkpoint: return &a.checkpoint;
    case OptionId::checkpoint_every: return &a.checkpoint_every;
    case OptionId::resume: return &a.resume;
    case OptionId::distribute_network: return &a.distribute_network;
  }
  // clang-format on
  throw std::logic_error("an option without a place on the command line");
}

// The table's options of one command (kSpectrum, kSweep), in the table's order.
void add_options(CLI::App& sub, unsigned command, SpectrumOptions& o, SpectrumArgs& a) {
  for (const OptionInfo& info : option_table()) {
    if ((info.commands & command) == 0) continue;
    const std::string name(info.cli), help(info.help);
    CLI::Option* opt = std::visit(
        [&](auto* value) {
          if constexpr (std::is_same_v<decltype(value), bool*>)
            return sub.add_flag(name, *value, help);
          else
            return sub.add_option(name, *value, help);
        },
        target(info.id, o, a));
    if (info.show_default) opt->capture_default_str();
  }
}

}  // namespace

void add_common_options(CLI::App& sub, SpectrumOptions& o, SpectrumArgs& a) {
  add_options(sub, kSweep, o, a);
}

void add_spectrum_options(CLI::App& sub, SpectrumOptions& o, SpectrumArgs& a) {
  add_options(sub, kSpectrum, o, a);
}

void resume_options(SpectrumOptions& o, const SpectrumArgs& a, const CLI::App& sub) {
  static const std::set<std::string> changeable = {"--resume",
                                                   "--checkpoint",
                                                   "--checkpoint-every",
                                                   "--out",
                                                   "--trace",
                                                   "--npz",
                                                   "--quiet",
                                                   "--backend",
                                                   "--device",
                                                   "--threads",
                                                   "--distribute-network"};
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
  // The grid is where the run continues, not part of it: one process without the option.
  saved.grid_rows = o.grid_rows;
  saved.grid_cols = o.grid_cols;
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

// --distribute-network PRxPC: two whole numbers >= 1.
void parse_grid(const std::string& text, SpectrumOptions& o) {
  const std::size_t x = text.find_first_of("xX");
  const auto whole = [](const std::string& t) {
    return !t.empty() && t.size() <= 5 &&
           std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  const std::string r = x == std::string::npos ? text : text.substr(0, x);
  const std::string c = x == std::string::npos ? std::string() : text.substr(x + 1);
  if (!whole(r) || !whole(c) || std::stoi(r) < 1 || std::stoi(c) < 1)
    throw InvalidInput(
        "--distribute-network must be PRxPC, two whole numbers >= 1 (2x2 for four "
        "ranks), got '" +
        text + "'");
  o.grid_rows = std::stoi(r);
  o.grid_cols = std::stoi(c);
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
  if (given(sub, "--distribute-network")) parse_grid(a.distribute_network, o);
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
