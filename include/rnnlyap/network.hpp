// A recurrent network: coupling matrix and bias, in the layout every backend uses.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "rnnlyap/options.hpp"

namespace rnnlyap {

/// J is n×n in column-major order (J(i, j) = j[i + j*n], the BLAS convention); bias has n entries.
struct Network {
  int n = 0;
  std::vector<double> j;
  std::vector<double> bias;

  double& operator()(int row, int col) { return j[static_cast<std::size_t>(col) * n + row]; }
  double operator()(int row, int col) const { return j[static_cast<std::size_t>(col) * n + row]; }
};

/// Builds the network the options describe: draws gaussian (or levy) weights from the seed, or
/// loads the .npy file (which sets n). Applies zero_diagonal. Throws InvalidInput on bad files.
Network make_network(const SpectrumOptions& opt);

/// J_ij ~ N(0, g²/n), reproducible from the seed on every platform (counter-based generator).
Network gaussian_network(int n, double g, std::uint64_t seed);

}  // namespace rnnlyap
