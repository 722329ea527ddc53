// One run of the Benettin loop (loop.hpp's run_benettin) as an object with one method per phase:
// the state warm-up, the basis warm-up, the averaging blocks and the assembly of the results. What
// follows the averaged re-orthonormalisations — the trace, the finite-time windows, the covariant
// vectors' recording, the checkpoints — are observers (observer.hpp), each in its own file.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/loop.hpp"
#include "io/checkpoint.hpp"
#include "nonfinite.hpp"
#include "observer.hpp"

namespace rnnlyap::detail {

/// Blocks for the batch-means standard error: long enough to decorrelate (≥ tens of τ with the
/// default schedule), many enough for a usable variance estimate.
inline constexpr std::int64_t kMaxBlocks = 40;

/// Relative cost of the work units, for a progress fraction that moves evenly in time: a state
/// step is a matrix-vector product (2N² flops per RK stage), a tangent step a matrix product (2N²k
/// per stage) and a re-orthonormalisation a QR (~4Nk²).
struct Work {
  double state_step, tangent_step, qr, total;
};

class BenettinRun {
 public:
  /// Checks the request (refusing, before anything runs, what cannot be had or does not fit in
  /// memory), reads the checkpoint to resume from and sets up the observers.
  BenettinRun(Propagator& backend, const LoopSetup& setup, const LoopObservers& obs,
              const RunControl& control);

  /// The whole schedule: one result per member (run_benettin).
  std::vector<SpectrumResult> run();

  // For the observers.
  Propagator& backend() { return backend_; }
  const RunState& state() const { return run_; }
  const SpectrumOptions& options() const { return opt_; }
  const Schedule& schedule() const { return sched_; }
  const LoopSetup& setup() const { return setup_; }
  double ons_time() const { return ons_time_; }
  /// Logs per run: B members × k exponents, member-major.
  int logs() const { return k_; }
  /// Takes the logs accumulated in the backend since the last take (checked: nonfinite.hpp).
  std::vector<double> take_logs();
  /// Adds logs of averaged re-orthonormalisations to the current block and tells the observers.
  void add_logs(const std::vector<double>& logs);
  /// In the averaging phase: makes sure the logs up to the last re-orthonormalisation are in the
  /// sums (taken at most once per re-orthonormalisation).
  void logs_now();

 private:
  void check_request() const;
  void resume();
  void warm_up();
  void start_basis();
  void basis_warm_up();
  void average();
  void propagate_interval();
  void end_block(std::int64_t ons_begin, std::int64_t ons_end);
  void report(Phase phase) const;
  void pause_point();
  std::vector<SpectrumResult> assemble();
  SpectrumResult member_result(int m, double seconds) const;

  Propagator& backend_;
  const LoopSetup& setup_;
  const LoopObservers& obs_;
  const RunControl& control_;
  SpectrumOptions opt_;
  const Schedule& sched_;
  int n_, batch_;
  int per_;  // exponents per member
  int k_;    // the logs of all members, member-major
  double ons_time_;
  Work work_;
  double per_ons_;  // work of one re-orthonormalisation interval
  NonfiniteCheck nonfinite_;
  RunState run_;
  std::optional<Checkpoint> resumed_;
  // Per log: the largest log|R_11/R_ii| of one averaged re-orthonormalisation (basis_warnings).
  // The basis warm-up's are not taken (its logs are discarded, and a basis that lost directions to
  // rounding there regains them: that is what the warm-up is for).
  std::vector<double> max_ratio_;
  // Per member: how its re-orthonormalisations went (taken with the logs).
  std::vector<QrPaths> paths_;
  bool logs_taken_ = false;  // this re-orthonormalisation's logs are in the sums
  RunObservers observers_;
};

// The observers (one file each); a factory returns null when the run does not ask for it, and
// refuses (InvalidInput) what it cannot do before anything runs.

/// Finite-time exponents over windows of --ftle-window (ftle_windows.cpp).
std::unique_ptr<RunObserver> make_ftle_windows(const SpectrumOptions& opt, const Schedule& sched,
                                               const RunControl& control, int batch, int per);
/// Covariant vectors over a window at the start of the averaging phase (clv_recording.cpp).
std::unique_ptr<RunObserver> make_clv_recording(const SpectrumOptions& opt, const Schedule& sched,
                                                const RunControl& control, int batch, int rows,
                                                int per);
/// The running estimate after every averaged re-orthonormalisation (trace.cpp).
std::unique_ptr<RunObserver> make_trace(const Observers& obs, int k);
/// Checkpoints every control.checkpoint_every seconds and the stop request (checkpoints.cpp).
std::unique_ptr<RunObserver> make_checkpoints(const RunControl& control);
/// The checkpoint control.resume_path names, checked against the run (checkpoints.cpp); none
/// without one.
std::optional<Checkpoint> read_resume(const RunControl& control, const LoopSetup& setup, int rows,
                                      int k);

}  // namespace rnnlyap::detail
