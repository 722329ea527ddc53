// The memory this process may still allocate: the machine's MemAvailable bounded by the cgroup
// limits it runs under (v2 and v1), so that a run too big for a container's or a job's limit is
// refused with a message instead of being killed by the OOM killer (info.cpp).
#pragma once

#include <cstddef>
#include <string>

namespace rnnlyap::detail {

/// Bytes a new allocation can get: min(MemAvailable of ROOT/proc/meminfo, limit − usage of every
/// cgroup from the process's own (ROOT/proc/self/cgroup) up to the hierarchy's root). cgroup v2:
/// ROOT/sys/fs/cgroup/PATH/memory.max ("max": no limit) and memory.current; v1: the "memory"
/// controller's ROOT/sys/fs/cgroup/memory/PATH/memory.limit_in_bytes (≥ 2^60: no limit) and
/// memory.usage_in_bytes. Usage excludes the inactive file cache (memory.stat's inactive_file,
/// v1 total_inactive_file), which the kernel reclaims before it kills. Missing files are skipped;
/// `root` is "" for the real machine (a test passes a fake tree). 0 when nothing is known.
std::size_t available_memory_bytes(const std::string& root);

/// Processes that share this machine's memory (MPI ranks on one node, set by the program):
/// host_memory_bytes() is the available memory divided among them. 1 by default.
void set_host_memory_share(int processes);

}  // namespace rnnlyap::detail
