// The Benettin loop shared by every model (docs/design.md, "Algorithm"): warm-ups, propagation,
// re-orthonormalisation, accumulation, batch means, checkpoints, for B ≥ 1 members in lockstep.
// Model-specific code makes a Propagator (propagator.hpp) and calls run_benettin; the run itself
// is run/benettin_run.hpp, its phases and observers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "propagator.hpp"
#include "rnnlyap/spectrum.hpp"
#include "rnnlyap/trained.hpp"

namespace rnnlyap::detail {

/// The public observers and one internal one, which the tests of the sum rules and seeds use to
/// see the trajectory: `state`, the state h before each averaged tangent step (global step index).
/// It makes the run step one at a time and read the state back every step, and needs a batch of
/// one. Converted implicitly from Observers (then without it).
struct LoopObservers : Observers {
  LoopObservers() = default;
  LoopObservers(const Observers& o) : Observers(o) {}  // NOLINT(google-explicit-constructor)
  std::function<void(std::int64_t step, std::span<const double> state)> state;
};

/// compute_spectrum (both forms) and compute_trained_spectra with the internal observers.
SpectrumResult observed_spectrum(const SpectrumOptions& opt, const Network& net,
                                 const LoopObservers& obs, const RunControl& control = {});
SpectrumResult observed_spectrum(const SpectrumOptions& opt, const LoopObservers& obs,
                                 const RunControl& control = {});
EnsembleResult observed_trained_spectra(const SpectrumOptions& opt, const CellNetwork& net,
                                        const InputSequences& inputs, const LoopObservers& obs,
                                        const RunControl& control = {});

struct LoopSetup {
  SpectrumOptions options;  ///< resolved: k set (per member), backend the one running
  Schedule schedule;
  int batch = 1;                      ///< members B
  int dim = 0;                        ///< rows of each member's tangent basis
  std::vector<double> initial_state;  ///< the B states one after another
  std::vector<double> initial_basis;  ///< B blocks of dim×k; empty: each drawn from options.seed
  std::uint64_t network_hash = 0;     ///< identifies the network (and inputs) in checkpoints
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

/// Runs the schedule on a propagator of setup.batch members and returns one result per member
/// (each with setup.options; the batch's time shared equally). Checkpoints need B = 1.
std::vector<SpectrumResult> run_benettin(Propagator& propagator, const LoopSetup& setup,
                                         const LoopObservers& obs, const RunControl& control);

/// Warnings about a spectrum's reliability: the basis condition of single re-orthonormalisations
/// (max_ratio: LogSums::max_ratio's maxima over the run, run/benettin_run.cpp); one_step: t_ons is
/// one step.
std::vector<std::string> basis_warnings(const std::vector<double>& exponents,
                                        const std::vector<double>& max_ratio, double ons_time,
                                        bool one_step, Precision precision);

/// The spectra of sequences first … first + count − 1 of `inputs` as one lockstep batch on
/// `where` (opt.k resolved). Each result equals that of a batch of one. Trace and state observers
/// need count = 1. `stop_requested` (may be empty) ends the run early (Interrupted).
std::vector<SpectrumResult> run_sequences(const SpectrumOptions& opt, const Schedule& schedule,
                                          const CellNetwork& net, const InputSequences& inputs,
                                          int first, int count, const Placement& where,
                                          const LoopObservers& obs,
                                          const std::function<bool()>& stop_requested = {});

/// An ensemble (opt.ensemble networks of the same size, seeds opt.seed, opt.seed + 1, …) as one
/// lockstep batch on `where`; each member equals the run of its seed alone. `stop_requested` (may
/// be empty) ends it early (Interrupted).
EnsembleResult run_ensemble_batched(const SpectrumOptions& opt, const Placement& where,
                                    const LoopObservers& obs,
                                    const std::function<bool()>& stop_requested = {});

}  // namespace rnnlyap::detail
