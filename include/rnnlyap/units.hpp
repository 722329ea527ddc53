// Work units: the independent spectra a run is made of — one per (grid point, member) of a sweep,
// one per member of an ensemble, one per input sequence of a trained network's batch — for
// spreading a run over processes (MPI ranks, job-array shards) and putting it back together
// (README, "Many processes"). A unit's result is one line of text (JSON with a check); a unit
// file holds a head line that names the run, then the lines of finished units in any order.
#pragma once

#include <cstddef>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rnnlyap/options.hpp"
#include "rnnlyap/result.hpp"
#include "rnnlyap/spectrum.hpp"
#include "rnnlyap/sweep.hpp"

namespace rnnlyap {

enum class UnitKind { sweep, ensemble, sequences };

/// The units of one run and how to compute them. Copies share their state (cheap to copy).
class UnitPlan {
 public:
  /// A sweep's (grid point, member) pairs: points in run_sweep's order (alpha, then n, then g),
  /// members 0 … ensemble − 1 within each. Every grid point is validated and its memory checked.
  static UnitPlan sweep(const SweepSpec& spec);
  /// The members of an ensemble of random networks (opt.ensemble, seeds opt.seed, opt.seed + 1,
  /// …), or for a trained model (rnn, gru, lstm) the sequences of opt.inputs_file (the weights
  /// and inputs are loaded here, once). Throws InvalidInput for bad options.
  static UnitPlan spectrum(const SpectrumOptions& opt);
  /// The plan named by a unit file's head line (for combining files: compute() is not
  /// available). Throws InvalidInput for a line that is not a head.
  static UnitPlan from_head(const std::string& head_line, const std::string& file);

  UnitKind kind() const;
  std::size_t size() const;
  /// Members per grid point (sweep and ensemble) or sequences: units of one point are
  /// point · per_point … (point + 1) · per_point − 1.
  std::size_t per_point() const;
  /// "g=1.5 N=100 member 3", "member 3", "sequence 3".
  std::string label(std::size_t unit) const;
  /// Sorted units cut into runs (first, count) of consecutive units of one point: what compute()
  /// takes at once.
  std::vector<std::pair<std::size_t, std::size_t>> runs(
      const std::vector<std::size_t>& units) const;
  /// The shard (0 … shards − 1) that owns a unit: each point's members are split into `shards`
  /// consecutive parts, shifted by the point's index, so that every shard gets a share of every
  /// size and consecutive units of a shard can run together.
  int shard_of(std::size_t unit, int shards) const;
  /// The options as given (params of the result).
  const SpectrumOptions& options() const;
  /// The sweep's grid (UnitKind::sweep).
  const SweepSpec& sweep_spec() const;
  /// The same plan computing on another device or with other CPU threads (the numbers do not
  /// depend on either).
  UnitPlan placed(std::optional<int> device, std::optional<int> threads) const;

  /// Computes units first … first + count − 1, which must belong to one grid point (or to the
  /// ensemble, or the batch), together: a GPU batch or CPU threads where the run allows. One line
  /// per unit. `control.stop_requested` ends the computation early (Interrupted).
  std::vector<std::string> compute(std::size_t first, std::size_t count,
                                   const Observers& observers = {},
                                   const RunControl& control = {}) const;

  /// The first line of a unit file for this plan (with its check).
  std::string head() const;

  struct Impl;

 private:
  friend class UnitStore;
  std::shared_ptr<const Impl> impl_;
};

/// The finished units of a plan, read from a unit file and appended to it.
class UnitStore {
 public:
  /// Reads `path` when it exists and is not empty: its head must name this run (the same kind
  /// and options, except where it runs; a sweep's grid may differ — points are matched by their
  /// (g, alpha, n), never by position), else InvalidInput. Every unit line carries a hash of the
  /// run's identity: lines whose check fails, duplicates and lines of another run are ignored and
  /// reported in warnings(); units of this run at grid points not in this grid are reported, kept
  /// in the file and not used. The file is rewritten without the ignored lines when the first
  /// unit is added, then appended to; an empty path keeps everything in memory. The file is read
  /// back, so `path` must be a regular file or not exist yet (in a folder that exists): anything
  /// else (a directory, a FIFO, a device, a missing folder) throws InvalidInput naming it, here,
  /// before anything is computed. A symlink is written through: its target is replaced atomically
  /// (a temporary of this process renamed over it) and appended to, and the link stays a link.
  UnitStore(UnitPlan plan, std::string path);

  const UnitPlan& plan() const { return plan_; }
  bool has(std::size_t unit) const { return results_.at(unit).has_value(); }
  std::size_t done() const { return done_; }
  std::size_t taken_from_file() const { return taken_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  /// Units not finished, in order.
  std::vector<std::size_t> missing() const;

  /// Adds a computed unit's line (checked and matched as a line of the file; InvalidInput when it
  /// does not belong to the plan) and appends it to the file.
  void add(const std::string& line);
  /// Writes the file (its head and the kept lines) if nothing was added yet: a run that had
  /// nothing to compute still leaves its unit file.
  void save();
  const std::string& path() const { return path_; }
  /// Adds every unit line of another unit file written for the same run (rnnlyap merge): its head
  /// must name the same run with the same grid. Returns the number of units added.
  std::size_t add_file(const std::string& path);

  /// With every unit finished: the sweep (UnitKind::sweep) or the ensemble of members or sequences.
  SweepResult sweep_result() const;
  EnsembleResult ensemble_result() const;

 private:
  // The unit a line is for, or nullopt with the reason counted.
  std::optional<std::size_t> take(const std::string& line, bool from_file);
  void append(const std::string& line);
  // Turns the counts of ignored lines into warnings naming `file`.
  void note_ignored(const std::string& file);

  UnitPlan plan_;
  std::string path_;
  std::vector<std::optional<SpectrumResult>> results_;
  std::vector<char> from_file_;  // per unit: taken from the file read at the start
  std::vector<std::string> lines_;
  std::size_t done_ = 0, taken_ = 0;
  int torn_ = 0, duplicates_ = 0, foreign_ = 0, other_runs_ = 0;
  std::vector<std::string> other_points_;  // lines of this run's units off this grid: kept
  std::vector<std::string> warnings_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_{nullptr, &std::fclose};
};

}  // namespace rnnlyap
