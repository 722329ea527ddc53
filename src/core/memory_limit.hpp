// The memory this process may still allocate: the machine's MemAvailable bounded by the cgroup
// limits it runs under (v2 and v1), so that a run too big for a container's or a job's limit is
// refused with a message instead of being killed by the OOM killer (info.cpp).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "rnnlyap/options.hpp"

namespace rnnlyap::detail {

/// Bytes a new allocation can get: min(MemAvailable of ROOT/proc/meminfo, limit − usage of every
/// cgroup from the process's own (ROOT/proc/self/cgroup) up to the hierarchy's root). cgroup v2:
/// ROOT/sys/fs/cgroup/PATH/memory.max ("max": no limit) and memory.current; v1: the "memory"
/// controller's ROOT/sys/fs/cgroup/memory/PATH/memory.limit_in_bytes (≥ 2^60: no limit) and
/// memory.usage_in_bytes. Usage excludes the inactive file cache (memory.stat's inactive_file,
/// v1 total_inactive_file), which the kernel reclaims before it kills. Missing files are skipped;
/// `root` is "" for the real machine (a test passes a fake tree). 0 when nothing is known.
std::size_t available_memory_bytes(const std::string& root);

/// A series a run keeps in host memory until it ends (memory_limit.cpp): what it is (with the
/// sizes that make it up), its bytes, and what to change to make it smaller.
struct KeptSeries {
  std::string what;
  double bytes = 0;
  std::string remedy;
};

/// Refuses (InvalidInput, one line) series whose bytes together exceed `available` (0: unknown,
/// nothing refused), naming each series, its MiB, the total, what this process may use and each
/// series' remedy. One check for all of a run's series, so that the total is compared.
void check_kept_memory(const std::vector<KeptSeries>& kept, double available);

/// Every series a run of `batch` members (`rows` state dimensions, opt.num_exponents() exponents
/// each) on schedule `sched` keeps in host memory: the finite-time windows (--ftle-window), the
/// trace when the caller's observer keeps every estimate (`trace_kept`), and the covariant
/// vectors' R factors and bases (--clv, --clv-stats, single runs). Assumes the options were
/// validated (the windows tile the averaged time).
std::vector<KeptSeries> kept_series(const SpectrumOptions& opt, const Schedule& sched, int rows,
                                    int batch, bool trace_kept);

/// check_kept_memory(kept_series(...), available): called by the Benettin loop before anything
/// runs, so every front end (CLI, Python, C++) inherits it.
void check_run_memory(const SpectrumOptions& opt, const Schedule& sched, int rows, int batch,
                      bool trace_kept, double available);

}  // namespace rnnlyap::detail
