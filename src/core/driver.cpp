// The algorithm, written once for every backend (DESIGN.md §1 "Algorithm", §2): warm the state up,
// start an orthonormal basis, propagate it with the tangent map, re-orthonormalise every t_ons,
// average log|R_ii| after the basis warm-up. Standard errors come from batch means.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "backend.hpp"
#include "random.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap {
namespace {

using detail::Backend;

// Blocks for the batch-means standard error: long enough to decorrelate (≥ tens of τ with the
// default schedule), many enough for a usable variance estimate.
constexpr std::int64_t kMaxBlocks = 40;

void check_network(const Network& net) {
  if (net.n < 1) throw InvalidInput("network has no neurons");
  if (net.j.size() != static_cast<std::size_t>(net.n) * net.n)
    throw InvalidInput("weight matrix has " + std::to_string(net.j.size()) + " entries, expected N*N = " +
                       std::to_string(static_cast<std::size_t>(net.n) * net.n));
  if (!net.bias.empty() && net.bias.size() != static_cast<std::size_t>(net.n))
    throw InvalidInput("bias has " + std::to_string(net.bias.size()) + " entries, expected N = " +
                       std::to_string(net.n));
  for (std::size_t i = 0; i < net.j.size(); ++i)
    if (!std::isfinite(net.j[i]))
      throw InvalidInput("weight matrix entry (" + std::to_string(i % net.n) + ", " +
                         std::to_string(i / net.n) + ") is not finite");
  for (double b : net.bias)
    if (!std::isfinite(b)) throw InvalidInput("bias has a non-finite entry");
}

// Relative cost of the work units, for a progress fraction that moves evenly in time: a state
// step is a matrix-vector product (2N² flops per RK stage), a tangent step a matrix product (2N²k
// per stage) and a re-orthonormalisation a QR (~4Nk²).
struct Work {
  double state_step, tangent_step, qr, total;
};

Work work_model(const Schedule& s, int n, int k) {
  Work w{};
  w.state_step = 1.0;
  w.tangent_step = 1.0 + static_cast<double>(k);
  w.qr = 2.0 * static_cast<double>(k) * k / n;
  w.total = static_cast<double>(s.warmup_steps) * w.state_step +
            static_cast<double>(s.tangent_steps()) * w.tangent_step +
            static_cast<double>(s.ons_warmup + s.ons_sim + 1) * w.qr;
  return w;
}

}  // namespace

std::string_view to_string(Phase p) {
  switch (p) {
    case Phase::warmup: return "warm-up";
    case Phase::ons_warmup: return "basis warm-up";
    case Phase::averaging: return "averaging";
  }
  return "?";
}

