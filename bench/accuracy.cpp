// Accuracy of the fast paths against the reference path on the validation cases (docs/design.md):
// fp32 against fp64, and CholeskyQR2 against Householder QR. Prints a Markdown table.
//   rnnlyap_accuracy [cpu|cuda]
// Below onset the reference is the exact spectrum (eigenvalues of J by LAPACK dgeev); on chaotic
// networks it is the fp64 Householder run, and differences are given in units of its standard
// error because fp32 (or a different QR) moves the chaotic trajectory.
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "linalg_truth.hpp"
#include "rnnlyap/spectrum.hpp"

using namespace rnnlyap;

namespace {

struct Variant {
  const char* name;
  Precision precision;
  QrMethod qr;
};

const Variant kVariants[] = {{"fp64 householder", Precision::fp64, QrMethod::householder},
                             {"fp64 cholesky2", Precision::fp64, QrMethod::cholesky2},
                             {"fp64 auto", Precision::fp64, QrMethod::auto_select},
                             {"fp32 householder", Precision::fp32, QrMethod::householder},
                             {"fp32 cholesky2", Precision::fp32, QrMethod::cholesky2},
                             {"fp32 auto", Precision::fp32, QrMethod::auto_select}};

std::vector<double> exact(const SpectrumOptions& o, const Network& net, double dt) {
  std::vector<double> lam;
  for (const auto& m : test::eigenvalues(net.j, net.n))
    lam.push_back(o.model == Model::map ? std::log(std::abs(m))
                                        : std::log(std::abs(1.0 - dt + dt * m)) / dt);
  return test::sorted_desc(lam);
}

// Max |difference| over the leading, middle and trailing thirds of two spectra, both sorted.
void thirds(const std::vector<double>& a, const std::vector<double>& b, double out[3]) {
  const std::size_t n = a.size();
  out[0] = out[1] = out[2] = 0;
  for (std::size_t i = 0; i < n; ++i)
    out[3 * i / n] = std::max(out[3 * i / n], std::fabs(a[i] - b[i]));
}

// Each variant against the fp64 Householder run on the same network (and, below onset, against
// the exact spectrum). On chaotic networks the fp32 state trajectory departs from the fp64 one, so
// fp32 differences there are statistical; the fp64 variants share one trajectory (the state does
// not depend on the basis), so their differences are the QR's rounding alone.
void compare(BackendKind b, Model model, int n, double g) {
  SpectrumOptions o;
  o.backend = b;
  o.model = model;
  o.n = n;
  o.g = g;
  o.t_warmup = 300;
  const Network net = gaussian_network(n, g, 7);
  const bool below = g < (model == Model::map ? 1.0 : 1.0);
  const std::vector<double> truth =
      below ? exact(o, net, model == Model::map ? 1.0 : o.dt) : std::vector<double>{};
  SpectrumResult ref;
  for (const Variant& v : kVariants) {
    o.precision = v.precision;
    o.qr = v.qr;
    const SpectrumResult r = compute_spectrum(o, net);
    if (v.precision == Precision::fp64 && v.qr == QrMethod::householder) ref = r;
    double d[3], e[3] = {0, 0, 0};
    thirds(test::sorted_desc(r.exponents), test::sorted_desc(ref.exponents), d);
    if (below) thirds(test::sorted_desc(r.exponents), truth, e);
    double sigma = 0;
    for (double s : ref.stderr_) sigma = std::max(sigma, s);
    std::printf(
        "| %s N=%d g=%.1f | %s | %.1e / %.1e / %.1e | %s | %.2e | %.4f | %.2f |\n",
        std::string(to_string(model)).c_str(), n, g, v.name, d[0], d[1], d[2],
        below ? (std::to_string(e[0]).substr(0, 7) + " / " + std::to_string(e[1]).substr(0, 7) +
                 " / " + std::to_string(e[2]).substr(0, 7))
                    .c_str()
              : "—",
        sigma, r.summary.max_exponent, r.summary.ky_dimension);
  }
}

}  // namespace

int main(int argc, char** argv) try {
  const BackendKind b =
      argc > 1 && std::string(argv[1]) == "cuda" ? BackendKind::cuda : BackendKind::cpu;
  std::printf(
      "| case | variant | max abs. difference to fp64 householder (leading / middle / trailing "
      "third) | max abs. error to the exact spectrum (same thirds) | largest s.e. of the "
      "reference | λ_max | D_KY |\n");
  std::printf("|---|---|---|---|---:|---:|---:|\n");
  compare(b, Model::rate, 200, 0.7);
  compare(b, Model::map, 200, 0.5);
  compare(b, Model::rate, 200, 3.0);
  compare(b, Model::map, 200, 2.0);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "rnnlyap_accuracy: %s\n", e.what());
  return 2;
}
