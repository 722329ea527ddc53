// What the program prints of an error (README, "Errors").
#pragma once

#include <regex>
#include <string>

namespace rnnlyap::cli {

/// A message about the user's input or a run that does not fit (exit 2) without the source
/// location a vendor error carries (" at /build/machine/src/cuda/x.hpp:31", as in "out of GPU
/// memory: CUDA runtime cudaMalloc error 2 (...) at ..."): that is no internal error, and the build
/// machine's paths mean nothing to the user. Failures (exit 1) keep theirs, for a bug report.
inline std::string without_source_location(const std::string& message) {
  static const std::regex location(R"( at \S+\.(cpp|hpp|cu|cuh|cc|h):[0-9]+$)");
  return std::regex_replace(message, location, "");
}

}  // namespace rnnlyap::cli
