// A run's units (rnnlyap/units.hpp) computed by this process: as one share (--shard I/N) or over
// MPI ranks, with the progress bar and a stop on SIGINT/SIGTERM. `spectrum` and `sweep` share it.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "outputs.hpp"
#include "rnnlyap/options.hpp"
#include "rnnlyap/units.hpp"

namespace rnnlyap::cli {

/// "--shard I/N": the I-th of N shares of the units (1 <= I <= N).
struct Shard {
  int index = 0, count = 0;  // index 0-based
};
Shard parse_shard(const std::string& text);

/// Where this rank computes: one GPU per rank on a node (its node-local rank modulo the node's
/// GPUs) unless --device is given, and its share of the node's cores unless --threads is.
UnitPlan placed_for_rank(const UnitPlan& plan, const SpectrumOptions& o, const CLI::App& sub);

/// Rank 0 opens the unit file `path` (the units of `plan`) and then `files`; every rank waits until
/// it has (ranks_agree: a failure there stops them all). Null on the other ranks.
std::unique_ptr<UnitStore> open_units(const UnitPlan& plan, const std::string& path,
                                      Outputs& files);

/// The units rank 0 gives out: the missing ones, or with --shard those of this shard.
std::vector<std::size_t> units_to_compute(const UnitStore& store,
                                          const std::optional<Shard>& shard);

/// Computes `todo` over the ranks (rank 0 keeps them in `store`, the unit file `name`), with a
/// progress bar on rank 0; SIGINT/SIGTERM stop it.
void compute_units(const UnitPlan& plan, UnitStore* store, const std::vector<std::size_t>& todo,
                   const std::string& name, bool quiet, double log_seconds);

}  // namespace rnnlyap::cli
