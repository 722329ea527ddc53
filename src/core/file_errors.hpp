// One-line error messages for the file readers (.npy, .npz): names and header text are shown with
// control bytes escaped, so a message is always a single printable line.
#pragma once

#include <algorithm>
#include <limits>
#include <string>
#include <string_view>

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

}  // namespace rnnlyap::detail
