// The warning about a spectrum's reliability from its basis condition (loop.hpp).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/loop.hpp"
#include "nonfinite.hpp"

namespace rnnlyap::detail {

// Column i of the basis before a re-orthonormalisation is resolved only down to ~ε |R_11| (ε of
// the working precision): once |R_11/R_ii| passes ~1/(100 ε), log|R_ii| is rounding noise, and so
// is every later column (they are orthogonalised against it). One re-orthonormalisation past the
// limit suffices: heavy-tailed (Lévy) weights have single intervals far beyond the average, and
// their trailing exponents then change with the rounding (one build to the next). So the judge is
// the largest log|R_11/R_ii| of a single averaged re-orthonormalisation (max_ratio, from the
// re-orthonormaliser: no extra synchronisation), not the averaged spread (λ_1 − λ_i) t_ons, which
// is never larger (a mean of the same differences) and only stands in for the
// re-orthonormalisations before a --resume, whose maxima the checkpoint does not keep. −∞ exponents
// and exactly zero R_ii (an exactly singular map) are exact and never count. A collapsed basis
// compresses the computed ratios, so they are lower bounds and the warning errs on the safe side.
std::vector<std::string> basis_warnings(const std::vector<double>& exponents,
                                        const std::vector<double>& max_ratio, double ons_time,
                                        bool one_step, Precision precision) {
  std::vector<std::string> w;
  const std::size_t k = exponents.size();
  const bool fp32 = precision == Precision::fp32;
  const double limit = std::log(1 / epsilon_of(precision)) - std::log(100.0);
  for (std::size_t i = 1; i < k; ++i) {
    // A −∞ exponent is exact (a log|R_ii| of exactly 0 at some re-orthonormalisation: J of rank
    // below k), whatever rounding-level R_ii the other re-orthonormalisations had.
    if (exponents[i] == -std::numeric_limits<double>::infinity()) continue;
    double worst = i < max_ratio.size() ? max_ratio[i] : 0.0;
    const double spread = (exponents[0] - exponents[i]) * ons_time;
    if (std::isfinite(spread)) worst = std::max(worst, spread);
    if (!(worst > limit)) continue;
    // What helps: a shorter interval (unless it is one step already), fp64, fewer exponents.
    std::string hint = one_step ? "" : "shorten --t-ons, ";
    if (fp32) hint += "use --precision fp64, ";
    hint += (hint.empty() ? "compute" : "or compute") + std::string(" fewer exponents (--k ") +
            std::to_string(i) + ")";
    char msg[400];
    std::snprintf(msg, sizeof msg,
                  "the exponents from lambda_%zu on are unreliable: a re-orthonormalisation's "
                  "basis condition |R_11/R_%zu,%zu| reached e^%.0f, beyond what %s resolves "
                  "(e^%.0f), so they, and D_KY and H computed from them, depend on rounding; ",
                  i + 1, i + 1, i + 1, worst, fp32 ? "fp32" : "fp64", limit);
    w.push_back(msg + hint);
    break;
  }
  return w;
}

}  // namespace rnnlyap::detail
