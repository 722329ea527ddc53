// An output file that appears complete or not at all: written to a temporary beside the target
// and renamed on commit(); removed if the run fails or is interrupted.
#pragma once

#include <cstdio>
#include <string>

namespace rnnlyap::cli {

class OutputFile {
 public:
  /// Opens PATH.tmp.PID for writing; throws InvalidInput (exit 2) if that is impossible, so a bad
  /// path is reported before a long run rather than after it.
  explicit OutputFile(std::string path);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  std::FILE* get() const { return file_; }
  /// Flushes, closes and renames the temporary onto the target.
  void commit();

 private:
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
};

/// Removes every temporary still open (async-signal-safe: for SIGINT/SIGTERM handlers).
void remove_pending_outputs_from_signal_handler();

}  // namespace rnnlyap::cli
