// The algorithm, written once for every backend (docs/design.md): warm the state up, start an
// orthonormal basis, propagate it with the tangent map, re-orthonormalise every t_ons, average
// log|R_ii| after the basis warm-up. Standard errors come from batch means.
#include "benettin_run.hpp"

#include <algorithm>
#include <chrono>

#include "core/batch_means.hpp"
#include "core/memory_limit.hpp"
#include "core/random.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"

namespace rnnlyap::detail {
namespace {

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

BenettinRun::BenettinRun(Propagator& backend, const LoopSetup& setup, const LoopObservers& obs,
                         const RunControl& control)
    : backend_(backend),
      setup_(setup),
      obs_(obs),
      control_(control),
      opt_(setup.options),
      sched_(setup.schedule),
      n_(setup.dim),
      batch_(setup.batch),
      per_(opt_.num_exponents()),
      k_(batch_ * per_),
      ons_time_(static_cast<double>(sched_.steps_per_ons) * sched_.step_time),
      work_(work_model(sched_, n_, per_)),
      per_ons_(static_cast<double>(sched_.steps_per_ons) * work_.tangent_step + work_.qr),
      nonfinite_(opt_, sched_, batch_),
      max_ratio_(k_, 0.0),
      paths_(static_cast<std::size_t>(batch_)) {
  check_request();
  // The windows must tile the averaged part exactly: checked before anything runs (a trained
  // network's averaged length is known only here).
  std::unique_ptr<RunObserver> windows = make_ftle_windows(opt_, sched_, control_, batch_, per_);
  // Every series the run keeps in memory (finite-time windows, a kept trace, the covariant
  // vectors' R factors and bases), counted together and refused before anything runs.
  check_run_memory(opt_, sched_, n_, batch_, obs_.trace_kept,
                   static_cast<double>(host_memory_bytes()));
  std::unique_ptr<RunObserver> clv = make_clv_recording(opt_, sched_, control_, batch_, n_, per_);
  resume();
  // In this order after each re-orthonormalisation: the covariant vectors' downloads, then the
  // trace and the windows (the first of them to need the logs takes them).
  std::unique_ptr<RunObserver> in_order[] = {std::move(clv), make_trace(obs_, k_),
                                             std::move(windows), make_checkpoints(control_)};
  for (std::unique_ptr<RunObserver>& o : in_order)
    if (o) observers_.push_back(std::move(o));
}

void BenettinRun::check_request() const {
  if (backend_.batch() != batch_) throw Error("run_benettin: the propagator has another batch");
  if (batch_ > 1 && (!control_.checkpoint_path.empty() || !control_.resume_path.empty()))
    throw InvalidInput("--checkpoint and --resume are for single runs, not batches");
  if (batch_ > 1 && (obs_.trace || obs_.state))
    throw InvalidInput("a batch of runs has no trace or state observers");
}

void BenettinRun::resume() {
  resumed_ = read_resume(control_, setup_, n_, k_);
  if (resumed_) {
    run_ = resumed_->run;
  } else {
    run_.total.assign(k_, 0.0);
    run_.block.assign(k_, 0.0);
  }
}

std::vector<SpectrumResult> BenettinRun::run() {
  warm_up();
  basis_warm_up();
  average();
  return assemble();
}

void BenettinRun::report(Phase phase) const {
  if (!obs_.progress) return;
  const double done = static_cast<double>(run_.warmup_done) * work_.state_step +
                      static_cast<double>(run_.basis_started) * work_.qr +
                      static_cast<double>(run_.ons_warmup_done + run_.ons_done) * per_ons_;
  obs_.progress(phase, static_cast<std::int64_t>(done), static_cast<std::int64_t>(work_.total));
}

void BenettinRun::pause_point() {
  for (std::unique_ptr<RunObserver>& o : observers_) o->pause_point(*this);
}

std::vector<double> BenettinRun::take_logs() {
  LogSums logs = backend_.take_logs_blocking();
  nonfinite_.check_logs(logs.sums, backend_);
  for (int i = 0; i < k_; ++i) max_ratio_[i] = std::max(max_ratio_[i], logs.max_ratio[i]);
  for (std::size_t m = 0; m < logs.paths.size() && m < paths_.size(); ++m)
    paths_[m] += logs.paths[m];
  return std::move(logs.sums);
}

void BenettinRun::add_logs(const std::vector<double>& logs) {
  for (int i = 0; i < k_; ++i) run_.block[i] += logs[i];
  for (std::unique_ptr<RunObserver>& o : observers_) o->logs_added(logs);
}

void BenettinRun::logs_now() {
  if (logs_taken_) return;
  add_logs(take_logs());
  logs_taken_ = true;
}

// 1. State warm-up, in chunks so that progress can be shown.
void BenettinRun::warm_up() {
  backend_.set_state(resumed_ ? std::vector<double>(resumed_->state) : setup_.initial_state);
  const std::int64_t chunk = std::max<std::int64_t>(1, sched_.warmup_steps / 200);
  while (run_.warmup_done < sched_.warmup_steps) {
    const std::int64_t m = std::min(chunk, sched_.warmup_steps - run_.warmup_done);
    backend_.advance_state(run_.step, m);
    run_.step += m;
    run_.warmup_done += m;
    report(Phase::warmup);
    pause_point();
  }
}

void BenettinRun::start_basis() {
  if (run_.basis_started) {
    backend_.set_basis(resumed_->basis);  // saved right after a re-orthonormalisation
    return;
  }
  const std::uint64_t seed = opt_.basis_seed_used();
  if (!setup_.initial_basis.empty()) {
    backend_.set_basis(setup_.initial_basis);
  } else if (backend_.batch() == 1) {
    // By columns: a distributed run never holds the whole basis on one rank.
    backend_.set_basis_columns([this, seed](int c0, int c1, double* out) {
      detail::initial_basis_columns(n_, seed, c0, c1, out);
    });
  } else {
    backend_.set_basis(detail::initial_basis(n_, per_, seed));
  }
  backend_.reorthonormalize(false);
  run_.basis_started = true;
  report(Phase::ons_warmup);
}

// 2. Basis warm-up: the logs of these re-orthonormalisations are discarded.
void BenettinRun::basis_warm_up() {
  start_basis();
  while (run_.ons_warmup_done < sched_.ons_warmup) {
    backend_.advance_tangent(run_.step, sched_.steps_per_ons);
    run_.step += sched_.steps_per_ons;
    backend_.reorthonormalize(false);
    ++run_.ons_warmup_done;
    report(Phase::ons_warmup);
    pause_point();
  }
}

// 3. Averaging, in blocks of consecutive re-orthonormalisations (batch means).
void BenettinRun::average() {
  for (std::unique_ptr<RunObserver>& o : observers_) o->averaging_starts(*this);
  const std::int64_t n_blocks = std::min(sched_.ons_sim, kMaxBlocks);
  while (run_.ons_done < sched_.ons_sim) {
    const std::int64_t b = static_cast<std::int64_t>(run_.block_rates.size());
    const std::int64_t ons_begin = sched_.ons_sim * b / n_blocks;
    const std::int64_t ons_end = sched_.ons_sim * (b + 1) / n_blocks;
    propagate_interval();
    backend_.reorthonormalize(true);
    ++run_.ons_done;
    logs_taken_ = false;
    for (std::unique_ptr<RunObserver>& o : observers_) o->reorthonormalized(*this);
    if (run_.ons_done == ons_end) end_block(ons_begin, ons_end);
    report(Phase::averaging);
    if (run_.ons_done < sched_.ons_sim) pause_point();
  }
}

// One interval of t_ons, step by step when the state observer follows it.
void BenettinRun::propagate_interval() {
  if (!obs_.state) {
    backend_.advance_tangent(run_.step, sched_.steps_per_ons);
    run_.step += sched_.steps_per_ons;
    return;
  }
  for (std::int64_t s = 0; s < sched_.steps_per_ons; ++s, ++run_.step) {
    const std::vector<double> h = backend_.state_blocking();
    obs_.state(run_.step, h);
    backend_.advance_tangent(run_.step, 1);
  }
}

// The block's sum joins the total, its rates the batch means.
void BenettinRun::end_block(std::int64_t ons_begin, std::int64_t ons_end) {
  logs_now();
  const double bt = static_cast<double>(ons_end - ons_begin) * ons_time_;
  std::vector<double> rate(k_);
  for (int i = 0; i < k_; ++i) {
    run_.total[i] += run_.block[i];
    rate[i] = run_.block[i] / bt;
    run_.block[i] = 0;
  }
  run_.block_rates.push_back(std::move(rate));
  run_.block_times.push_back(bt);
}

// 4. One result per member: its exponents, batch-means standard errors, summary and warnings; then
// what the observers add (finite-time exponents, covariant vectors).
std::vector<SpectrumResult> BenettinRun::assemble() {
  const double seconds =
      run_.seconds +
      std::chrono::duration<double>(std::chrono::steady_clock::now() - setup_.start).count();
  std::vector<SpectrumResult> out;
  out.reserve(static_cast<std::size_t>(batch_));
  for (int m = 0; m < batch_; ++m) out.push_back(member_result(m, seconds));
  for (std::unique_ptr<RunObserver>& o : observers_) o->finish(out);
  return out;
}

SpectrumResult BenettinRun::member_result(int m, double seconds) const {
  SpectrumResult res;
  const double t_avg = sched_.averaged_time();
  res.exponents.resize(per_);
  for (int i = 0; i < per_; ++i) res.exponents[i] = run_.total[m * per_ + i] / t_avg;
  const Blocks blocks{run_.block_rates, run_.block_times, static_cast<std::size_t>(m * per_)};
  res.stderr_ = batch_means_stderr(res.exponents, blocks);
  res.summary = summarize(res.exponents);
  res.summary_stderr = summary_stderr(res.exponents, blocks);
  res.warnings = basis_warnings(
      res.exponents,
      std::vector<double>(max_ratio_.begin() + m * per_, max_ratio_.begin() + (m + 1) * per_),
      ons_time_, sched_.steps_per_ons == 1, opt_.precision);
  res.options = opt_;
  res.schedule = sched_;
  res.backend = backend_.name();
  res.device = backend_.device();
  res.timing.seconds = seconds / batch_;  // the batch's time, shared
  res.timing.tangent_steps = sched_.tangent_steps();
  res.timing.qr_count = sched_.ons_warmup + sched_.ons_sim + 1;
  res.timing.qr_paths = paths_[static_cast<std::size_t>(m)];
  return res;
}

std::vector<SpectrumResult> run_benettin(Propagator& backend, const LoopSetup& setup,
                                         const LoopObservers& obs, const RunControl& control) {
  return BenettinRun(backend, setup, obs, control).run();
}

}  // namespace rnnlyap::detail
