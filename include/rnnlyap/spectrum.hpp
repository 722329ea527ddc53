// The entry point: compute the Lyapunov spectrum of a network (Benettin / Shimada–Nagashima).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "rnnlyap/network.hpp"
#include "rnnlyap/options.hpp"
#include "rnnlyap/result.hpp"

namespace rnnlyap {

/// Phases of a run, reported to the progress callback.
enum class Phase { warmup, ons_warmup, averaging };
std::string_view to_string(Phase p);

/// Optional observers of a run, called on the calling thread — except `progress` of an ensemble
/// or a batch of sequences whose runs CPU threads share: it may then come from any of those
/// threads, but never from two at once.
struct Observers {
  /// Progress: `done` of `total` units of work (tangent-step equivalents) in the given phase.
  std::function<void(Phase phase, std::int64_t done, std::int64_t total)> progress;
  /// Running estimate after every averaged re-orthonormalisation: model time averaged so far and
  /// the estimate of every exponent. Asking for it makes the backend read its logs every time.
  std::function<void(double time, std::span<const double> estimate)> trace;
  /// The trace observer keeps every estimate in memory: counted in the run's memory check.
  bool trace_kept = false;
};

/// Checkpointing of long runs. A checkpoint holds the state, the basis, the accumulated logs, the
/// position in the schedule and the options; the noise is a pure function of (seed, step), so no
/// generator state is needed. A resumed run reproduces the uninterrupted one (the state and basis
/// bit for bit; the log sums up to the rounding of a different grouping of the same terms).
struct RunControl {
  /// Written atomically (temporary + rename) every `checkpoint_every` seconds of wall time and when
  /// a stop is requested; empty: never.
  std::string checkpoint_path;
  double checkpoint_every = 300;
  /// Polled between re-orthonormalisations; when it returns true the run writes its checkpoint (if
  /// it has a path) and throws Interrupted.
  std::function<bool()> stop_requested;
  /// Continue the run saved in this checkpoint. The options passed must be those stored in it
  /// (read_checkpoint_options), except backend, precision of the backend kind and threads.
  std::string resume_path;
};

/// The options stored in a checkpoint file. Throws InvalidInput for a missing or corrupt file.
SpectrumOptions read_checkpoint_options(const std::string& path);

/// Computes the spectrum of `net` with the options (opt.n is taken from the network). Throws
/// InvalidInput for bad options and BackendUnavailable for a backend that cannot run here.
SpectrumResult compute_spectrum(const SpectrumOptions& opt, const Network& net,
                                const Observers& observers = {}, const RunControl& control = {});

/// Computes opt.ensemble networks (seeds opt.seed, opt.seed + 1, …; the same weights file with
/// different initial conditions and noise for `file` weights), one after another. Progress is
/// reported over the whole ensemble. Checkpointing (control) is for single runs: with more than
/// one member a checkpoint path or resume path throws InvalidInput.
EnsembleResult compute_ensemble(const SpectrumOptions& opt, const Observers& observers = {},
                                const RunControl& control = {});

/// Computes opt.ensemble runs of the given network `net` (opt.n is taken from it; opt.weights,
/// opt.g and opt.zero_diagonal are not applied, as in compute_spectrum(opt, net)): member m has the
/// seed opt.seed + m, so the members differ in their initial state, initial basis and noise. Each
/// member equals compute_spectrum(opt with ensemble 1 and that seed, net); otherwise as
/// compute_ensemble above (threads, progress, checkpointing only for one member).
EnsembleResult compute_ensemble(const SpectrumOptions& opt, const Network& net,
                                const Observers& observers = {}, const RunControl& control = {});

/// Builds the network from the options (make_network) and computes its spectrum.
SpectrumResult compute_spectrum(const SpectrumOptions& opt, const Observers& observers = {},
                                const RunControl& control = {});

}  // namespace rnnlyap
