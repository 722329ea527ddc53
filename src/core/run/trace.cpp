// The trace: the running estimate of the exponents after every averaged re-orthonormalisation,
// from the sums so far (its logs taken at each one).
#include "benettin_run.hpp"

namespace rnnlyap::detail {
namespace {

class Trace : public RunObserver {
 public:
  Trace(const Observers& obs, int k) : obs_(obs), estimate_(static_cast<std::size_t>(k)) {}

  void reorthonormalized(BenettinRun& run) override {
    run.logs_now();
    const RunState& s = run.state();
    const double t = static_cast<double>(s.ons_done) * run.ons_time();
    for (std::size_t i = 0; i < estimate_.size(); ++i) estimate_[i] = (s.total[i] + s.block[i]) / t;
    obs_.trace(t, estimate_);
  }

 private:
  const Observers& obs_;
  std::vector<double> estimate_;
};

}  // namespace

std::unique_ptr<RunObserver> make_trace(const Observers& obs, int k) {
  if (!obs.trace) return nullptr;
  return std::make_unique<Trace>(obs, k);
}

}  // namespace rnnlyap::detail
