// The process the program runs in: its exit statuses, its MPI ranks, and SIGINT/SIGTERM (a stop
// request when the run can checkpoint, else the temporaries removed and the default course).
#pragma once

#include <csignal>
#include <exception>
#include <string>

#include "distribute.hpp"

namespace rnnlyap::cli {

constexpr int kExitInvalid = 2;
constexpr int kExitFailure = 1;

/// The processes of this job (one without MPI).
extern Ranks g_ranks;
/// A distributed command's ranks check their input, then agree (ranks_agree) before any of them
/// computes: a rank that refused stops them all. True from a distributed command's start until the
/// ranks agreed (or one refused).
extern bool g_agreement_pending;
/// Set by the first SIGINT/SIGTERM of a run that can stop cleanly (g_checkpointing).
extern volatile std::sig_atomic_t g_stop_requested;
/// Whether the run in progress stops cleanly on SIGINT/SIGTERM (a checkpoint, a unit file).
extern volatile std::sig_atomic_t g_checkpointing;

/// SIGINT and SIGTERM go to the handler above; SIGPIPE is ignored (a closed pipe on standard
/// output is a write error with a message, exit 1, not a silent death).
void install_signal_handlers();

/// Whether a stop was requested (for the library's RunControl and the unit runs).
inline bool stop_requested() {
  return g_stop_requested != 0;
}

/// The ranks agree to start (when a distributed command is pending): throws QuietExit (exit 2),
/// with rank 0's line, when another rank refused its input.
void ranks_agree();

/// The rank a launcher gave this process, before MPI is started (for messages only).
int launched_rank();

/// What a command threw, as the program reports it (README, "Errors"): its exit status (130
/// interrupted, 2 refused input or memory, 1 a failure) and its line, a say() format and its text.
struct Failure {
  int status;
  const char* format;
  std::string text;
};
Failure failure_of(const std::exception& e);

/// An error's line on stderr (`format` with "%s" for " rank R:" and one for `what`): rank 0 speaks
/// for the job; another rank says only what is its own (not an input that rank 0 refused too).
void say(const char* format, const char* what);

}  // namespace rnnlyap::cli
