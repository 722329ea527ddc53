// Ensembles of random networks (or of one given network from different initial conditions): members
// one after another or on CPU threads, then across-member statistics.
#include <chrono>
#include <cmath>
#include <limits>

#include "loop.hpp"
#include "memory_limit.hpp"
#include "parallel.hpp"
#include "random.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/option_table.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap {
namespace {

// Largest network size run as a GPU batch; larger networks fill the device on their own.
constexpr int kMaxBatchedN = 512;

// Mean and standard error of the mean (sample standard deviation / √B) of f over members.
template <class F>
std::pair<double, double> mean_se(const std::vector<SpectrumResult>& m, F f) {
  const double b = static_cast<double>(m.size());
  double mean = 0;
  for (const auto& r : m) mean += f(r);
  mean /= b;
  if (m.size() < 2) return {mean, std::numeric_limits<double>::quiet_NaN()};
  double ss = 0;
  for (const auto& r : m) ss += (f(r) - mean) * (f(r) - mean);
  return {mean, std::sqrt(ss / (b - 1) / b)};
}

}  // namespace

EnsembleResult ensemble_statistics(std::vector<SpectrumResult> members) {
  EnsembleResult e;
  e.members = std::move(members);
  if (e.members.empty()) return e;
  const std::size_t k = e.members.front().exponents.size();
  e.mean_exponents.resize(k);
  e.stderr_exponents.resize(k);
  for (std::size_t i = 0; i < k; ++i)
    std::tie(e.mean_exponents[i], e.stderr_exponents[i]) =
        mean_se(e.members, [i](const SpectrumResult& r) { return r.exponents[i]; });
  auto both = [&](double SpectrumSummary::*field) {
    std::tie(e.mean_summary.*field, e.stderr_summary.*field) =
        mean_se(e.members, [field](const SpectrumResult& r) { return r.summary.*field; });
  };
  both(&SpectrumSummary::max_exponent);
  both(&SpectrumSummary::mean_exponent);
  both(&SpectrumSummary::sum);
  both(&SpectrumSummary::ky_dimension);
  both(&SpectrumSummary::ks_entropy);
  std::tie(e.mean_n_positive, e.stderr_n_positive) = mean_se(
      e.members, [](const SpectrumResult& r) { return static_cast<double>(r.summary.n_positive); });
  e.mean_summary.n_positive = static_cast<int>(std::lround(e.mean_n_positive));
  for (const auto& r : e.members) {
    e.mean_summary.ky_is_lower_bound =
        e.mean_summary.ky_is_lower_bound || r.summary.ky_is_lower_bound;
    e.timing.seconds += r.timing.seconds;
    e.timing.tangent_steps += r.timing.tangent_steps;
    e.timing.qr_count += r.timing.qr_count;
    e.timing.qr_paths += r.timing.qr_paths;
  }
  return e;
}

namespace detail {

EnsembleResult run_ensemble_batched(const SpectrumOptions& opt_in, const Placement& where,
                                    const LoopObservers& obs,
                                    const std::function<bool()>& stop_requested) {
  SpectrumOptions opt = opt_in;
  validate(opt);
  const int b = opt.ensemble;
  std::vector<Network> nets;
  std::vector<std::uint64_t> keys;
  for (int m = 0; m < b; ++m) {
    SpectrumOptions o = opt;
    o.seed = opt.seed + static_cast<std::uint64_t>(m);
    nets.push_back(make_network(o));
    keys.push_back(noise_key(o.noise_seed_used()));
  }
  const int n = nets.front().n;
  opt.n = n;
  const int k = opt.num_exponents();
  opt.k = k;
  LoopSetup setup;
  setup.options = opt;
  setup.schedule = make_schedule(opt);
  setup.batch = b;
  setup.dim = n;
  const std::vector<double> given =
      opt.initial_state_file.empty()
          ? std::vector<double>{}
          : given_state(opt.initial_state_file, n, "a network of N = " + std::to_string(n));
  for (int m = 0; m < b; ++m) {
    SpectrumOptions o = opt;
    o.seed = opt.seed + static_cast<std::uint64_t>(m);
    const std::vector<double> h = given.empty() ? initial_state(n, o.state_seed_used()) : given,
                              q = initial_basis(n, k, o.basis_seed_used());
    setup.initial_state.insert(setup.initial_state.end(), h.begin(), h.end());
    setup.initial_basis.insert(setup.initial_basis.end(), q.begin(), q.end());
  }
  std::vector<const Network*> ptrs;
  for (const Network& net : nets) ptrs.push_back(&net);
  const std::unique_ptr<Propagator> batch =
      make_network_propagator(where, ptrs, dynamics_of(opt), keys, k);
  setup.options.backend = batch->kind();
  RunControl control;
  control.stop_requested = stop_requested;
  std::vector<SpectrumResult> members = run_benettin(*batch, setup, obs, control);
  for (int m = 0; m < b; ++m) members[m].options.seed = opt.seed + static_cast<std::uint64_t>(m);
  return ensemble_statistics(std::move(members));
}

}  // namespace detail

