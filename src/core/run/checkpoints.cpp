// Checkpoints and the stop request: at every pause point of the run (benettin_run.hpp), a
// checkpoint when one is due or a stop is asked for, then the stop. The file format is
// checkpoint.hpp's.
#include <chrono>

#include "benettin_run.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::detail {
namespace {

class Checkpoints : public RunObserver {
 public:
  explicit Checkpoints(const RunControl& control)
      : control_(control), last_checkpoint_(std::chrono::steady_clock::now()) {}

  // A distributed run's ranks decide together (any_rank): a stop asked of one rank, or one rank's
  // clock saying a checkpoint is due, stops or saves them all at the same point.
  void pause_point(BenettinRun& run) override {
    const bool stop = run.backend().any_rank(control_.stop_requested && control_.stop_requested());
    const auto now = std::chrono::steady_clock::now();
    const bool due = run.backend().any_rank(
        !control_.checkpoint_path.empty() &&
        std::chrono::duration<double>(now - last_checkpoint_).count() >= control_.checkpoint_every);
    if (!stop && !due) return;
    if (!control_.checkpoint_path.empty()) {
      write(run, now);
      last_checkpoint_ = now;
      // A distributed run's ranks wait for rank 0's file before any of them stops (one that
      // stopped first might end the job while the file is still being written).
      if (stop) run.backend().any_rank(false);
    }
    if (stop)
      throw Interrupted(control_.checkpoint_path.empty()
                            ? std::string("interrupted")
                            : "interrupted; resume with --resume " + control_.checkpoint_path);
  }

 private:
  // Taken between re-orthonormalisations (or warm-up chunks): the logs so far move from the
  // backend into the current block's host sum, then state and basis are downloaded.
  void write(BenettinRun& run, std::chrono::steady_clock::time_point now) {
    const std::vector<double> logs = run.take_logs();
    const RunState& state = run.state();
    if (state.ons_warmup_done == run.schedule().ons_warmup && state.basis_started)
      run.add_logs(logs);
    Checkpoint c;
    c.options = run.options();
    c.network_hash = run.setup().network_hash;
    c.run = state;
    c.run.seconds += std::chrono::duration<double>(now - run.setup().start).count();
    c.state = run.backend().state_blocking();
    if (state.basis_started) c.basis = run.backend().basis_blocking();  // collective
    if (run.backend().writes_files()) write_checkpoint(control_.checkpoint_path, c);
  }

  const RunControl& control_;
  std::chrono::steady_clock::time_point last_checkpoint_;
};

}  // namespace

std::unique_ptr<RunObserver> make_checkpoints(const RunControl& control) {
  return std::make_unique<Checkpoints>(control);
}

std::optional<Checkpoint> read_resume(const RunControl& control, const LoopSetup& setup, int rows,
                                      int k) {
  if (control.resume_path.empty()) return std::nullopt;
  Checkpoint resumed = read_checkpoint(control.resume_path);
  validate_checkpoint(resumed, setup.schedule, kMaxBlocks, control.resume_path);
  if (resumed.network_hash != setup.network_hash)
    throw InvalidInput(control.resume_path + ": the checkpoint was written for another network");
  if (resumed.state.size() != setup.initial_state.size() ||
      resumed.run.total.size() != static_cast<std::size_t>(k) ||
      (resumed.run.basis_started && resumed.basis.size() != static_cast<std::size_t>(rows) * k))
    throw InvalidInput(control.resume_path + ": checkpoint sizes do not match N = " +
                       std::to_string(rows) + ", k = " + std::to_string(k));
  return resumed;
}

}  // namespace rnnlyap::detail
