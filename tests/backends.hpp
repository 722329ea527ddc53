// The conformance suites run once per compiled backend. Without a CUDA device the CUDA instances
// skip, so CPU-only CI stays green; with RNNLYAP_REQUIRE_CUDA=1 in the environment they FAIL
// instead (a GPU runner that lost its device, or a build without CUDA, must not pass silently).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <ostream>
#include <string>

#include "core/executor.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/options.hpp"

namespace rnnlyap {
/// Readable parameter in test listings ("cpu", "cuda").
inline void PrintTo(BackendKind kind, std::ostream* os) {
  *os << to_string(kind);
}
}  // namespace rnnlyap

namespace rnnlyap::test {

/// Every backend, in the order the parameterised suites list them: the one list of the tests
/// (RNNLYAP_INSTANTIATE_FOR_BACKENDS and the suites whose parameters combine a backend with more).
inline constexpr BackendKind kBackends[] = {BackendKind::cpu, BackendKind::cuda};

inline std::string backend_name(const testing::TestParamInfo<BackendKind>& info) {
  return std::string(to_string(info.param));
}

/// True when RNNLYAP_REQUIRE_CUDA=1: a missing CUDA device is a failure, not a skip.
inline bool cuda_required() {
  const char* v = std::getenv("RNNLYAP_REQUIRE_CUDA");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

/// Whether this process sees a CUDA device that this build can run on (asked once). A device it
/// cannot run on (compute capability, driver) is refused with BackendUnavailable, as when there is
/// none.
inline bool have_cuda() {
  static const bool present = !cuda_devices().empty() && detail::cuda_device_unusable(0).empty();
  return present;
}

/// True when CUDA runs on the test-only emulated device (a build with RNNLYAP_CUDA_EMULATION,
/// tests/emulation): every kernel thread is then a fiber on the CPU, so slow tests give their CUDA
/// instance smaller sizes (size_for).
inline bool cuda_emulated() {
  static const bool emulated = [] {
    const auto devices = cuda_devices();
    return !devices.empty() && devices.front().emulated;
  }();
  return emulated;
}

/// `normal`, or `emulated` for the CUDA instance of a test on the emulated device.
template <class T>
T size_for(BackendKind kind, T normal, T emulated) {
  return kind == BackendKind::cuda && cuda_emulated() ? emulated : normal;
}

/// True when `kind` cannot run on this machine.
inline bool skip_unless_available(BackendKind kind) {
  return kind == BackendKind::cuda && !have_cuda();
}

inline constexpr const char* kNoCudaRequired =
    "RNNLYAP_REQUIRE_CUDA=1 but no CUDA device this build can run on is visible (or this build "
    "has no CUDA)";

/// In a test body (or SetUp): without a CUDA device, skips the test — or fails it when
/// RNNLYAP_REQUIRE_CUDA=1. Returns from the enclosing void function either way.
#define RNNLYAP_REQUIRE_CUDA_OR_SKIP()                                \
  do {                                                                \
    if (!::rnnlyap::test::have_cuda()) {                              \
      if (::rnnlyap::test::cuda_required())                           \
        FAIL() << ::rnnlyap::test::kNoCudaRequired;                   \
      else                                                            \
        GTEST_SKIP() << "no CUDA device (set RNNLYAP_REQUIRE_CUDA=1 " \
                        "to make this a failure)";                    \
    }                                                                 \
  } while (0)

/// As RNNLYAP_REQUIRE_CUDA_OR_SKIP for BackendKind::cuda; nothing for the other kinds.
#define RNNLYAP_SKIP_UNLESS_AVAILABLE(kind)                                     \
  do {                                                                          \
    if ((kind) == ::rnnlyap::BackendKind::cuda) RNNLYAP_REQUIRE_CUDA_OR_SKIP(); \
  } while (0)

#define RNNLYAP_INSTANTIATE_FOR_BACKENDS(suite)                                              \
  INSTANTIATE_TEST_SUITE_P(Backends, suite, ::testing::ValuesIn(::rnnlyap::test::kBackends), \
                           ::rnnlyap::test::backend_name)

}  // namespace rnnlyap::test