SpectrumResult compute_spectrum(const SpectrumOptions& opt_in, const Network& net, const Observers& obs) {
  SpectrumOptions opt = opt_in;
  opt.n = net.n;
  validate(opt);
  check_network(net);
  const int n = net.n;
  const int k = opt.num_exponents();
  opt.k = k;
  const Schedule sched = make_schedule(opt);
  const auto t_start = std::chrono::steady_clock::now();

  std::unique_ptr<Backend> backend = detail::make_backend(opt.backend, opt.precision, opt.qr);
  opt.backend = backend->name() == "cuda" ? BackendKind::cuda : BackendKind::cpu;
  detail::Dynamics dyn;
  dyn.model = opt.model;
  dyn.integrator = opt.integrator;
  dyn.dt = sched.step_time;
  dyn.input_std = opt.input_std;
  dyn.noise_key = detail::mix_seed(opt.seed ^ 0x6E6F697365ull);  // distinct from the other streams
  backend->upload(net, dyn, k);

  const Work work = work_model(sched, n, k);
  double done = 0;
  auto report = [&](Phase phase, double units) {
    done += units;
    if (obs.progress)
      obs.progress(phase, static_cast<std::int64_t>(done), static_cast<std::int64_t>(work.total));
  };

  // 1. State warm-up, in chunks so that progress can be shown.
  backend->set_state(detail::initial_state(n, opt.seed));
  std::int64_t step = 0;
  const std::int64_t chunk = std::max<std::int64_t>(1, sched.warmup_steps / 200);
  while (step < sched.warmup_steps) {
    const std::int64_t m = std::min(chunk, sched.warmup_steps - step);
    backend->advance_state(step, m);
    step += m;
    report(Phase::warmup, static_cast<double>(m) * work.state_step);
  }

  // 2. Basis warm-up: the logs of these re-orthonormalisations are discarded.
  backend->set_basis(detail::initial_basis(n, k, opt.seed));
  backend->reorthonormalize(false);
  report(Phase::ons_warmup, work.qr);
  const double per_ons = static_cast<double>(sched.steps_per_ons) * work.tangent_step + work.qr;
  for (std::int64_t i = 0; i < sched.ons_warmup; ++i) {
    backend->advance_tangent(step, sched.steps_per_ons);
    step += sched.steps_per_ons;
    backend->reorthonormalize(false);
    report(Phase::ons_warmup, per_ons);
  }
  backend->take_log_sums();

  // 3. Averaging, in blocks of consecutive re-orthonormalisations (batch means).
  const std::int64_t n_blocks = std::min(sched.ons_sim, kMaxBlocks);
  const double ons_time = static_cast<double>(sched.steps_per_ons) * sched.step_time;
  std::vector<double> total(k, 0.0), block(k, 0.0);
  std::vector<std::vector<double>> block_rates;  // λ estimate of each block
  std::vector<double> block_times;
  std::vector<double> estimate(k);
  std::int64_t ons_done = 0;
  for (std::int64_t b = 0; b < n_blocks; ++b) {
    const std::int64_t ons_end = sched.ons_sim * (b + 1) / n_blocks;
    const std::int64_t block_ons = ons_end - ons_done;
    std::fill(block.begin(), block.end(), 0.0);
    for (; ons_done < ons_end; ++ons_done) {
      if (obs.state) {
        for (std::int64_t s = 0; s < sched.steps_per_ons; ++s, ++step) {
          const std::vector<double> h = backend->state();
          obs.state(step, h);
          backend->advance_tangent(step, 1);
        }
      } else {
        backend->advance_tangent(step, sched.steps_per_ons);
        step += sched.steps_per_ons;
      }
      backend->reorthonormalize(true);
      if (obs.trace) {
        const std::vector<double> logs = backend->take_log_sums();
        const double t = static_cast<double>(ons_done + 1) * ons_time;
        for (int i = 0; i < k; ++i) {
          block[i] += logs[i];
          estimate[i] = (total[i] + block[i]) / t;
        }
        obs.trace(t, estimate);
      }
      report(Phase::averaging, per_ons);
    }
    if (!obs.trace) {
      const std::vector<double> logs = backend->take_log_sums();
      for (int i = 0; i < k; ++i) block[i] += logs[i];
    }
    const double bt = static_cast<double>(block_ons) * ons_time;
    std::vector<double> rate(k);
    for (int i = 0; i < k; ++i) {
      total[i] += block[i];
      rate[i] = block[i] / bt;
    }
    block_rates.push_back(std::move(rate));
    block_times.push_back(bt);
  }

  SpectrumResult res;
  const double t_avg = sched.averaged_time();
  res.exponents.resize(k);
  res.stderr_.assign(k, std::numeric_limits<double>::quiet_NaN());
  for (int i = 0; i < k; ++i) res.exponents[i] = total[i] / t_avg;
  if (n_blocks >= 2) {
    // Weighted batch means: var(λ̂) = B/(B-1) Σ_b w_b² (λ_b - λ̂)², w_b = T_b / T.
    const double nb = static_cast<double>(n_blocks);
    for (int i = 0; i < k; ++i) {
      double v = 0;
      for (std::size_t b = 0; b < block_rates.size(); ++b) {
        const double w = block_times[b] / t_avg;
        const double d = block_rates[b][i] - res.exponents[i];
        v += w * w * d * d;
      }
      res.stderr_[i] = std::sqrt(v * nb / (nb - 1));
    }
  }
  res.summary = summarize(res.exponents);
  res.options = opt;
  res.schedule = sched;
  res.backend = backend->name();
  res.device = backend->device();
  res.timing.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  res.timing.tangent_steps = sched.tangent_steps();
  res.timing.qr_count = sched.ons_warmup + sched.ons_sim + 1;
  return res;
}

SpectrumResult compute_spectrum(const SpectrumOptions& opt, const Observers& observers) {
  validate(opt);
  if (opt.weights != WeightKind::file) {
    // The weights alone are N² doubles: refuse before allocating what cannot fit.
    const std::size_t n = static_cast<std::size_t>(opt.n);
    const std::size_t need = n * n * sizeof(double);
    const std::size_t have = host_memory_bytes();
    if (have != 0 && need > have)
      throw InvalidInput("N = " + std::to_string(opt.n) + " needs " + std::to_string(need >> 20) +
                         " MiB for the weights alone; this machine has " + std::to_string(have >> 20) +
                         " MiB");
  }
  return compute_spectrum(opt, make_network(opt), observers);
}

}  // namespace rnnlyap
