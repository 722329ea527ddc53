// The entry point: compute the Lyapunov spectrum of a network (Benettin / Shimada–Nagashima).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "rnnlyap/network.hpp"
#include "rnnlyap/options.hpp"
#include "rnnlyap/result.hpp"

namespace rnnlyap {

/// Phases of a run, reported to the progress callback.
enum class Phase { warmup, ons_warmup, averaging };
std::string_view to_string(Phase p);

/// Optional observers of a run. All are called on the calling thread.
struct Observers {
  /// Progress: `done` of `total` units of work (tangent-step equivalents) in the given phase.
  std::function<void(Phase phase, std::int64_t done, std::int64_t total)> progress;
  /// Running estimate after every averaged re-orthonormalisation: model time averaged so far and
  /// the estimate of every exponent. Asking for it makes the backend read its logs every time.
  std::function<void(double time, std::span<const double> estimate)> trace;
  /// The state h before each averaged tangent step (global step index). Debug and test use only:
  /// it forces one step per call and a state download per step.
  std::function<void(std::int64_t step, std::span<const double> state)> state;
};

/// Computes the spectrum of `net` with the options (opt.n is taken from the network). Throws
/// InvalidInput for bad options and BackendUnavailable for a backend that cannot run here.
SpectrumResult compute_spectrum(const SpectrumOptions& opt, const Network& net,
                                const Observers& observers = {});

/// Builds the network from the options (make_network) and computes its spectrum.
SpectrumResult compute_spectrum(const SpectrumOptions& opt, const Observers& observers = {});

}  // namespace rnnlyap
