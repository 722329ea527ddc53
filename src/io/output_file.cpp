#include "io/output_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>
#include <system_error>

#include "io/file_errors.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::io {
namespace {

namespace fs = std::filesystem;
using detail::printable;

// The temporaries this process has open (guarded by g_mutex): a temporary of this process's pid
// that is not among them was left by an earlier process with the same pid, and is stale.
std::mutex g_mutex;
std::set<std::string> g_open;

// The same names for the signal handler; fixed-size storage because a handler may not allocate.
std::array<std::array<char, 4096>, 16> g_pending{};

void register_pending(const std::string& tmp) {
  g_open.insert(tmp);
  for (auto& slot : g_pending)
    if (slot[0] == '\0' && tmp.size() < slot.size()) {
      std::memcpy(slot.data(), tmp.c_str(), tmp.size() + 1);
      return;
    }
}

void unregister_pending(const std::string& tmp) {
  g_open.erase(tmp);
  for (auto& slot : g_pending)
    if (tmp == slot.data()) slot[0] = '\0';
}

// Where an output goes: what is written (the final target for an atomic file) and an identity for
// "the same file" (device and inode when the file exists, else the canonical path).
struct Destination {
  OutputKind kind = OutputKind::atomic;
  std::string target, key;
  bool exists = false;
  mode_t mode = 0;
  int fd = -1;  // OutputKind::descriptor: the descriptor written through
};

[[noreturn]] void cannot_write(const PathOption& o, const std::string& why) {
  throw InvalidInput("cannot write " + printable(o.path) + " (" + o.option + "): " + why);
}

std::string inode_key(const struct stat& st) {
  return "inode:" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

bool whole_number(const std::string& s) {
  return !s.empty() && s.size() <= 9 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A folder of this process's descriptors: /proc/PID/fd or /proc/PID/task/TID/fd (what /dev/fd,
// /proc/self/fd and /proc/thread-self/fd resolve to).
bool own_descriptor_folder(const std::string& folder) {
  const std::string proc = "/proc/" + std::to_string(::getpid()) + "/";
  if (folder.rfind(proc, 0) != 0) return false;
  const std::string rest = folder.substr(proc.size());
  if (rest == "fd") return true;
  const std::string task = "task/";
  return rest.rfind(task, 0) == 0 && rest.size() > task.size() + 3 &&
         rest.compare(rest.size() - 3, 3, "/fd") == 0 &&
         whole_number(rest.substr(task.size(), rest.size() - task.size() - 3));
}

void require_name(const PathOption& o) {
  if (o.path.empty()) throw InvalidInput(o.option + " needs a file name, got an empty string");
}

Destination describe(const PathOption& o) {
  require_name(o);
  if (o.path == "-") {
    // Identified by what standard output is, so that /dev/stdout (or the file it was redirected
    // to) given for another output is the same file.
    struct stat st {};
    if (::fstat(STDOUT_FILENO, &st) == 0)
      return {OutputKind::standard_output, "-", inode_key(st), false, st.st_mode};
    return {OutputKind::standard_output, "-", "standard output", false, 0};
  }
  if (const int fd = named_descriptor(o.path); fd >= 0) {
    // Written through the descriptor itself: following /proc's link to the file and renaming
    // over it would destroy what the shell set up (an appended log, a pipe's other end).
    const int flags = ::fcntl(fd, F_GETFL);
    struct stat st {};
    if (flags == -1 || ::fstat(fd, &st) != 0)
      cannot_write(o, "descriptor " + std::to_string(fd) + " is not open");
    if ((flags & O_ACCMODE) == O_RDONLY)
      cannot_write(o, "descriptor " + std::to_string(fd) + " is not open for writing");
    return {OutputKind::descriptor, o.path, inode_key(st), true, st.st_mode, fd};
  }
  struct stat st {};
  if (::stat(o.path.c_str(), &st) == 0) {
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))
      return {OutputKind::direct, o.path, inode_key(st), true, st.st_mode};
    if (!S_ISREG(st.st_mode))
      cannot_write(o, std::string("it is ") + detail::file_type_name(st.st_mode));
    const fs::path target = detail::final_target(o.path);
    if (::access(target.c_str(), W_OK) != 0) cannot_write(o, std::strerror(errno));
    return {OutputKind::atomic, target.string(), inode_key(st), true, st.st_mode};
  }
  if (errno != ENOENT) cannot_write(o, std::strerror(errno));  // ENOTDIR, EACCES, ELOOP, ...
  const fs::path target = detail::final_target(o.path);
  const std::string name = target.filename().string();
  if (name.empty() || name == "." || name == "..") cannot_write(o, "not a file name");
  const fs::path folder = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  struct stat dir {};
  if (::stat(folder.c_str(), &dir) != 0)
    cannot_write(o, "folder " + printable(folder.string()) + ": " + std::strerror(errno));
  if (!S_ISDIR(dir.st_mode)) cannot_write(o, printable(folder.string()) + " is not a folder");
  std::error_code ec;
  const fs::path canonical = fs::weakly_canonical(fs::absolute(target, ec), ec);
  return {OutputKind::atomic, target.string(),
          "path:" + (ec ? target.string() : canonical.string()), false, 0};
}

bool is_checkpoint_resume(const std::string& a, const std::string& b) {
  return (a == "--checkpoint" && b == "--resume") || (a == "--resume" && b == "--checkpoint");
}

// A stream over the descriptor fd, or nullptr with fd closed and errno saying why.
std::FILE* stream_for(int fd) {
  std::FILE* f = ::fdopen(fd, "w");
  if (f == nullptr) {
    const int err = errno;
    ::close(fd);
    errno = err;
  }
  return f;
}

constexpr const char* kTemporaryTag = ".rnnlyap-tmp";

// ".NAME" of a target's temporaries, NAME cut so that the whole temporary name,
// ".NAME.rnnlyap-tmp.HOST.PID-N", stays within the 255 bytes a file name may have on Linux file
// systems (the tag 12, a host of at most 64, a pid of at most 10, "-N" up to 4, three dots): a
// file whose own name is legal can always be written.
std::string temporary_stem(const fs::path& target) {
  constexpr std::size_t kMaxName = 255 - (12 + 64 + 10 + 4 + 3);
  const std::string name = target.filename().string();
  return "." + name.substr(0, kMaxName);
}

// Removes the temporaries of `target` that no process is writing any more: those of this host
// whose process is gone (or, for this process's pid, that this process did not open: an earlier
// process had the pid), and the one temporary per file of versions before temporaries were
// unique. Those of other hosts (a shared file system) are left alone: their processes cannot be
// asked. Called with g_mutex held.
void remove_stale_temporaries(const fs::path& target) {
  const fs::path folder = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  const std::string prefix = temporary_stem(target) + kTemporaryTag;
  DIR* dir = ::opendir(folder.c_str());
  if (dir == nullptr) return;
  while (const dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    if (name.rfind(prefix, 0) != 0) continue;
    bool stale = name.size() == prefix.size();
    if (!stale && name[prefix.size()] == '.') {
      const std::string rest = name.substr(prefix.size() + 1);  // HOST.PID or HOST.PID-N
      const auto dot = rest.rfind('.');
      if (dot == std::string::npos || rest.substr(0, dot) != temporary_host()) continue;
      const std::string id = rest.substr(dot + 1);
      const std::string pid_text = id.substr(0, id.find('-'));
      if (!whole_number(pid_text)) continue;
      const long pid = std::stol(pid_text);
      if (pid == static_cast<long>(::getpid()))
        stale = g_open.count((target.parent_path() / name).string()) == 0;
      else
        stale = pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
    }
    if (stale) (void)::unlinkat(::dirfd(dir), name.c_str(), 0);
  }
  ::closedir(dir);
}

}  // namespace

