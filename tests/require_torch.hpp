// The tests that compare with PyTorch run a script under /usr/bin/python3 (the Debian interpreter,
// which python3-torch installs into). Without torch they skip, saying so; with
// RNNLYAP_REQUIRE_TORCH=1 in the environment they FAIL instead (CI installs python3-torch, so a
// skip there would hide a broken installation), as RNNLYAP_REQUIRE_CUDA does for a GPU.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "program_fixture.hpp"

namespace rnnlyap::test {

/// True when RNNLYAP_REQUIRE_TORCH=1: a missing torch is a failure, not a skip.
inline bool torch_required() {
  const char* v = std::getenv("RNNLYAP_REQUIRE_TORCH");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

/// Whether /usr/bin/python3 imports torch and numpy (asked once).
inline bool have_torch() {
  static const bool present = python_imports("torch, numpy");
  return present;
}

}  // namespace rnnlyap::test

/// In a test body: without torch, skips the test — or fails it when RNNLYAP_REQUIRE_TORCH=1.
/// Returns from the enclosing void function either way.
#define RNNLYAP_REQUIRE_TORCH_OR_SKIP()                                                   \
  do {                                                                                    \
    if (!::rnnlyap::test::have_torch()) {                                                 \
      if (::rnnlyap::test::torch_required())                                              \
        FAIL() << "RNNLYAP_REQUIRE_TORCH=1 but /usr/bin/python3 cannot import torch and " \
                  "numpy";                                                                \
      else                                                                                \
        GTEST_SKIP() << "/usr/bin/python3 has no torch (apt-get install python3-torch; "  \
                        "RNNLYAP_REQUIRE_TORCH=1 makes this a failure)";                  \
    }                                                                                     \
  } while (0)
