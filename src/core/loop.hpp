// The Benettin loop shared by every model (DESIGN.md §1 "Algorithm"): warm-ups, propagation,
// re-orthonormalisation, accumulation, batch means, checkpoints. Model-specific code sets up a
// Propagator and calls run_benettin.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap::detail {

struct LoopSetup {
  SpectrumOptions options;  ///< resolved: k set, backend the one running
  Schedule schedule;
  int dim = 0;                        ///< rows of the tangent basis
  std::vector<double> initial_state;  ///< the state's own length (may differ from dim)
  std::vector<double> initial_basis;  ///< dim×k (or a batch's blocks); empty: drawn from the seed
  std::uint64_t network_hash = 0;     ///< identifies the network (and inputs) in checkpoints
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

/// Runs the schedule on an uploaded propagator and returns the result (its `options` are
/// setup.options).
SpectrumResult run_benettin(Propagator& propagator, const LoopSetup& setup, const Observers& obs,
                            const RunControl& control);

/// Warnings about a spectrum's reliability (the basis condition per re-orthonormalisation).
std::vector<std::string> basis_warnings(const std::vector<double>& exponents, double ons_time,
                                        Precision precision);

/// Splits the result of a lockstep batch (B·k exponents, member-major) into B results of k
/// exponents, each with its own summary and warnings; the batch's time is shared equally.
std::vector<SpectrumResult> split_batch(const SpectrumResult& all, int batch, int k);

/// The spectra of sequences first … first + B − 1 of `inputs` as one lockstep batch: members[b]
/// (uploaded with sequence first + b) runs it. Each result equals that of a batch of one. `obs`
/// sees this batch's own progress; trace and state observers need B = 1.
std::vector<SpectrumResult> run_sequences(const SpectrumOptions& opt, const Schedule& schedule,
                                          const CellNetwork& net, const InputSequences& inputs,
                                          int first,
                                          std::vector<std::unique_ptr<CellBackend>> members,
                                          const Observers& obs);

/// An ensemble run as one batch on `batch` (B = opt.ensemble networks of the same size in
/// lockstep); the result is split into members exactly as compute_ensemble's would be.
EnsembleResult run_ensemble_batched(const SpectrumOptions& opt, BatchBackend& batch,
                                    const Observers& obs);

}  // namespace rnnlyap::detail
