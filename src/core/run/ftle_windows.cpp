// Finite-time exponents: the logs of each window of `window_ons` re-orthonormalisations (every log
// taken is added to the window's sum too; a window's end forces a take). The windows tile the
// averaged part exactly, so that their mean is the exponent.
#include <cmath>
#include <cstdio>

#include "benettin_run.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/option_table.hpp"

namespace rnnlyap::detail {
namespace {

class FtleWindows : public RunObserver {
 public:
  FtleWindows(std::int64_t window_ons, int batch, int per)
      : window_ons_(window_ons),
        per_(per),
        window_sum_(static_cast<std::size_t>(batch) * per, 0.0) {}

  void reorthonormalized(BenettinRun& run) override {
    if (run.state().ons_done % window_ons_ != 0) return;
    run.logs_now();
    const double wt = static_cast<double>(window_ons_) * run.ons_time();
    std::vector<double> rate(window_sum_.size());
    for (std::size_t i = 0; i < rate.size(); ++i) rate[i] = window_sum_[i] / wt;
    windows_.push_back(std::move(rate));
    std::fill(window_sum_.begin(), window_sum_.end(), 0.0);
  }

  void logs_added(const std::vector<double>& logs) override {
    for (std::size_t i = 0; i < window_sum_.size(); ++i) window_sum_[i] += logs[i];
  }

  // Each member's windows × k rates.
  void finish(std::vector<SpectrumResult>& out) override {
    for (std::size_t m = 0; m < out.size(); ++m)
      for (const auto& w : windows_)
        out[m].ftle.emplace_back(w.begin() + static_cast<std::ptrdiff_t>(m) * per_,
                                 w.begin() + static_cast<std::ptrdiff_t>(m + 1) * per_);
  }

 private:
  std::int64_t window_ons_;
  int per_;
  std::vector<double> window_sum_;
  std::vector<std::vector<double>> windows_;  // windows × B·k rates
};

}  // namespace

std::unique_ptr<RunObserver> make_ftle_windows(const SpectrumOptions& opt, const Schedule& sched,
                                               const RunControl& control, int batch, int per) {
  const double ons_time = static_cast<double>(sched.steps_per_ons) * sched.step_time;
  const std::int64_t window_ons =
      opt.ftle_window > 0 ? std::llround(opt.ftle_window / ons_time) : 0;
  if (window_ons <= 0) return nullptr;
  if (!control.resume_path.empty() || !control.checkpoint_path.empty())
    throw InvalidInput(OptionId::ftle_window, "",
                       " is not kept in checkpoints: give it without --checkpoint");
  if (sched.ons_sim < window_ons || sched.ons_sim % window_ons != 0) {
    char window[40], text[200];
    std::snprintf(window, sizeof window, "%.10g", opt.ftle_window);
    std::snprintf(text, sizeof text,
                  " does not tile the averaged time %.10g (it must divide it, so that the "
                  "windows' mean is the exponent)",
                  sched.averaged_time());
    throw InvalidInput(OptionId::ftle_window, window, text);
  }
  return std::make_unique<FtleWindows>(window_ons, batch, per);
}

}  // namespace rnnlyap::detail