int named_descriptor(const std::string& path) {
  // Follows the path's links one at a time until its folder is one of this process's descriptor
  // folders (then its name is the descriptor) or it is no link (then it names none).
  std::string p = path;
  for (int hop = 0; hop < 40 && !p.empty(); ++hop) {
    const fs::path fp(p);
    const fs::path folder = fp.parent_path().empty() ? fs::path(".") : fp.parent_path();
    char* real = ::realpath(folder.c_str(), nullptr);
    if (real != nullptr) {
      const bool own = own_descriptor_folder(real);
      std::free(real);
      const std::string name = fp.filename().string();
      if (own) return whole_number(name) ? std::stoi(name) : -1;
    }
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return -1;
    std::array<char, 4096> buf{};
    const ssize_t len = ::readlink(p.c_str(), buf.data(), buf.size() - 1);
    if (len <= 0) return -1;
    const fs::path target(std::string(buf.data(), static_cast<std::size_t>(len)));
    p = target.is_absolute() ? target.string() : (folder / target).string();
  }
  return -1;
}

void check_paths(const std::vector<PathOption>& outputs, const std::vector<PathOption>& inputs) {
  std::vector<std::pair<const PathOption*, std::string>> seen;  // option, identity
  for (const PathOption& in : inputs) {
    require_name(in);
    struct stat st {};
    if (::stat(in.path.c_str(), &st) != 0) continue;  // missing: the reader says so
    if (!S_ISREG(st.st_mode))
      throw InvalidInput(in.option + " " + printable(in.path) + ": cannot read: it is " +
                         detail::file_type_name(st.st_mode) + ", not a regular file");
    seen.emplace_back(&in, inode_key(st));
  }
  const std::size_t n_inputs = seen.size();
  std::vector<Destination> dests;
  for (const PathOption& out : outputs) {
    const Destination d = describe(out);
    if (out.file_only && d.kind != OutputKind::atomic)
      cannot_write(out, d.kind == OutputKind::standard_output
                            ? std::string("standard output is not a file")
                        : d.kind == OutputKind::descriptor
                            ? "it names descriptor " + std::to_string(d.fd) +
                                  ", which is written as it stands, not a file that is replaced"
                            : std::string("it is ") + detail::file_type_name(d.mode) +
                                  ", not a regular file");
    // Two outputs on one character device (/dev/null twice) replace nothing and are allowed.
    const bool shareable = d.kind != OutputKind::atomic && S_ISCHR(d.mode);
    for (std::size_t i = 0; i < seen.size(); ++i) {
      const PathOption& other = *seen[i].first;
      if (seen[i].second != d.key || (shareable && i >= n_inputs)) continue;
      if (i < n_inputs && is_checkpoint_resume(out.option, other.option)) continue;
      throw InvalidInput(out.option + " " + printable(out.path) + " is the same file as " +
                         other.option + " " + printable(other.path) +
                         (i < n_inputs ? " (an input)" : "") + ": give another path");
    }
    seen.emplace_back(&out, d.key);
    dests.push_back(d);
  }
  // The folders must accept a new file: create and remove each temporary now.
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (dests[i].kind != OutputKind::atomic) continue;
    AtomicFile tmp(dests[i].target);
    if (!tmp.ok()) cannot_write(outputs[i], tmp.error());
  }
}

