// Spreading a run's units (rnnlyap/units.hpp) over MPI ranks: rank 0 hands out runs of consecutive
// units as ranks ask for them (fast and slow units balance), keeps every finished unit in the unit
// file at once, and writes the result; the other ranks only compute (README, "Many processes").
// Built without MPI, or not started by mpirun/srun, the program is one process as before.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "rnnlyap/units.hpp"

namespace rnnlyap::cli {

struct Ranks {
  int rank = 0, size = 1;              ///< in the job
  int local_rank = 0, local_size = 1;  ///< on this node
  bool mpi = false;                    ///< MPI was started
};

/// The MPI library compiled in (its first line), or empty without MPI.
std::string mpi_library();

/// Starts MPI when a launcher (mpirun, srun) started this process; else one process. Throws
/// InvalidInput when a launcher started several processes of a build without MPI.
Ranks start_ranks(int& argc, char**& argv);
/// Ends MPI (after every rank's work is done).
void end_ranks(const Ranks& r);

/// Whether every rank passed its checks (`ok`), and whether rank 0 did; collective: every rank
/// of a distributed command calls it once, before any unit is computed.
struct Agreement {
  bool all = true, rank0 = true;
};
Agreement all_ranks_ok(const Ranks& r, bool ok);

/// For ranks that compute one run together (--distribute-network), after one of them failed:
/// whether every rank failed too within `seconds` (a failure they all see, as a run that goes
/// non-finite: rank 0 reports it, and every rank ends as usual). False when some rank is still
/// computing (waiting for this one in a collective call): the job must then be aborted.
bool all_ranks_failed(const Ranks& r, double seconds);
/// Ends every rank of the job with `status` (MPI_Abort; one process: exit).
[[noreturn]] void abort_ranks(const Ranks& r, int status);
/// This rank's CPU threads: the cores it is bound to (srun --cpus-per-task, mpirun's binding),
/// else its share of the node's cores.
int rank_threads(const Ranks& r);

/// A rank's exit without a message of its own (rank 0 reports for the job).
struct QuietExit {
  int status;
};

/// Computes the units `todo` (rank 0's list; ignored elsewhere). Rank 0 passes the store (it
/// receives every unit's line and adds it, so the unit file holds every finished unit at once); the
/// other ranks pass nullptr and return when rank 0 has no more work for them (or throw QuietExit
/// when the job stops). `progress(done, total, label)` is called on rank 0 as units finish. A stop
/// request on any rank (SIGINT, SIGTERM) stops every rank: rank 0 keeps what finished and throws
/// Interrupted; a unit that fails on any rank stops the job the same way and throws Error naming
/// the rank.
void run_units(const Ranks& ranks, const UnitPlan& plan, UnitStore* store,
               const std::vector<std::size_t>& todo, const std::string& store_name,
               const std::function<void(std::size_t, std::size_t, const std::string&)>& progress,
               const std::function<bool()>& stop_requested);

}  // namespace rnnlyap::cli
