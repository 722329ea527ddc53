// What the program says on stderr besides errors: the library's warnings, one summary line per
// result (not with --quiet), and what a unit file held (README, "Using rnnlyap").
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "rnnlyap/result.hpp"
#include "rnnlyap/sweep.hpp"
#include "rnnlyap/units.hpp"

namespace rnnlyap::cli {

/// "rnnlyap: warning: ..." on stderr.
void warn(const std::string& warning);

/// A single run's JSON, with its warnings and the summary line on stderr.
std::string report_single(const SpectrumResult& r, bool quiet);
/// The JSON of an ensemble's members or a trained network's sequences, with their warnings and the
/// summary line on stderr. One sequence is reported as a single run (so is one member, as from
/// rnnlyap merge).
std::string report_members(const EnsembleResult& e, bool quiet);
/// The .npz of the same: one member's as a single run's.
std::string members_npz(const EnsembleResult& e);

/// What a unit file held at the start: its warnings (when `warnings`), the units kept.
void report_store(const UnitStore& store, bool quiet, bool warnings = true);
/// A shard's line at its end (`index` 0-based, of `count`).
void report_shard(const UnitStore& store, std::size_t computed, int index, int count, bool quiet);

/// A sweep's warnings and the points a partial file gave it, before its outputs are written.
void report_sweep_start(const SweepResult& r, const std::string& partial, bool quiet);
/// A sweep's summary after its outputs are written: where, and each size's transition.
void report_sweep_summary(const SweepResult& r, const std::string& out, const std::string& csv_path,
                          bool quiet);

}  // namespace rnnlyap::cli
