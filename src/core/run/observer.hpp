// What a run reports to besides its own sums (benettin_run.hpp): the trace, the finite-time
// windows, the covariant vectors' recording and the checkpoints are observers of the averaged
// re-orthonormalisations, each in its own file. A new output that follows the
// re-orthonormalisations (a diagnostic, another series) is a new observer: a RunObserver in its
// own file, with a factory declared in benettin_run.hpp and called in BenettinRun's constructor;
// the loop itself does not change.
#pragma once

#include <memory>
#include <vector>

#include "rnnlyap/result.hpp"

namespace rnnlyap::detail {

class BenettinRun;

/// Called by the run at fixed points, in the order the observers were added. Every hook has a
/// default that does nothing.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  /// Before the first averaged re-orthonormalisation: the backend holds the basis of instant 0.
  virtual void averaging_starts(BenettinRun&) {}
  /// After each averaged re-orthonormalisation (run.state().ons_done counts it). An observer
  /// that needs this interval's logs asks for them with run.logs_now().
  virtual void reorthonormalized(BenettinRun&) {}
  /// Logs of averaged re-orthonormalisations just added to the run's sums (every take in the
  /// averaging phase, whoever asked for it).
  virtual void logs_added(const std::vector<double>&) {}
  /// Where the run may be saved or stopped: after each warm-up chunk, basis warm-up
  /// re-orthonormalisation and averaged re-orthonormalisation but the last.
  virtual void pause_point(BenettinRun&) {}
  /// The run's results, one per member, are assembled: adds this observer's part.
  virtual void finish(std::vector<SpectrumResult>&) {}
};

using RunObservers = std::vector<std::unique_ptr<RunObserver>>;

}  // namespace rnnlyap::detail
