// Weight generators and loading of a network from the options.
#include <cmath>
#include <string>

#include "elementwise.hpp"
#include "random.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/network.hpp"
#include "rnnlyap/npy.hpp"

namespace rnnlyap {
namespace detail {

std::vector<double> initial_state(int n, std::uint64_t seed) {
  std::vector<double> h(n);
  const std::uint64_t key = mix_seed(seed);
  for (int i = 0; i < n; ++i) h[i] = normal_at(key, kStreamInitialState, i, 0);
  return h;
}

std::vector<double> initial_basis(int n, int k, std::uint64_t seed) {
  std::vector<double> q(static_cast<std::size_t>(n) * k);
  const std::uint64_t key = mix_seed(seed);
  for (int c = 0; c < k; ++c)
    for (int r = 0; r < n; ++r)
      q[static_cast<std::size_t>(c) * n + r] =
          normal_at(key, kStreamInitialBasis, static_cast<std::uint64_t>(r), static_cast<std::uint32_t>(c));
  return q;
}

}  // namespace detail

Network gaussian_network(int n, double g, std::uint64_t seed) {
  Network net;
  net.n = n;
  net.j.resize(static_cast<std::size_t>(n) * n);
  net.bias.assign(n, 0.0);
  const double scale = g / std::sqrt(static_cast<double>(n));
  const std::uint64_t key = detail::mix_seed(seed);
  for (int c = 0; c < n; ++c)
    for (int r = 0; r < n; ++r)
      net(r, c) = scale * detail::normal_at(key, detail::kStreamWeights, static_cast<std::uint64_t>(r),
                                            static_cast<std::uint32_t>(c));
  return net;
}

Network make_network(const SpectrumOptions& opt) {
  Network net;
  switch (opt.weights) {
    case WeightKind::gaussian:
      net = gaussian_network(opt.n, opt.g, opt.seed);
      break;
    case WeightKind::levy:
      throw InvalidInput("--weights levy is not available in this version (planned: heavy-tailed weights)");
    case WeightKind::file: {
      NpyMatrix m = read_npy_matrix(opt.weights_file);
      if (m.rows != m.cols)
        throw InvalidInput(opt.weights_file + ": weight matrix must be square, got " +
                           std::to_string(m.rows) + "x" + std::to_string(m.cols));
      if (m.rows > 2'000'000'000ull) throw InvalidInput(opt.weights_file + ": matrix too large");
      net.n = static_cast<int>(m.rows);
      net.j = std::move(m.data);
      net.bias.assign(net.n, 0.0);
      break;
    }
  }
  if (opt.zero_diagonal)
    for (int i = 0; i < net.n; ++i) net(i, i) = 0.0;
  return net;
}

}  // namespace rnnlyap
