// Quantities derived from a spectrum (docs/design.md: Kaplan–Yorke dimension, Pesin entropy).
#include <algorithm>
#include <functional>

#include "rnnlyap/result.hpp"

namespace rnnlyap {

SpectrumSummary summarize(const std::vector<double>& exponents) {
  SpectrumSummary s;
  if (exponents.empty()) return s;
  std::vector<double> l = exponents;
  std::sort(l.begin(), l.end(), std::greater<>());
  s.max_exponent = l.front();
  for (double v : l) {
    s.sum += v;
    if (v > 0) {
      ++s.n_positive;
      s.ks_entropy += v;
    }
  }
  s.mean_exponent = s.sum / static_cast<double>(l.size());
  // Kaplan–Yorke: j is the largest index with Σ_{i≤j} λ_i ≥ 0.
  double partial = 0;
  std::size_t j = 0;
  while (j < l.size() && partial + l[j] >= 0) partial += l[j++];
  if (j == l.size()) {
    s.ky_dimension = static_cast<double>(j);
    s.ky_is_lower_bound = true;
  } else {
    s.ky_dimension = static_cast<double>(j) + partial / std::abs(l[j]);
  }
  return s;
}

}  // namespace rnnlyap
