#include "progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "rnnlyap/errors.hpp"

namespace rnnlyap::cli {

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "?";
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

ProgressBar::Mode progress_mode(bool quiet) {
  if (quiet) return ProgressBar::Mode::off;
  return ::isatty(STDERR_FILENO) ? ProgressBar::Mode::terminal : ProgressBar::Mode::log;
}

double progress_log_seconds() {
  const char* env = std::getenv("RNNLYAP_PROGRESS_SECONDS");
  if (!env) return 60;
  char* end = nullptr;
  const double v = std::strtod(env, &end);
  if (*env == '\0' || end == env || *end != '\0' || !std::isfinite(v) || !(v > 0) || v > 1e9)
    throw InvalidInput("RNNLYAP_PROGRESS_SECONDS must be a number of seconds > 0, got '" +
                       std::string(env) + "'");
  return v;
}

ProgressBar::ProgressBar(Mode mode, double log_seconds)
    : mode_(mode),
      log_seconds_(log_seconds),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

ProgressBar::~ProgressBar() {
  finish();
}

void ProgressBar::update(const std::string& phase, std::int64_t done, std::int64_t total) {
  if (mode_ == Mode::off || total <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  const double f = static_cast<double>(done) / static_cast<double>(total);
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const std::string eta = f > 0.002 ? format_duration(elapsed * (1 - f) / f) : "?";
  if (mode_ == Mode::log) {
    // A plain line per interval (none at the start or the end): a batch log shows the job lives.
    if (done >= total || std::chrono::duration<double>(now - last_).count() < log_seconds_) return;
    last_ = now;
    std::fprintf(stderr, "rnnlyap: progress: %s %.1f%%, elapsed %s, remaining %s\n", phase.c_str(),
                 100 * f, format_duration(elapsed).c_str(), eta.c_str());
    std::fflush(stderr);
    return;
  }
  if (drawn_ && now - last_ < std::chrono::milliseconds(100) && done < total) return;
  last_ = now;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(f * kWidth);
  std::string bar(static_cast<std::size_t>(kWidth), ' ');
  for (int i = 0; i < filled && i < kWidth; ++i) bar[static_cast<std::size_t>(i)] = '#';
  std::fprintf(stderr, "\r[%s] %5.1f%%  %-14s elapsed %s  remaining %s   ", bar.c_str(), 100 * f,
               phase.c_str(), format_duration(elapsed).c_str(), eta.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (mode_ == Mode::terminal && drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }
}

}  // namespace rnnlyap::cli