void check_file_to_read_back(const std::string& path, const std::string& name) {
  const PathOption o{name, path == "-" ? "./-" : path, true};
  check_paths({o}, {});
  // It is read back: an existing file must be readable too.
  struct stat st {};
  if (::stat(o.path.c_str(), &st) == 0 && ::access(o.path.c_str(), R_OK) != 0)
    throw InvalidInput("cannot read " + printable(o.path) + " (" + name +
                       "): " + std::strerror(errno));
}

const std::string& temporary_host() {
  static const std::string host = [] {
    std::array<char, 256> buf{};
    if (::gethostname(buf.data(), buf.size() - 1) != 0 || buf[0] == '\0')
      return std::string("host");
    std::string h(buf.data());
    for (char& c : h)
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.'))
        c = '_';
    if (h.size() > 64) h.resize(64);
    return h;
  }();
  return host;
}

fs::path temporary_name(const fs::path& target, const std::string& host, long pid) {
  return target.parent_path() /
         (temporary_stem(target) + kTemporaryTag + "." + host + "." + std::to_string(pid));
}

AtomicFile::AtomicFile(const std::string& path) {
  try {
    target_ = detail::final_target(path).string();
  } catch (const InvalidInput&) {
    error_ = "too many levels of symbolic links";
    return;
  }
  struct stat st {};
  const bool exists = ::stat(target_.c_str(), &st) == 0;
  if (exists && !S_ISREG(st.st_mode)) {
    error_ = std::string("it is ") + detail::file_type_name(st.st_mode) + ", not a regular file";
    return;
  }
  const std::lock_guard<std::mutex> lock(g_mutex);
  remove_stale_temporaries(target_);
  const std::string base = temporary_name(target_, temporary_host(), ::getpid()).string();
  // Another temporary of this process for the same file (two writers at once in one process)
  // gets a number: ".NAME.rnnlyap-tmp.HOST.PID-1".
  int err = EEXIST;
  for (int n = 0; n < 1000; ++n) {
    const std::string tmp = n == 0 ? base : base + "-" + std::to_string(n);
    if (g_open.count(tmp) != 0) continue;
    fd_ = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
    if (fd_ < 0 && errno == EEXIST) {
      // Not this process's: an earlier process with this pid left it.
      if (::unlink(tmp.c_str()) != 0 && errno != ENOENT) {
        err = errno;
        break;
      }
      fd_ = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
    }
    if (fd_ < 0) {
      err = errno;
      break;
    }
    if (exists) (void)::fchmod(fd_, st.st_mode & 07777);  // keep the file's permissions
    tmp_ = tmp;
    pending_ = true;
    register_pending(tmp_);
    return;
  }
  error_ = std::strerror(err);
}

AtomicFile::~AtomicFile() {
  abandon();
}

int AtomicFile::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

int AtomicFile::write_and_close(const std::string& bytes) {
  int err = 0;
  std::size_t done = 0;
  while (err == 0 && done < bytes.size()) {
    const ssize_t w = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      err = w < 0 ? errno : EIO;
    else
      done += static_cast<std::size_t>(w);
  }
  if (err == 0 && ::fsync(fd_) != 0 && errno != EINVAL) err = errno;
  if (::close(fd_) != 0 && err == 0) err = errno;
  fd_ = -1;
  return err;
}

