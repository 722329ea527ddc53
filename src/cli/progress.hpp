// A one-line progress bar with time remaining, drawn on stderr only when it is a terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace rnnlyap::cli {

class ProgressBar {
 public:
  /// enabled = false makes every call a no-op.
  explicit ProgressBar(bool enabled);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  /// Redraws (at most ten times a second) with `done` of `total` units in the named phase.
  void update(const std::string& phase, std::int64_t done, std::int64_t total);
  /// Clears the line.
  void finish();

 private:
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

/// "1h02m", "3m05s", "12s".
std::string format_duration(double seconds);

}  // namespace rnnlyap::cli
