// Computes a spectrum known exactly through rnnlyap's public API, as an installed package's user
// would (tests/consumer/run.sh builds it with CMake and with pkg-config). Exit status 0: the
// exponents, the summary and the version are right.
//
// The map model h ← J tanh(h) with J = [[0.8, 0.3], [0, 0.4]] (no bias, no input) has the stable
// fixed point h = 0 (both eigenvalues below 1 in modulus: below onset), where the tangent map is J
// itself; the Lyapunov exponents are then log|μ_i| = log 0.8 and log 0.4 (docs/design.md).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/json.hpp"
#include "rnnlyap/network.hpp"
#include "rnnlyap/options.hpp"
#include "rnnlyap/result.hpp"
#include "rnnlyap/spectrum.hpp"

#ifndef EXPECTED_VERSION
#error "build with -DEXPECTED_VERSION=\"<version of the package>\""
#endif

int main() {
  int failures = 0;
  auto check = [&](bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    if (!ok) ++failures;
  };

  rnnlyap::Network net;
  net.n = 2;
  net.j.assign(4, 0.0);  // column-major: net(row, col)
  net(0, 0) = 0.8;
  net(0, 1) = 0.3;
  net(1, 1) = 0.4;
  net.bias.assign(2, 0.0);

  rnnlyap::SpectrumOptions opt;
  opt.model = rnnlyap::Model::map;
  opt.backend = rnnlyap::BackendKind::cpu;  // no GPU needed, whatever the build
  opt.n = 2;
  opt.t_warmup = 300;  // |h| ~ 0.8^t: at the fixed point to rounding before averaging
  opt.t_ons_warmup = 100;
  opt.t_sim = 2000;
  opt.seed = 3;

  const rnnlyap::SpectrumResult r = rnnlyap::compute_spectrum(opt, net);
  const double exact[2] = {std::log(0.8), std::log(0.4)};
  std::vector<double> got = r.exponents;
  std::sort(got.begin(), got.end(), std::greater<>());
  check(got.size() == 2, "two exponents");
  for (std::size_t i = 0; i < got.size() && i < 2; ++i) {
    const double err = std::fabs(got[i] - exact[i]);
    char line[160];
    std::snprintf(line, sizeof line, "lambda_%zu = %.12f (exact %.12f, error %.2e)", i + 1, got[i],
                  exact[i], err);
    check(err < 1e-6, line);
  }
  check(std::fabs(r.summary.sum - std::log(0.32)) < 1e-6, "sum of exponents = log|det J|");
  check(r.summary.n_positive == 0, "no positive exponent");
  check(r.backend == "cpu", "ran on the cpu backend (" + r.backend + ")");

  const std::string json = rnnlyap::to_json(r);
  check(json.find("\"exponents\"") != std::string::npos, "to_json writes the exponents");

  check(rnnlyap::version() == EXPECTED_VERSION,
        "library version " + rnnlyap::version() + " = package version " EXPECTED_VERSION);

  bool refused = false;
  try {
    rnnlyap::SpectrumOptions bad = opt;
    bad.k = 3;  // more exponents than neurons
    rnnlyap::validate(bad);
  } catch (const rnnlyap::InvalidInput&) {
    refused = true;
  }
  check(refused, "validate() throws InvalidInput for k > n");

  std::printf("%s\n", failures == 0 ? "consumer: all checks passed" : "consumer: FAILED");
  return failures == 0 ? 0 : 1;
}
