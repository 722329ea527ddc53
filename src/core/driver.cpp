// The algorithm, written once for every backend (docs/design.md): warm the state up,
// start an orthonormal basis, propagate it with the tangent map, re-orthonormalise every t_ons,
// average log|R_ii| after the basis warm-up. Standard errors come from batch means.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include <optional>

#include "batch_means.hpp"
#include "clv.hpp"
#include "executor.hpp"
#include "io/checkpoint.hpp"
#include "loop.hpp"
#include "random.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap {
namespace {

// Blocks for the batch-means standard error: long enough to decorrelate (≥ tens of τ with the
// default schedule), many enough for a usable variance estimate.
constexpr std::int64_t kMaxBlocks = 40;

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

// The working precision's machine epsilon.
double epsilon_of(Precision p) {
  return p == Precision::fp32 ? std::numeric_limits<float>::epsilon()
                              : std::numeric_limits<double>::epsilon();
}

}  // namespace

// Column i of the basis before a re-orthonormalisation is resolved only down to ~ε |R_11| (ε of
// the working precision): once |R_11/R_ii| passes ~1/(100 ε), log|R_ii| is rounding noise, and so
// is every later column (they are orthogonalised against it). One re-orthonormalisation past the
// limit suffices: heavy-tailed (Lévy) weights have single intervals far beyond the average, and
// their trailing exponents then change with the rounding (one build to the next). So the judge is
// the largest log|R_11/R_ii| of a single averaged re-orthonormalisation (max_ratio, from the
// re-orthonormaliser: no extra synchronisation), not the averaged spread (λ_1 − λ_i) t_ons, which
// is never larger (a mean of the same differences) and only stands in for the
// re-orthonormalisations before a --resume, whose maxima the checkpoint does not keep. −∞ exponents
// and exactly zero R_ii (an exactly singular map) are exact and never count. A collapsed basis
// compresses the computed ratios, so they are lower bounds and the warning errs on the safe side.
std::vector<std::string> basis_warnings(const std::vector<double>& exponents,
                                        const std::vector<double>& max_ratio, double ons_time,
                                        bool one_step, Precision precision) {
  std::vector<std::string> w;
  const std::size_t k = exponents.size();
  const bool fp32 = precision == Precision::fp32;
  const double limit = std::log(1 / epsilon_of(precision)) - std::log(100.0);
  for (std::size_t i = 1; i < k; ++i) {
    // A −∞ exponent is exact (a log|R_ii| of exactly 0 at some re-orthonormalisation: J of rank
    // below k), whatever rounding-level R_ii the other re-orthonormalisations had.
    if (exponents[i] == -std::numeric_limits<double>::infinity()) continue;
    double worst = i < max_ratio.size() ? max_ratio[i] : 0.0;
    const double spread = (exponents[0] - exponents[i]) * ons_time;
    if (std::isfinite(spread)) worst = std::max(worst, spread);
    if (!(worst > limit)) continue;
    // What helps: a shorter interval (unless it is one step already), fp64, fewer exponents.
    std::string hint = one_step ? "" : "shorten --t-ons, ";
    if (fp32) hint += "use --precision fp64, ";
    hint += (hint.empty() ? "compute" : "or compute") + std::string(" fewer exponents (--k ") +
            std::to_string(i) + ")";
    char msg[400];
    std::snprintf(msg, sizeof msg,
                  "the exponents from lambda_%zu on are unreliable: a re-orthonormalisation's "
                  "basis condition |R_11/R_%zu,%zu| reached e^%.0f, beyond what %s resolves "
                  "(e^%.0f), so they, and D_KY and H computed from them, depend on rounding; ",
                  i + 1, i + 1, i + 1, worst, fp32 ? "fp32" : "fp64", limit);
    w.push_back(msg + hint);
    break;
  }
  return w;
}

