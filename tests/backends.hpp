// The conformance suite runs once per compiled backend; the CUDA instance skips without a device.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "rnnlyap/info.hpp"
#include "rnnlyap/options.hpp"

namespace rnnlyap {
/// Readable parameter in test listings ("cpu", "cuda").
inline void PrintTo(BackendKind kind, std::ostream* os) {
  *os << to_string(kind);
}
}  // namespace rnnlyap

namespace rnnlyap::test {

inline std::string backend_name(const testing::TestParamInfo<BackendKind>& info) {
  return std::string(to_string(info.param));
}

/// Skips the current test when `kind` cannot run on this machine.
inline bool skip_unless_available(BackendKind kind) {
  if (kind == BackendKind::cuda && cuda_devices().empty()) return true;
  return false;
}

#define RNNLYAP_SKIP_UNLESS_AVAILABLE(kind)                                             \
  do {                                                                                  \
    if (::rnnlyap::test::skip_unless_available(kind)) GTEST_SKIP() << "no CUDA device"; \
  } while (0)

#define RNNLYAP_INSTANTIATE_FOR_BACKENDS(suite)                                     \
  INSTANTIATE_TEST_SUITE_P(                                                         \
      Backends, suite,                                                              \
      ::testing::Values(::rnnlyap::BackendKind::cpu, ::rnnlyap::BackendKind::cuda), \
      ::rnnlyap::test::backend_name)

}  // namespace rnnlyap::test