namespace {

// The ensemble of opt.ensemble runs with seeds opt.seed, opt.seed + 1, …: of random networks drawn
// from each seed (or of the weights file) when `given` is null, else of the network `given` (each
// member then differs in its initial state, basis and noise only).
EnsembleResult ensemble_of(const SpectrumOptions& opt, const Network* given,
                           const Observers& observers, const RunControl& control) {
  validate(opt);
  const int b = opt.ensemble;
  // Every member's kept series (finite-time windows) are held until the ensemble's statistics:
  // counted together before the first member runs (the loop counts one member at a time).
  if (b > 1)
    detail::check_run_memory(opt, make_schedule(opt), opt.n, b, false,
                             static_cast<double>(host_memory_bytes()));
  auto run_member = [given](const SpectrumOptions& o, const Observers& obs, const RunControl& c) {
    return given ? compute_spectrum(o, *given, obs, c) : compute_spectrum(o, obs, c);
  };
  // Many small networks on a GPU: one batch in lockstep (strided-batched products and QRs)
  // instead of B runs that each leave the device mostly idle.
  const detail::Placement where = detail::placement_of(opt);
  const bool gpu = detail::placement_is_cuda(where);
  if (b > 1 && gpu && !given && !is_cell(opt.model) && opt.weights != WeightKind::file &&
      opt.n <= kMaxBatchedN && control.checkpoint_path.empty() && control.resume_path.empty() &&
      !observers.trace)
    return detail::run_ensemble_batched(opt, where, observers, control.stop_requested);
  if (b > 1 && (!control.checkpoint_path.empty() || !control.resume_path.empty()))
    throw InvalidInput("--checkpoint and --resume are for single runs, not with --ensemble " +
                       std::to_string(b));
  if (b > 1 && observers.trace)
    throw InvalidInput(OptionId::trace, "",
                       " is for single runs, not with --ensemble " + std::to_string(b));
  // On the CPU, with at least as many members as threads, the threads take whole members
  // (parallel.hpp), unless that many runs at once would not fit comfortably in memory; the
  // result's time is then the wall time.
  const int threads = detail::cpu_run_threads(opt.threads);
  const double run_bytes = 8.0 * opt.n * opt.n +  // the host's weights, and the model's buffers
                           detail::network_model_bytes(1, opt.n, opt.num_exponents(),
                                                       detail::dynamics_of(opt), opt.precision);
  const double host = static_cast<double>(host_memory_bytes());
  if (!gpu && threads >= 2 && b >= threads && (host == 0 || threads * run_bytes < host / 2)) {
    const auto t0 = std::chrono::steady_clock::now();
    EnsembleResult e = ensemble_statistics(detail::run_in_threads<SpectrumResult>(
        b, threads, observers,
        [&](int m, const Observers& own, const std::function<bool()>& stopped) {
          SpectrumOptions o = opt;
          o.seed = opt.seed + static_cast<std::uint64_t>(m);
          o.ensemble = 1;
          o.threads = 1;           // one thread each (no team), the BLAS single-threaded
          RunControl c = control;  // give up early once another member has failed
          c.stop_requested = [&control, &stopped] {
            return stopped() || (control.stop_requested && control.stop_requested());
          };
          SpectrumResult r = run_member(o, own, c);
          r.options.threads = opt.threads;
          r.options.ensemble = b;
          return r;
        }));
    e.timing.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return e;
  }
  std::vector<SpectrumResult> members;
  members.reserve(static_cast<std::size_t>(b));
  for (int m = 0; m < b; ++m) {
    SpectrumOptions o = opt;
    o.seed = opt.seed + static_cast<std::uint64_t>(m);
    o.ensemble = 1;
    Observers obs = observers;
    if (observers.progress) {
      // Member m's progress, as a fraction of the whole ensemble.
      obs.progress = [&observers, m, b](Phase p, std::int64_t done, std::int64_t total) {
        observers.progress(p, static_cast<std::int64_t>(m) * total + done,
                           static_cast<std::int64_t>(b) * total);
      };
    }
    SpectrumResult r = run_member(o, obs, control);
    r.options.ensemble = b;
    members.push_back(std::move(r));
  }
  return ensemble_statistics(std::move(members));
}

}  // namespace

EnsembleResult compute_ensemble(const SpectrumOptions& opt, const Observers& observers,
                                const RunControl& control) {
  return ensemble_of(opt, nullptr, observers, control);
}

EnsembleResult compute_ensemble(const SpectrumOptions& opt_in, const Network& net,
                                const Observers& observers, const RunControl& control) {
  SpectrumOptions opt = opt_in;
  opt.n = net.n;  // as compute_spectrum(opt, net): the network sets N
  return ensemble_of(opt, &net, observers, control);
}

}  // namespace rnnlyap
