// The covariant vectors' recording (clv.hpp): the R factor of every averaged re-orthonormalisation
// of the window and the bases at the instants the plan asks for; at the end, the backward pass.
#include "benettin_run.hpp"
#include "core/clv.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::detail {
namespace {

class ClvRecording : public RunObserver {
 public:
  explicit ClvRecording(ClvRecorder clv) : clv_(std::move(clv)) {}

  void averaging_starts(BenettinRun& run) override {
    run.backend().keep_r(true);  // from the first averaged re-orthonormalisation on
    if (clv_.wants_basis(0)) clv_.add_basis(0, run.backend().basis_blocking());
  }

  void reorthonormalized(BenettinRun& run) override {
    if (clv_.complete()) return;
    clv_.add_r(run.backend().last_r_blocking());
    const std::int64_t instant = run.state().ons_done;
    if (clv_.wants_basis(instant)) clv_.add_basis(instant, run.backend().basis_blocking());
  }

  void finish(std::vector<SpectrumResult>& out) override {
    SpectrumResult& res = out.front();
    res.clv = clv_.finish(res.exponents, res.stderr_, nullptr, &res.warnings);
    if (res.clv->transient == 0)
      res.warnings.push_back(
          "covariant vectors without a backward transient (--clv-transient 0, or --t-ons-warmup "
          "0 without it): the vectors and statistics still carry the random start of the backward "
          "pass; give --clv-transient T");
  }

 private:
  ClvRecorder clv_;
};

}  // namespace

// Refused before anything runs when they cannot be had (memory: check_run_memory).
std::unique_ptr<RunObserver> make_clv_recording(const SpectrumOptions& opt, const Schedule& sched,
                                                const RunControl& control, int batch, int rows,
                                                int per) {
  if (!opt.clv_requested()) return nullptr;
  if (batch > 1) throw InvalidInput("--clv and --clv-stats are for single runs, not batches");
  if (!control.resume_path.empty() || !control.checkpoint_path.empty())
    throw InvalidInput(
        "--clv and --clv-stats are not kept in checkpoints: give them without --checkpoint and "
        "--resume");
  ClvPlan plan = make_clv_plan(opt, sched);
  return std::make_unique<ClvRecording>(
      ClvRecorder(std::move(plan), rows, per, opt.basis_seed_used()));
}

}  // namespace rnnlyap::detail
