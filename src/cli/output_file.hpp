// The program's outputs (README, "Errors"): every output path is checked before any computation,
// and an output file appears complete or not at all.
//
// - "-" is standard output.
// - A regular file, or a path that does not exist yet, is written to the temporary
//   ".NAME.rnnlyap-tmp" beside it and renamed on commit(); a symbolic link is followed first, so
//   its target is replaced atomically and the link stays a link.
// - A character device (/dev/null) or a FIFO is written directly: never replaced.
// - Anything else (a directory, a socket, a block device) is refused.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace rnnlyap::cli {

/// An option and the path it was given.
struct PathOption {
  std::string option, path;
  bool file_only = false;  ///< a file the program also reads back (a checkpoint): no device or FIFO
};

/// Checks, before any computation, that every output can be written and no file is named twice;
/// throws InvalidInput (exit 2) naming the option: an empty path, a directory, a missing or
/// unwritable folder, something that is neither a file, a character device nor a FIFO, the same
/// file given for two outputs (paths compared after following symlinks and "." / ".."; existing
/// files by device and inode), an output that is also an input, an input that is not a regular
/// file. The one exception: a --checkpoint may be the --resume file (read before it is rewritten).
void check_paths(const std::vector<PathOption>& outputs, const std::vector<PathOption>& inputs);

/// How an output is written: to standard output, directly (a device, a FIFO), or atomically.
enum class OutputKind { standard_output, direct, atomic };

class OutputFile {
 public:
  /// Opens the output (see above); throws InvalidInput (exit 2) if that is impossible, so a bad
  /// path is reported before a long run rather than after it.
  OutputFile(std::string option, std::string path);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  std::FILE* get() const { return file_; }
  /// Flushes and closes (renaming the temporary onto the target). A failed write (a full disk, a
  /// closed pipe) throws rnnlyap::Error: exit status 1, since it happens after the computation.
  void commit();

 private:
  std::string option_, path_, target_, tmp_;
  OutputKind kind_ = OutputKind::atomic;
  std::FILE* file_ = nullptr;
};

/// Removes every temporary still open (async-signal-safe: for SIGINT/SIGTERM handlers).
void remove_pending_outputs_from_signal_handler();

}  // namespace rnnlyap::cli