std::vector<SpectrumResult> run_benettin(Propagator& backend_ref, const LoopSetup& setup,
                                         const Observers& obs, const RunControl& control) {
  Propagator* backend = &backend_ref;
  SpectrumOptions opt = setup.options;
  const Schedule& sched = setup.schedule;
  const int n = setup.dim;
  const int batch = setup.batch;
  const int per = opt.num_exponents();  // exponents per member
  const int k = batch * per;            // the logs of all members, member-major
  const auto t_start = setup.start;
  if (backend->batch() != batch) throw Error("run_benettin: the propagator has another batch");
  if (batch > 1 && (!control.checkpoint_path.empty() || !control.resume_path.empty()))
    throw InvalidInput("--checkpoint and --resume are for single runs, not batches");
  if (batch > 1 && (obs.trace || obs.state))
    throw InvalidInput("a batch of runs has no trace or state observers");

  // Finite-time exponents: the logs of each window of `window_ons` re-orthonormalisations (every
  // log taken is added to the window's sum too; a window's end forces a take). The windows must
  // tile the averaged part exactly, so that their mean is the exponent: checked before anything
  // runs (a trained network's averaged length is known only here).
  const double ons_time = static_cast<double>(sched.steps_per_ons) * sched.step_time;
  const std::int64_t window_ons =
      opt.ftle_window > 0 ? std::llround(opt.ftle_window / ons_time) : 0;
  if (window_ons > 0 && (!control.resume_path.empty() || !control.checkpoint_path.empty()))
    throw InvalidInput("--ftle-window is not kept in checkpoints: give it without --checkpoint");
  if (window_ons > 0 && (sched.ons_sim < window_ons || sched.ons_sim % window_ons != 0)) {
    char msg[200];
    std::snprintf(msg, sizeof msg,
                  "--ftle-window %.10g does not tile the averaged time %.10g (it must divide it, "
                  "so that the windows' mean is the exponent)",
                  opt.ftle_window, sched.averaged_time());
    throw InvalidInput(msg);
  }
  // Every series the run keeps in memory (finite-time windows, a kept trace, the covariant
  // vectors' R factors and bases), counted together and refused before anything runs.
  check_run_memory(opt, sched, n, batch, obs.trace_kept, static_cast<double>(host_memory_bytes()));
  // Covariant vectors over a window at the start of the averaging phase (clv.hpp): refused before
  // anything runs when they cannot be had or do not fit in memory.
  std::optional<ClvRecorder> clv;
  if (opt.clv_requested()) {
    if (batch > 1) throw InvalidInput("--clv and --clv-stats are for single runs, not batches");
    if (!control.resume_path.empty() || !control.checkpoint_path.empty())
      throw InvalidInput(
          "--clv and --clv-stats are not kept in checkpoints: give them without --checkpoint and "
          "--resume");
    ClvPlan plan = make_clv_plan(opt, sched);
    clv.emplace(std::move(plan), n, per, opt.basis_seed_used());
  }
  detail::RunState run;
  std::optional<detail::Checkpoint> resumed;
  if (!control.resume_path.empty()) {
    resumed = detail::read_checkpoint(control.resume_path);
    detail::validate_checkpoint(*resumed, sched, kMaxBlocks, control.resume_path);
    if (resumed->network_hash != setup.network_hash)
      throw InvalidInput(control.resume_path + ": the checkpoint was written for another network");
    if (resumed->state.size() != setup.initial_state.size() ||
        resumed->run.total.size() != static_cast<std::size_t>(k) ||
        (resumed->run.basis_started && resumed->basis.size() != static_cast<std::size_t>(n) * k))
      throw InvalidInput(control.resume_path + ": checkpoint sizes do not match N = " +
                         std::to_string(n) + ", k = " + std::to_string(k));
    run = resumed->run;
  } else {
    run.total.assign(k, 0.0);
    run.block.assign(k, 0.0);
  }

  const Work work = work_model(sched, n, per);
  const double per_ons = static_cast<double>(sched.steps_per_ons) * work.tangent_step + work.qr;
  auto report = [&](Phase phase) {
    if (!obs.progress) return;
    const double done = static_cast<double>(run.warmup_done) * work.state_step +
                        static_cast<double>(run.basis_started) * work.qr +
                        static_cast<double>(run.ons_warmup_done + run.ons_done) * per_ons;
    obs.progress(phase, static_cast<std::int64_t>(done), static_cast<std::int64_t>(work.total));
  };

  // The logs are read at block ends, traces, windows and checkpoints. NaN propagates into them
  // from a state or basis that overflowed: NaN or +inf means the state overflowed (φ of ±inf is
  // NaN after one more step) or the basis did between re-orthonormalisations (κ = e^{(λ_1 − λ_k)
  // t_ons} beyond the working precision). −inf is allowed for an exactly singular tangent map (a
  // zero column of J, g = 0) but not when it comes from a saturated state (below).
  const bool fp32 = opt.precision == Precision::fp32;
  const std::string precision_hint = fp32 ? "; or use --precision fp64" : "";
  const std::string scale_hint =
      is_cell(opt.model)                ? "lower the weights or the inputs (--inputs)"
      : opt.weights == WeightKind::file ? "lower the weights' scale (--weights-file) or --input-std"
      : opt.weights == WeightKind::levy ? "lower --g or --input-std, or raise --alpha"
                                        : "lower --g or --input-std";
  const std::string bias_hint = opt.bias_std > 0 ? " (or --bias-std)" : "";
  // Beyond this |h|, φ′(h) = 4e^{−2|h|}/(1 + e^{−2|h|})² (elementwise.hpp) is below the smallest
  // normal number of the precision (e^{−708.4} in fp64, e^{−87.3} in fp32) and soon exactly 0.
  const double saturated = fp32 ? 44.0 : 354.0;
  // Where a saturated unit's φ′ is all its tangent map has — a map, or a rate network stepped by
  // Euler with dt = 1 (no leak 1 − dt) — an underflowed φ′ gives a wrong exponent (finite noise
  // or −∞ set by the precision, not log φ′(h) ≈ −2|h| per step). A rate network's leak keeps such
  // a unit's exponent at −1 (its φ′ term is below rounding), so there saturation is harmless.
  const bool phi_only =
      opt.model == Model::map ||
      (opt.model == Model::rate && opt.integrator == Integrator::euler && sched.step_time == 1.0);
  // The state of a map whose units saturate is checked whenever the logs are taken (one download
  // of B·N values, after the wait that taking the logs has anyway): a unit that saturates only
  // between two checks makes its R_ii rounding noise, which the basis warning (basis_warnings)
  // then reports. Any rate/map state that overflowed is an error too. `limit`: the |h| beyond
  // which a unit counts as saturated; `minus_inf`: the check of a −∞ log (below).
  auto check_state = [&](const std::vector<double>& state, double limit, bool minus_inf) {
    const std::size_t units = state.size() / static_cast<std::size_t>(batch);
    for (int m = 0; m < batch; ++m) {
      double largest = 0;
      std::size_t count = 0;
      for (std::size_t u = 0; u < units; ++u) {
        const double h = state[m * units + u];
        if (!std::isfinite(h))
          throw Error(
              "the network state overflowed to a non-finite value, so the exponents are "
              "not finite: " +
              scale_hint + bias_hint + precision_hint);
        largest = std::max(largest, std::fabs(h));
        count += std::fabs(h) > limit ? 1 : 0;
      }
      if (count == 0) continue;
      char msg[400];
      std::snprintf(msg, sizeof msg,
                    "the network state saturated%s: %zu of N = %zu units at |h| > %.0f (largest "
                    "|h| %.3g), where %s in %s, so their exponents would be set by the precision, "
                    "not by the network: ",
                    batch > 1 ? (" (member " + std::to_string(m) + ")").c_str() : "", count, units,
                    limit, largest,
                    minus_inf
                        ? "phi'(h) is below the precision's rounding or its products underflow (a "
                          "log|R_ii| is -inf)"
                        : "phi'(h) underflows",
                    fp32 ? "fp32" : "fp64");
      throw Error(msg + scale_hint + bias_hint + precision_hint);
    }
  };
  auto check_logs = [&](const std::vector<double>& logs) {
    bool nan_or_inf = false, minus_inf = false;
    for (double v : logs) {
      if (std::isnan(v) || v == std::numeric_limits<double>::infinity()) nan_or_inf = true;
      if (v == -std::numeric_limits<double>::infinity()) minus_inf = true;
    }
    if (phi_only) {
      const std::vector<double> state = backend->state_blocking();
      check_state(state, saturated, false);
      // A −∞ log is also what a product of such φ′ gives when it underflows to 0: over the
      // steps_per_ons steps of one interval, or of one step's φ′ (from |h| ≈ saturated / 2 on)
      // with the tiny basis entries a saturated unit's direction ends up with (a decoupled map
      // with a unit at |h| = 300, t_ons one step: finite for tens of re-orthonormalisations, then
      // −∞). Long before that, a unit whose φ′(h) ≈ 4e^{−2|h|} is below ε (|h| beyond
      // (log 4 + log 1/ε)/2: 18.7 in fp64, 8.7 in fp32) has a direction the QR resolves only to
      // rounding level, and rounding alone can make its R_ii exactly 0 (a coupled map with a unit
      // at |h| = 30: a −∞ after a few hundred steps, for a true exponent of −55). So a −∞ is taken
      // for exact (an exactly singular map) only when no unit is beyond either bound.
      const double below_rounding = 0.5 * (std::log(4.0) + std::log(1 / epsilon_of(opt.precision)));
      if (minus_inf)
        check_state(state,
                    std::min(below_rounding, saturated / static_cast<double>(std::max<std::int64_t>(
                                                             2, sched.steps_per_ons))),
                    true);
    }
    if (!nan_or_inf && !minus_inf) return;
    // A rate network's or a cell's state is downloaded only here, to say what overflowed (a
    // cell's state holds no pre-activations: only its overflow is checked).
    if (!phi_only)
      check_state(backend->state_blocking(),
                  is_cell(opt.model) ? std::numeric_limits<double>::infinity() : saturated, false);
    // A trained cell's pre-activations are not in its state: a −∞ there is a saturated gate
    // (|pre-activation| beyond what the precision resolves), not a singular network. A relu RNN
    // is exactly singular wherever a unit is off (relu′ = 0): its −∞ is exact, as for g = 0.
    const bool relu = opt.model == Model::rnn && opt.nonlinearity == Nonlinearity::relu;
    if (is_cell(opt.model) && !nan_or_inf && !relu)
      throw Error(std::string("the cell saturated: its Jacobian became exactly singular in ") +
                  (fp32 ? "fp32" : "fp64") +
                  " (a log|R_ii| is -inf), so the exponents are not finite: " + scale_hint +
                  precision_hint);
    if (nan_or_inf)
      throw Error(
          "the tangent basis overflowed or degenerated between re-orthonormalisations (a "
          "non-finite log|R_ii|): shorten --t-ons, or " +
          scale_hint + precision_hint);
  };
  // Per log: the largest log|R_11/R_ii| of one averaged re-orthonormalisation (basis_warnings).
  // The basis warm-up's are not taken (its logs are discarded, and a basis that lost directions to
  // rounding there regains them: that is what the warm-up is for).
  std::vector<double> max_ratio(k, 0.0);
  auto take_logs = [&] {
    LogSums logs = backend->take_logs_blocking();
    check_logs(logs.sums);
    for (int i = 0; i < k; ++i) max_ratio[i] = std::max(max_ratio[i], logs.max_ratio[i]);
    return std::move(logs.sums);
  };

  // Checkpoints are taken between re-orthonormalisations (or warm-up chunks): the logs so far move
  // from the backend into the current block's host sum, then state and basis are downloaded.
  auto last_checkpoint = std::chrono::steady_clock::now();
  auto checkpoint_if_due = [&] {
    const bool stop = control.stop_requested && control.stop_requested();
    const auto now = std::chrono::steady_clock::now();
    const bool due =
        !control.checkpoint_path.empty() &&
        std::chrono::duration<double>(now - last_checkpoint).count() >= control.checkpoint_every;
    if (!stop && !due) return;
    if (!control.checkpoint_path.empty()) {
      const std::vector<double> logs = take_logs();
      if (run.ons_warmup_done == sched.ons_warmup && run.basis_started)
        for (int i = 0; i < k; ++i) run.block[i] += logs[i];
      detail::Checkpoint c;
      c.options = opt;
      c.network_hash = setup.network_hash;
      c.run = run;
      c.run.seconds += std::chrono::duration<double>(now - t_start).count();
      c.state = backend->state_blocking();
      if (run.basis_started) c.basis = backend->basis_blocking();
      detail::write_checkpoint(control.checkpoint_path, c);
      last_checkpoint = now;
    }
    if (stop)
      throw Interrupted(control.checkpoint_path.empty()
                            ? std::string("interrupted")
                            : "interrupted; resume with --resume " + control.checkpoint_path);
  };

  // 1. State warm-up, in chunks so that progress can be shown.
  backend->set_state(resumed ? std::vector<double>(resumed->state) : setup.initial_state);
  const std::int64_t chunk = std::max<std::int64_t>(1, sched.warmup_steps / 200);
  while (run.warmup_done < sched.warmup_steps) {
    const std::int64_t m = std::min(chunk, sched.warmup_steps - run.warmup_done);
    backend->advance_state(run.step, m);
    run.step += m;
    run.warmup_done += m;
    report(Phase::warmup);
    checkpoint_if_due();
  }

  // 2. Basis warm-up: the logs of these re-orthonormalisations are discarded.
  if (run.basis_started) {
    backend->set_basis(resumed->basis);  // saved right after a re-orthonormalisation
  } else {
    backend->set_basis(setup.initial_basis.empty()
                           ? detail::initial_basis(n, per, opt.basis_seed_used())
                           : setup.initial_basis);
    backend->reorthonormalize(false);
    run.basis_started = true;
    report(Phase::ons_warmup);
  }
  while (run.ons_warmup_done < sched.ons_warmup) {
    backend->advance_tangent(run.step, sched.steps_per_ons);
    run.step += sched.steps_per_ons;
    backend->reorthonormalize(false);
    ++run.ons_warmup_done;
    report(Phase::ons_warmup);
    checkpoint_if_due();
  }

  // 3. Averaging, in blocks of consecutive re-orthonormalisations (batch means).
  const std::int64_t n_blocks = std::min(sched.ons_sim, kMaxBlocks);
  std::vector<double> estimate(k);
  std::vector<double> window_sum(window_ons > 0 ? k : 0, 0.0);
  std::vector<std::vector<double>> windows;  // windows × k rates
  auto add_logs = [&](const std::vector<double>& logs) {
    for (int i = 0; i < k; ++i) run.block[i] += logs[i];
    for (std::size_t i = 0; i < window_sum.size(); ++i) window_sum[i] += logs[i];
  };
  if (clv) backend->keep_r(true);  // from the first averaged re-orthonormalisation on
  if (clv && clv->wants_basis(0)) clv->add_basis(0, backend->basis_blocking());
  while (run.ons_done < sched.ons_sim) {
    const std::int64_t b = static_cast<std::int64_t>(run.block_rates.size());
    const std::int64_t ons_begin = sched.ons_sim * b / n_blocks;
    const std::int64_t ons_end = sched.ons_sim * (b + 1) / n_blocks;
    if (obs.state) {
      for (std::int64_t s = 0; s < sched.steps_per_ons; ++s, ++run.step) {
        const std::vector<double> h = backend->state_blocking();
        obs.state(run.step, h);
        backend->advance_tangent(run.step, 1);
      }
    } else {
      backend->advance_tangent(run.step, sched.steps_per_ons);
      run.step += sched.steps_per_ons;
    }
    backend->reorthonormalize(true);
    ++run.ons_done;
    if (clv && !clv->complete()) {
      clv->add_r(backend->last_r_blocking());
      if (clv->wants_basis(run.ons_done)) clv->add_basis(run.ons_done, backend->basis_blocking());
    }
    const bool window_end = window_ons > 0 && run.ons_done % window_ons == 0;
    bool taken = false;
    if (obs.trace || window_end) {
      add_logs(take_logs());
      taken = true;
    }
    if (obs.trace) {
      const double t = static_cast<double>(run.ons_done) * ons_time;
      for (int i = 0; i < k; ++i) estimate[i] = (run.total[i] + run.block[i]) / t;
      obs.trace(t, estimate);
    }
    if (window_end) {
      const double wt = static_cast<double>(window_ons) * ons_time;
      std::vector<double> rate(k);
      for (int i = 0; i < k; ++i) rate[i] = window_sum[i] / wt;
      windows.push_back(std::move(rate));
      std::fill(window_sum.begin(), window_sum.end(), 0.0);
    }
    if (run.ons_done == ons_end) {
      if (!taken) add_logs(take_logs());
      const double bt = static_cast<double>(ons_end - ons_begin) * ons_time;
      std::vector<double> rate(k);
      for (int i = 0; i < k; ++i) {
        run.total[i] += run.block[i];
        rate[i] = run.block[i] / bt;
        run.block[i] = 0;
      }
      run.block_rates.push_back(std::move(rate));
      run.block_times.push_back(bt);
    }
    report(Phase::averaging);
    if (run.ons_done < sched.ons_sim) checkpoint_if_due();
  }

  // One result per member: its exponents, batch-means standard errors, summary and warnings.
  const double t_avg = sched.averaged_time();
  const double seconds =
      run.seconds +
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  std::vector<SpectrumResult> out(static_cast<std::size_t>(batch));
  for (int m = 0; m < batch; ++m) {
    SpectrumResult& res = out[static_cast<std::size_t>(m)];
    res.exponents.resize(per);
    for (int i = 0; i < per; ++i) res.exponents[i] = run.total[m * per + i] / t_avg;
    const Blocks blocks{run.block_rates, run.block_times, static_cast<std::size_t>(m * per)};
    res.stderr_ = batch_means_stderr(res.exponents, blocks);
    for (const auto& w : windows)
      res.ftle.emplace_back(w.begin() + m * per, w.begin() + (m + 1) * per);
    res.summary = summarize(res.exponents);
    res.summary_stderr = summary_stderr(res.exponents, blocks);
    res.warnings = basis_warnings(
        res.exponents,
        std::vector<double>(max_ratio.begin() + m * per, max_ratio.begin() + (m + 1) * per),
        ons_time, sched.steps_per_ons == 1, opt.precision);
    res.options = opt;
    res.schedule = sched;
    res.backend = backend->name();
    res.device = backend->device();
    res.timing.seconds = seconds / batch;  // the batch's time, shared
    res.timing.tangent_steps = sched.tangent_steps();
    res.timing.qr_count = sched.ons_warmup + sched.ons_sim + 1;
  }
  if (clv) {
    out.front().clv =
        clv->finish(out.front().exponents, out.front().stderr_, nullptr, &out.front().warnings);
    if (out.front().clv->transient == 0)
      out.front().warnings.push_back(
          "covariant vectors without a backward transient (--clv-transient 0, or --t-ons-warmup "
          "0 without it): the vectors and statistics still carry the random start of the backward "
          "pass; give --clv-transient T");
  }
  return out;
}

}  // namespace detail

