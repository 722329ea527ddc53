// Where the tests find the `rnnlyap` program: $RNNLYAP_CLI_PATH when set (a bundle run on another
// machine), else the build tree's binary.
#pragma once

#include <cstdlib>
#include <string>

namespace rnnlyap::test {

inline std::string cli_path() {
  const char* env = std::getenv("RNNLYAP_CLI_PATH");
  return env && *env ? env : RNNLYAP_CLI_PATH;
}

}  // namespace rnnlyap::test
