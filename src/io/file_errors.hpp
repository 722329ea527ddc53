// One-line error messages for the file readers (.npy, .npz): names and header text are shown with
// control bytes escaped, so a message is always a single printable line. Also where a write to a
// path lands (symlinks followed), which every writer of a file shares (src/io/output_file.hpp).
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>

#include "rnnlyap/errors.hpp"

namespace rnnlyap::detail {

/// `s` with control bytes (and, with ascii_only, bytes above 0x7F) as \xNN, cut at max_len.
inline std::string printable(std::string_view s,
                             std::size_t max_len = std::numeric_limits<std::size_t>::max(),
                             bool ascii_only = false) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  const std::size_t n = std::min(s.size(), max_len);
  for (std::size_t i = 0; i < n; ++i) {
    const auto ch = static_cast<unsigned char>(s[i]);
    if (ch < 0x20 || ch == 0x7F || (ascii_only && ch > 0x7F)) {
      out += "\\x";
      out += kHex[ch >> 4];
      out += kHex[ch & 0xF];
    } else {
      out += s[i];
    }
  }
  if (s.size() > n) out += "...";
  return out;
}

/// Throws InvalidInput "NAME: MESSAGE".
[[noreturn]] inline void fail(const std::string& name, const std::string& message) {
  throw InvalidInput(printable(name) + ": " + message);
}

/// The path a write to `path` lands on: symbolic links followed one hop at a time (a relative
/// target is relative to its link's folder); a dangling link gives its missing target, so writing
/// creates the target and the link stays a link. Throws InvalidInput after 40 hops (a loop).
inline std::filesystem::path final_target(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p = path;
  for (int hop = 0; hop < 40; ++hop) {
    std::error_code ec;
    const fs::file_status st = fs::symlink_status(p, ec);
    if (ec || !fs::is_symlink(st)) return p;
    const fs::path next = fs::read_symlink(p, ec);
    if (ec) return p;
    p = next.is_absolute() ? next : p.parent_path() / next;
  }
  fail(path, "too many levels of symbolic links");
}

/// What a file type is called in messages ("a directory", "a FIFO", ...).
inline const char* file_type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISREG(mode)) return "a regular file";
  return "not a file";
}

}  // namespace rnnlyap::detail
