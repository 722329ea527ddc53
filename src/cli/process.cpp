#include "process.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

#include <new>

#include "io/output_file.hpp"
#include "messages.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::cli {

Ranks g_ranks;
bool g_agreement_pending = false;
volatile std::sig_atomic_t g_stop_requested = 0;
volatile std::sig_atomic_t g_checkpointing = 0;

namespace {

// With --checkpoint, the first SIGINT/SIGTERM asks the run to checkpoint and stop; otherwise (or
// on a second signal) temporaries are removed and the signal takes its default course.
extern "C" void on_signal(int sig) {
  if (g_checkpointing && !g_stop_requested) {
    g_stop_requested = 1;
    return;
  }
  io::remove_pending_outputs_from_signal_handler();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

void install_signal_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
}

void ranks_agree() {
  if (!g_agreement_pending) return;
  g_agreement_pending = false;
  if (!all_ranks_ok(g_ranks, true).all) {
    if (g_ranks.rank == 0)
      std::fprintf(stderr, "rnnlyap: error: another rank refused the run (its message is above)\n");
    throw QuietExit{kExitInvalid};
  }
}

int launched_rank() {
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"})
    if (const char* s = std::getenv(v)) return std::atoi(s);
  return 0;
}

Failure failure_of(const std::exception& e) {
  if (dynamic_cast<const Interrupted*>(&e)) return {130, "rnnlyap:%s %s\n", e.what()};
  if (dynamic_cast<const InvalidInput*>(&e))
    return {kExitInvalid, "rnnlyap:%s error: %s\n", without_source_location(e.what())};
  if (dynamic_cast<const std::bad_alloc*>(&e))
    return {kExitInvalid, "rnnlyap:%s error: %s\n",
            "out of memory: the run does not fit in this machine's memory"};
  return {kExitFailure, "rnnlyap:%s failed: %s\n", e.what()};
}

void say(const char* format, const char* what) {
  if (g_agreement_pending) {  // its input was refused before the ranks agreed to start
    g_agreement_pending = false;
    const Agreement agreed = all_ranks_ok(g_ranks, false);
    if (g_ranks.rank != 0 && !agreed.rank0) return;  // rank 0 says it
  }
  if (g_ranks.rank == 0)
    std::fprintf(stderr, format, "", what);
  else
    std::fprintf(stderr, format, (" rank " + std::to_string(g_ranks.rank) + ":").c_str(), what);
}

}  // namespace rnnlyap::cli