SpectrumResult compute_spectrum(const SpectrumOptions& opt_in, const Network& net,
                                const Observers& obs, const RunControl& control) {
  detail::LoopSetup setup;
  SpectrumOptions& opt = setup.options;
  opt = opt_in;
  opt.n = net.n;
  validate(opt);
  check_network(net);
  if (opt.model != Model::rate && opt.model != Model::map)
    throw InvalidInput(std::string("--model ") + std::string(to_string(opt.model)) +
                       " needs --weights-file W.npz and --inputs X.npy");
  opt.k = opt.num_exponents();
  setup.schedule = make_schedule(opt);
  setup.dim = net.n;
  setup.initial_state = opt.initial_state_file.empty()
                            ? detail::initial_state(net.n, opt.state_seed_used())
                            : detail::given_state(opt.initial_state_file, net.n,
                                                  "a network of N = " + std::to_string(net.n));
  setup.network_hash = detail::network_hash(net);
  if (opt.threads > 0) cpu::set_blas_threads(opt.threads);

  const std::unique_ptr<detail::Propagator> propagator =
      detail::make_network_propagator(detail::placement_of(opt), {&net}, detail::dynamics_of(opt),
                                      {detail::noise_key(opt.noise_seed_used())}, *opt.k);
  opt.backend = propagator->name() == "cuda" ? BackendKind::cuda : BackendKind::cpu;
  return std::move(detail::run_benettin(*propagator, setup, obs, control).front());
}

SpectrumOptions read_checkpoint_options(const std::string& path) {
  return detail::read_checkpoint(path).options;
}

SpectrumResult compute_spectrum(const SpectrumOptions& opt, const Observers& observers,
                                const RunControl& control) {
  validate(opt);
  detail::check_weights_fit(opt);
  return compute_spectrum(opt, make_network(opt), observers, control);
}

}  // namespace rnnlyap
