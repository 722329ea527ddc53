// Seeds → generator keys, and the initial conditions every backend starts from.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rnnlyap::detail {

/// SplitMix64 finaliser: adjacent seeds give unrelated generator keys.
inline std::uint64_t mix_seed(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// The key of the input noise of the network with this seed (distinct from the other streams).
inline std::uint64_t noise_key(std::uint64_t seed) {
  return mix_seed(seed ^ 0x6E6F697365ull);
}

/// h_i(0) ~ N(0, 1).
std::vector<double> initial_state(int n, std::uint64_t seed);
/// The state given in `path` (.npy of `size` values, any shape), for `what` (messages).
std::vector<double> given_state(const std::string& path, int size, const std::string& what);
/// Q_ij ~ N(0, 1), n×k column-major; column j does not depend on k, so a partial spectrum starts
/// from the first k columns of the full one.
std::vector<double> initial_basis(int n, int k, std::uint64_t seed);
/// Columns [c0, c1) of initial_basis(n, k, seed) into `out` (n·(c1 − c0) values).
void initial_basis_columns(int n, std::uint64_t seed, int c0, int c1, double* out);

}  // namespace rnnlyap::detail
