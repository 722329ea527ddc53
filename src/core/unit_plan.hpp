// The inside of a UnitPlan (include/rnnlyap/units.hpp), shared by the plan (unit_plan.cpp: which
// units a run has and how each is computed) and the store (unit_store.cpp: the finished units,
// read from and appended to a unit file). The lines themselves are io/unit_codec.hpp's.
#pragma once

#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "rnnlyap/options.hpp"
#include "rnnlyap/sweep.hpp"
#include "rnnlyap/trained.hpp"
#include "rnnlyap/units.hpp"

namespace rnnlyap {

struct UnitPlan::Impl {
  using json = nlohmann::json;

  UnitKind kind = UnitKind::ensemble;
  SpectrumOptions opt;  // as given (a sweep's base)
  SweepSpec spec;       // UnitKind::sweep
  struct Point {
    double g;
    std::optional<double> alpha;
    int n;
  };
  std::vector<Point> points;  // a sweep's; one (unused) point otherwise
  std::size_t per_point = 1, units = 0;
  std::shared_ptr<const CellNetwork> net;  // UnitKind::sequences
  std::shared_ptr<const InputSequences> inputs;
  std::optional<json> files;  // from a head; else hashed from the files when needed
  std::optional<int> device, threads;
  bool computes = true;
  std::string run;  // a hash of identity(): every unit line carries it

  /// Hashes the files read (once) and the identity: sets `files` and `run`.
  void identify();
  /// Every unit's result is kept until the run ends, in memory and as its unit line: the
  /// finite-time windows of all units are counted together before any unit runs.
  void check_memory() const;
  /// The options of grid point `p`, placed where this plan computes.
  SpectrumOptions point_options(std::size_t p) const;
  json files_json() const;
  /// What decides the numbers: the options without where they run (and, for a sweep, without the
  /// grid, whose points are matched one by one), and the contents of the files read.
  json identity() const;
  json grid_json() const;
  /// The key of unit `u` in its line.
  json key(std::size_t u) const;
  /// The unit a key names, if it is one of this plan's.
  std::optional<std::size_t> unit_of(const json& k) const;
  /// Exponents a unit computes (0: not known before the run).
  int exponents_of(std::size_t u) const;
};

}  // namespace rnnlyap
