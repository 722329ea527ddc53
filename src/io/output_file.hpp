// Every file the program writes goes through here (README, "Errors"): the CLI's outputs, unit and
// partial files (core/unit_store.cpp, and so Python's sweep(partial=...)) and checkpoints. Every
// output path is checked before any computation, and an output file appears complete or not at all.
//
// - "-" is standard output (OutputFile only; for the library "-" is a file of that name).
// - A regular file, or a path that does not exist yet, is written to a temporary beside it,
//   ".NAME.rnnlyap-tmp.HOST.PID" (unique to this process: created with O_EXCL), and renamed over
//   it on commit; a symbolic link is followed first, so its target is replaced atomically and the
//   link stays a link. Two runs writing one file at once each write their own temporary: the last
//   rename wins and the file is always one run's whole output. A temporary left by a killed run
//   (of this host, whose process no longer exists) is removed when the next temporary of the same
//   file is created, so temporaries never accumulate.
// - A name of one of the descriptors the program was started with (/dev/stdout, /dev/stderr,
//   /dev/fd/N, /proc/self/fd/N, or a link to one) is written through that descriptor, where it
//   stands and appending where it appends ("--out /dev/stdout >> log"): never replaced.
// - A character device (/dev/null) or a FIFO is written directly: never replaced.
// - Anything else (a directory, a socket, a block device) is refused.
// - A file that is also read back (a checkpoint, a unit or partial file) must be a regular file or
//   not exist yet.
#pragma once

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace rnnlyap::io {

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

/// Checks a file the library writes and reads back (a unit file, a sweep's partial file): a
/// regular file that can be read and written, or a path that does not exist yet in a folder that
/// accepts a new file (symlinks followed). Anything else (a directory, a FIFO, a device, a missing
/// folder, standard output's descriptor) throws InvalidInput "cannot write PATH (NAME): why".
/// "-" is a file of that name here.
void check_file_to_read_back(const std::string& path, const std::string& name);

/// How an output is written: to standard output, directly (a device, a FIFO), through an inherited
/// descriptor named by its path (/dev/stdout), or atomically.
enum class OutputKind { standard_output, direct, descriptor, atomic };

/// The descriptor `path` names when it is one of this process's own (/dev/stdout, /dev/fd/3,
/// /proc/self/fd/1, a link to one of them), else -1.
int named_descriptor(const std::string& path);

/// The name of this host as it appears in temporaries (characters other than letters, digits,
/// '-', '_' and '.' replaced by '_').
const std::string& temporary_host();
/// The temporary that process `pid` of host `host` writes for `target` (a final target, symlinks
/// already followed): ".NAME.rnnlyap-tmp.HOST.PID" in the same folder, so the rename is atomic.
std::filesystem::path temporary_name(const std::filesystem::path& target, const std::string& host,
                                     long pid);

/// One atomic replacement: a temporary of this process beside the final target of `path`
/// (symlinks followed), renamed over the target by commit(). While it exists, the temporary is
/// removed by remove_pending_outputs_from_signal_handler() and by the destructor.
class AtomicFile {
 public:
  /// Creates the temporary (removing stale ones of the same target first: see above); keeps the
  /// permissions of an existing target. On failure ok() is false and error() says why.
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  bool ok() const { return error_.empty(); }
  /// Why the temporary could not be created (strerror, or "it is a directory, not a regular file").
  const std::string& error() const { return error_; }
  const std::string& target() const { return target_; }
  const std::string& temporary() const { return tmp_; }
  /// The temporary's descriptor, handed over (to fdopen): the caller closes it before commit().
  int release();
  /// Writes all of `bytes` (retrying short writes), then fsync()s and closes the descriptor:
  /// 0, or the errno of the failure.
  int write_and_close(const std::string& bytes);
  /// Renames the temporary over the target: 0, or the errno of the failure (the temporary is then
  /// removed).
  int commit();
  /// Removes the temporary (what the destructor does when commit() was not called).
  void abandon();

 private:
  std::string target_, tmp_, error_;
  int fd_ = -1;
  bool pending_ = false;  // the temporary exists
};

/// Replaces the file `path` (its final target) with `bytes`, atomically: an empty string, or why
/// that failed ("No space left on device", "it is a directory, not a regular file"). `target`,
/// when given, receives the final target written.
std::string replace_file(const std::string& path, const std::string& bytes,
                         std::string* target = nullptr);

/// Removes the file `path` writes to: its final target (symlinks followed). A link stays, dangling,
/// so that the next run writes through it again. Failures are ignored.
void remove_file(const std::string& path);

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
  std::string option_, path_, target_;
  OutputKind kind_ = OutputKind::atomic;
  std::FILE* file_ = nullptr;
  std::unique_ptr<AtomicFile> atomic_;  // OutputKind::atomic
  int error_ = 0;                       // errno of the first failed write
};

/// Removes every temporary still open (async-signal-safe: for SIGINT/SIGTERM handlers).
void remove_pending_outputs_from_signal_handler();

}  // namespace rnnlyap::io
