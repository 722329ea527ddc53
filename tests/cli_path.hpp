// Where the tests find the `rnnlyap` program ($RNNLYAP_CLI_PATH when set, e.g. a bundle run on
// another machine, else the build tree's binary), and what the tests that run it share.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace rnnlyap::test {

inline std::string cli_path() {
  const char* env = std::getenv("RNNLYAP_CLI_PATH");
  return env && *env ? env : RNNLYAP_CLI_PATH;
}

/// A finished run of the program: its exit status and captured streams.
struct CliRun {
  int status = -1;
  std::string out, err;
};

/// The whole content of a file ("" if it cannot be read).
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace rnnlyap::test
