// A random network's spectrum (compute_spectrum): its checks, its propagator, and the run
// (run/benettin_run.hpp, the algorithm written once for every backend).
#include <cmath>

#include "executor.hpp"
#include "io/checkpoint.hpp"
#include "loop.hpp"
#include "random.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/option_table.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap {
namespace {

void check_network(const Network& net) {
  if (net.n < 1) throw InvalidInput("network has no neurons");
  if (net.j.size() != static_cast<std::size_t>(net.n) * net.n)
    throw InvalidInput(
        "weight matrix has " + std::to_string(net.j.size()) +
        " entries, expected N*N = " + std::to_string(static_cast<std::size_t>(net.n) * net.n));
  if (!net.bias.empty() && net.bias.size() != static_cast<std::size_t>(net.n))
    throw InvalidInput("bias has " + std::to_string(net.bias.size()) +
                       " entries, expected N = " + std::to_string(net.n));
  for (std::size_t i = 0; i < net.j.size(); ++i)
    if (!std::isfinite(net.j[i]))
      throw InvalidInput("weight matrix entry (" + std::to_string(i % net.n) + ", " +
                         std::to_string(i / net.n) + ") is not finite");
  for (double b : net.bias)
    if (!std::isfinite(b)) throw InvalidInput("bias has a non-finite entry");
}

}  // namespace

std::string_view to_string(Phase p) {
  switch (p) {
    case Phase::warmup:
      return "warm-up";
    case Phase::ons_warmup:
      return "basis warm-up";
    case Phase::averaging:
      return "averaging";
  }
  return "?";
}

namespace detail {

namespace {

// A random or file network of n neurons: the run's setup (its checks, schedule, initial state),
// then the run on the propagator `place` makes for k exponents.
template <class Place>
SpectrumResult network_run(const SpectrumOptions& opt_in, int n, std::uint64_t network_hash,
                           const LoopObservers& obs, const RunControl& control, Place place) {
  detail::LoopSetup setup;
  SpectrumOptions& opt = setup.options;
  opt = opt_in;
  opt.n = n;
  validate(opt);
  if (opt.model != Model::rate && opt.model != Model::map)
    throw InvalidInput(OptionId::model, std::string(to_string(opt.model)),
                       " needs --weights-file W.npz and --inputs X.npy");
  opt.k = opt.num_exponents();
  setup.schedule = make_schedule(opt);
  setup.dim = n;
  setup.initial_state =
      opt.initial_state_file.empty()
          ? detail::initial_state(n, opt.state_seed_used())
          : detail::given_state(opt.initial_state_file, n, "a network of N = " + std::to_string(n));
  setup.network_hash = network_hash;
  const std::unique_ptr<detail::Propagator> propagator = place(opt);
  opt.backend = propagator->kind();
  return std::move(detail::run_benettin(*propagator, setup, obs, control).front());
}

// One network over a grid of ranks (--distribute-network): its weights by columns, never whole
// on a rank. With checkpoints, each rank hashes the whole network a few columns at a time (the
// hash of one process, so that a checkpoint resumes on any grid or in one process).
SpectrumResult distributed_spectrum(const SpectrumOptions& opt, const LoopObservers& obs,
                                    const RunControl& control) {
  const detail::NetworkColumns net = detail::network_columns(opt);
  const bool saved = !control.checkpoint_path.empty() || !control.resume_path.empty();
  const std::uint64_t hash = saved ? detail::network_hash(net.n, net.columns, net.bias) : 0;
  return network_run(opt, net.n, hash, obs, control, [&](const SpectrumOptions& o) {
    return detail::make_network_propagator(detail::placement_of(o), net, detail::dynamics_of(o),
                                           detail::noise_key(o.noise_seed_used()), *o.k);
  });
}

}  // namespace

SpectrumResult observed_spectrum(const SpectrumOptions& opt_in, const Network& net,
                                 const LoopObservers& obs, const RunControl& control) {
  SpectrumOptions opt = opt_in;
  opt.n = net.n;
  validate(opt);
  check_network(net);
  return network_run(
      opt, net.n, detail::network_hash(net), obs, control, [&](const SpectrumOptions& o) {
        return detail::make_network_propagator(detail::placement_of(o), {&net},
                                               detail::dynamics_of(o),
                                               {detail::noise_key(o.noise_seed_used())}, *o.k);
      });
}

SpectrumResult observed_spectrum(const SpectrumOptions& opt, const LoopObservers& obs,
                                 const RunControl& control) {
  validate(opt);
  if (opt.distributed()) return distributed_spectrum(opt, obs, control);
  check_weights_fit(opt);
  return observed_spectrum(opt, make_network(opt), obs, control);
}

}  // namespace detail

SpectrumResult compute_spectrum(const SpectrumOptions& opt, const Network& net,
                                const Observers& observers, const RunControl& control) {
  return detail::observed_spectrum(opt, net, observers, control);
}

SpectrumOptions read_checkpoint_options(const std::string& path) {
  return detail::read_checkpoint(path).options;
}

SpectrumResult compute_spectrum(const SpectrumOptions& opt, const Observers& observers,
                                const RunControl& control) {
  return detail::observed_spectrum(opt, observers, control);
}

}  // namespace rnnlyap
