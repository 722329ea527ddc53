// The program's outputs (README, "Errors"): every output path is checked before any computation,
// and an output file appears complete or not at all.
//
// - "-" is standard output.
// - A regular file, or a path that does not exist yet, is written to the temporary
//   ".NAME.rnnlyap-tmp" beside it and renamed on commit(); a symbolic link is followed first, so
//   its target is replaced atomically and the link stays a link.
// - A name of one of the descriptors the program was started with (/dev/stdout, /dev/stderr,
//   /dev/fd/N, /proc/self/fd/N, or a link to one) is written through that descriptor, where it
//   stands and appending where it appends ("--out /dev/stdout >> log"): never replaced.
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

/// How an output is written: to standard output, directly (a device, a FIFO), through an inherited
/// descriptor named by its path (/dev/stdout), or atomically.
enum class OutputKind { standard_output, direct, descriptor, atomic };

/// The descriptor `path` names when it is one of this process's own (/dev/stdout, /dev/fd/3,
/// /proc/self/fd/1, a link to one of them), else -1.
int named_descriptor(const std::string& path);

class OutputFile {
 public:
  /// Opens the output (see above); throws InvalidInput (exit 2) if that is impossible, so a bad
  /// path is reported before a long run rather than after it.
  OutputFile(std::string option, std::string path);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  std::FILE* get() const { return file_; }
  /// Writes `bytes`; a failure is remembered with its cause and reported by commit().
  void write(const std::string& bytes);
  /// After writing to get() directly: remembers the cause of a failed write, if there was one.
  void note_failure();
  /// Flushes and closes (renaming the temporary onto the target). A failed write (a full disk, a
  /// closed pipe) throws rnnlyap::Error: exit status 1, since it happens after the computation.
  void commit();

 private:
  std::string option_, path_, target_, tmp_;
  OutputKind kind_ = OutputKind::atomic;
  std::FILE* file_ = nullptr;
  int error_ = 0;  // errno of the first failed write
};

/// Removes every temporary still open (async-signal-safe: for SIGINT/SIGTERM handlers).
void remove_pending_outputs_from_signal_handler();

}  // namespace rnnlyap::cli
