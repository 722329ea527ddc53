// Progress on stderr: on a terminal a one-line bar with time remaining; otherwise (a batch job's
// log) one plain line every RNNLYAP_PROGRESS_SECONDS seconds (default 60); nothing with --quiet.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace rnnlyap::cli {

class ProgressBar {
 public:
  enum class Mode { off, terminal, log };
  /// `log_seconds`: the interval between lines in log mode.
  explicit ProgressBar(Mode mode, double log_seconds = 60);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  /// Redraws (at most ten times a second), or in log mode prints a line when the interval has
  /// passed, with `done` of `total` units in the named phase.
  void update(const std::string& phase, std::int64_t done, std::int64_t total);
  /// Clears the bar.
  void finish();

 private:
  Mode mode_;
  double log_seconds_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

/// The mode for this process: off with --quiet, terminal when stderr is one, else log.
ProgressBar::Mode progress_mode(bool quiet);

/// The log-mode interval: RNNLYAP_PROGRESS_SECONDS if set (a number > 0), else 60. Throws
/// InvalidInput for any other value.
double progress_log_seconds();

/// "1h02m", "3m05s", "12s".
std::string format_duration(double seconds);

}  // namespace rnnlyap::cli