int AtomicFile::commit() {
  if (!pending_) return ENOENT;
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  int err = 0;
  if (std::rename(tmp_.c_str(), target_.c_str()) != 0) {
    err = errno;
    ::unlink(tmp_.c_str());
  }
  pending_ = false;
  const std::lock_guard<std::mutex> lock(g_mutex);
  unregister_pending(tmp_);
  return err;
}

void AtomicFile::abandon() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!pending_) return;
  ::unlink(tmp_.c_str());
  pending_ = false;
  const std::lock_guard<std::mutex> lock(g_mutex);
  unregister_pending(tmp_);
}

std::string replace_file(const std::string& path, const std::string& bytes, std::string* target) {
  AtomicFile f(path);
  if (!f.ok()) return f.error();
  if (target != nullptr) *target = f.target();
  int err = f.write_and_close(bytes);
  if (err == 0) err = f.commit();
  return err == 0 ? std::string() : std::strerror(err);
}

void remove_file(const std::string& path) {
  try {
    (void)::unlink(detail::final_target(path).c_str());
  } catch (const InvalidInput&) {
    // a loop of links: nothing was written through it
  }
}

OutputFile::OutputFile(std::string option, std::string path)
    : option_(std::move(option)), path_(std::move(path)) {
  const PathOption o{option_, path_};
  const Destination d = describe(o);
  target_ = d.target;
  switch (d.kind) {
    case OutputKind::standard_output:
      kind_ = OutputKind::standard_output;
      file_ = stdout;
      return;
    case OutputKind::descriptor: {
      kind_ = OutputKind::descriptor;
      const int fd = ::fcntl(d.fd, F_DUPFD_CLOEXEC, 3);  // the same open file: its offset, its mode
      if (fd < 0) cannot_write(o, std::strerror(errno));
      file_ = stream_for(fd);
      if (!file_) cannot_write(o, std::strerror(errno));
      return;
    }
    case OutputKind::direct: {
      kind_ = OutputKind::direct;
      // A FIFO is opened without waiting: no reader is an error now, not a hang.
      const bool fifo = S_ISFIFO(d.mode);
      const int fd =
          ::open(target_.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY | (fifo ? O_NONBLOCK : 0));
      if (fd < 0)
        cannot_write(o, errno == ENXIO && fifo ? "a FIFO with no reader" : std::strerror(errno));
      if (fifo) {
        const int flags = ::fcntl(fd, F_GETFL);
        if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
      }
      file_ = stream_for(fd);
      if (!file_) cannot_write(o, std::strerror(errno));
      return;
    }
    case OutputKind::atomic: {
      kind_ = OutputKind::atomic;
      atomic_ = std::make_unique<AtomicFile>(target_);
      if (!atomic_->ok()) cannot_write(o, atomic_->error());
      file_ = stream_for(atomic_->release());
      if (!file_) {
        const int err = errno;
        atomic_.reset();
        cannot_write(o, std::strerror(err));
      }
      return;
    }
  }
}

OutputFile::~OutputFile() {
  if (!file_ || kind_ == OutputKind::standard_output) return;
  std::fclose(file_);
  atomic_.reset();  // removes the temporary
}

void OutputFile::write(const std::string& bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size() && error_ == 0)
    error_ = errno;
}

void OutputFile::note_failure() {
  if (error_ == 0 && std::ferror(file_)) error_ = errno;
}

void OutputFile::commit() {
  std::FILE* f = file_;
  file_ = nullptr;
  errno = 0;
  bool ok = std::fflush(f) == 0 && !std::ferror(f) && error_ == 0;
  // The cause of the first failed write: a later flush of an errored stream may report none.
  int err = error_ != 0 ? error_ : errno;
  if (kind_ == OutputKind::atomic && ok && ::fsync(::fileno(f)) != 0 && errno != EINVAL) {
    ok = false;
    err = errno;
  }
  if (kind_ != OutputKind::standard_output) {
    errno = 0;
    if (std::fclose(f) != 0 && ok) {
      ok = false;
      err = errno;
    }
  }
  if (kind_ == OutputKind::atomic) {
    if (ok) {
      err = atomic_->commit();
      ok = err == 0;
    }
    atomic_.reset();  // removes the temporary if it was not renamed
  }
  if (!ok) {
    const std::string what =
        kind_ == OutputKind::standard_output ? "standard output" : printable(path_);
    throw Error("cannot write " + what + " (" + option_ +
                "): " + std::strerror(err != 0 ? err : EIO));
  }
}

void remove_pending_outputs_from_signal_handler() {
  for (auto& slot : g_pending)
    if (slot[0] != '\0') ::unlink(slot.data());
}

}  // namespace rnnlyap::io
