// Checkpoint files: everything a run needs to continue where it stopped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/hash.hpp"
#include "rnnlyap/network.hpp"
#include "rnnlyap/options.hpp"

namespace rnnlyap::detail {

/// Position in the schedule and the accumulated statistics (docs/design.md, "Algorithm").
struct RunState {
  std::int64_t step = 0;                         ///< global steps done (the noise counter)
  std::int64_t warmup_done = 0;                  ///< state-only steps done
  bool basis_started = false;                    ///< the initial basis was set and orthonormalised
  std::int64_t ons_warmup_done = 0;              ///< discarded re-orthonormalisations done
  std::int64_t ons_done = 0;                     ///< averaged re-orthonormalisations done
  std::vector<double> total;                     ///< Σ log|R_ii| over finished blocks
  std::vector<double> block;                     ///< Σ log|R_ii| in the current block so far
  std::vector<std::vector<double>> block_rates;  ///< λ estimate of every finished block
  std::vector<double> block_times;               ///< model time of every finished block
  double seconds = 0;                            ///< wall time spent before this process
};

struct Checkpoint {
  SpectrumOptions options;
  std::uint64_t network_hash = 0;
  RunState run;
  std::vector<double> state;  ///< n
  std::vector<double> basis;  ///< n×k, empty before the basis started
};

/// FNV-1a of the weights and bias, to refuse resuming with another network.
std::uint64_t network_hash(const Network& net);
/// The same hash of a network given by columns (`columns(c0, c1, out)` writes J's columns [c0,
/// c1) of n rows), read a few columns at a time: never whole in memory.
std::uint64_t network_hash(int n, const std::function<void(int, int, double*)>& columns,
                           const std::vector<double>& bias);

/// Writes atomically (io/output_file.hpp): this process's temporary ".NAME.rnnlyap-tmp.HOST.PID"
/// beside the target (symlinks followed, so a link stays a link; stale temporaries of killed runs
/// are removed), then rename. Throws Error (a
/// failure during the run: exit status 1) if the target is not a regular file or on any failure.
void write_checkpoint(const std::string& path, const Checkpoint& c);
/// Reads and verifies (magic, version, checksum, sizes). Anything but a regular file (symlinks
/// followed) is refused when opened, and a file that changes while read is reported. Throws
/// InvalidInput on any problem.
Checkpoint read_checkpoint(const std::string& path);
/// Throws InvalidInput "checkpoint is corrupt (...)" when the saved position is impossible for the
/// run's schedule: counts negative or beyond the schedule, phases out of order, a step counter or a
/// number of finished blocks (of at most `max_blocks`) that does not match, non-finite values.
void validate_checkpoint(const Checkpoint& c, const Schedule& s, std::int64_t max_blocks,
                         const std::string& path);

}  // namespace rnnlyap::detail
