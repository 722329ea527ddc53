// Weight generators and loading of a network from the options.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "elementwise.hpp"
#include "io/npy_columns.hpp"
#include "io/output_file.hpp"
#include "propagator.hpp"
#include "random.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/network.hpp"
#include "rnnlyap/npy.hpp"
#include "rnnlyap/option_table.hpp"

namespace rnnlyap {
namespace detail {

std::vector<double> initial_state(int n, std::uint64_t seed) {
  std::vector<double> h(n);
  const std::uint64_t key = mix_seed(seed);
  for (int i = 0; i < n; ++i) h[i] = normal_at(key, kStreamInitialState, i, 0);
  return h;
}

std::vector<double> given_state(const std::string& path, int size, const std::string& what) {
  // A regular file, as the program's inputs (a FIFO would block the read; a device is no saved
  // state): every front end refuses the same (io/output_file.hpp). A missing one is the reader's.
  io::check_paths({}, {{"--initial-state", path}});
  NpyArray a;
  try {
    a = read_npy_array(path);        // refuses NaN and ±inf
  } catch (const InvalidInput& e) {  // "PATH: cannot open ...": say which input it is
    throw InvalidInput(OptionId::initial_state, e.what(), "");
  }
  if (a.data.size() != static_cast<std::size_t>(size))
    throw InvalidInput(
        OptionId::initial_state, path,
        ": " + std::to_string(a.data.size()) + " values; " + what + " has " + std::to_string(size));
  return std::move(a.data);
}

void initial_basis_columns(int n, std::uint64_t seed, int c0, int c1, double* out) {
  const std::uint64_t key = mix_seed(seed);
  for (int c = c0; c < c1; ++c)
    for (int r = 0; r < n; ++r)
      out[static_cast<std::size_t>(c - c0) * n + r] = normal_at(
          key, kStreamInitialBasis, static_cast<std::uint64_t>(r), static_cast<std::uint32_t>(c));
}

std::vector<double> initial_basis(int n, int k, std::uint64_t seed) {
  std::vector<double> q(static_cast<std::size_t>(n) * k);
  initial_basis_columns(n, seed, 0, k, q.data());
  return q;
}

namespace {

// fill(c) for every column c < n, the columns shared among the machine's threads for large n. Each
// entry is a pure function of its (row, column) counter, so the matrix is the same for any number
// of threads; an N = 16384 matrix takes seconds on one thread.
template <class F>
void for_each_column(int n, F fill) {
  const unsigned hw = std::thread::hardware_concurrency();
  const int threads = n < 1024 ? 1 : static_cast<int>(std::clamp(hw, 1u, 64u));
  std::vector<std::thread> pool;
  try {
    for (int t = 1; t < threads; ++t)
      pool.emplace_back([=] {
        for (int c = t; c < n; c += threads) fill(c);
      });
  } catch (const std::system_error&) {
    // A thread that cannot start: this thread does its columns below.
  }
  const int started = static_cast<int>(pool.size()) + 1;
  for (int c = 0; c < n; ++c)
    if (c % threads == 0 || c % threads >= started) fill(c);
  for (std::thread& th : pool) th.join();
}

}  // namespace
}  // namespace detail

namespace detail {
namespace {

// Column c of random weights (n values): gaussian N(0, g²/n), or levy (alpha > 0) g n^(−1/α)
// S_α, each entry a pure function of its (row, column) counter.
void random_column(int n, double g, double alpha, std::uint64_t key, int c, double* col) {
  if (alpha > 0) {
    const double scale = g * std::pow(static_cast<double>(n), -1.0 / alpha);
    for (int r = 0; r < n; ++r)
      col[r] = scale * stable_at(key, kStreamWeights, static_cast<std::uint64_t>(r),
                                 static_cast<std::uint32_t>(c), alpha);
    return;
  }
  const double scale = g / std::sqrt(static_cast<double>(n));
  for (int r = 0; r < n; ++r)
    col[r] = scale * normal_at(key, kStreamWeights, static_cast<std::uint64_t>(r),
                               static_cast<std::uint32_t>(c));
}

Network random_network(int n, double g, double alpha, std::uint64_t seed) {
  Network net;
  net.n = n;
  net.j.resize(static_cast<std::size_t>(n) * n);
  net.bias.assign(n, 0.0);
  const std::uint64_t key = mix_seed(seed);
  for_each_column(n, [&net, n, g, alpha, key](int c) {
    random_column(n, g, alpha, key, c, net.j.data() + static_cast<std::size_t>(c) * n);
  });
  return net;
}

// N of a weights file's rows × cols matrix: it must be square and of an int's order.
int weights_order(const std::string& path, std::size_t rows, std::size_t cols) {
  if (rows != cols)
    throw InvalidInput(path + ": weight matrix must be square, got " + std::to_string(rows) + "x" +
                       std::to_string(cols));
  if (rows > 2'000'000'000ull) throw InvalidInput(path + ": matrix too large");
  return static_cast<int>(rows);
}

// --bias-std S: b_i ~ N(0, S²), a stream of its own of the network's seed (the weights of the
// same seed are unchanged by it); zeros without.
std::vector<double> network_bias(const SpectrumOptions& opt, int n) {
  std::vector<double> bias(static_cast<std::size_t>(n), 0.0);
  if (opt.bias_std == 0) return bias;
  const std::uint64_t key = mix_seed(opt.network_seed_used());
  for (int i = 0; i < n; ++i)
    bias[static_cast<std::size_t>(i)] =
        opt.bias_std * normal_at(key, kStreamBias, static_cast<std::uint64_t>(i), 0);
  return bias;
}

}  // namespace
}  // namespace detail

Network gaussian_network(int n, double g, std::uint64_t seed) {
  return detail::random_network(n, g, 0, seed);
}

namespace {

void check_alpha(double alpha) {
  if (!(alpha > 0 && alpha <= 2))
    throw InvalidInput("levy weights need a tail index alpha in (0, 2], got " +
                       std::to_string(alpha));
}

}  // namespace

Network levy_network(int n, double g, double alpha, std::uint64_t seed) {
  check_alpha(alpha);
  return detail::random_network(n, g, alpha, seed);
}

std::pair<double, double> levy_log_scale_stats(int n, double alpha, std::uint64_t seed,
                                               int samples) {
  check_alpha(alpha);
  if (n < 1)
    throw InvalidInput("levy_log_scale_stats: n must be positive, got " + std::to_string(n));
  if (samples < 1)
    throw InvalidInput("levy_log_scale_stats: samples must be positive, got " +
                       std::to_string(samples));
  const std::uint64_t key = detail::mix_seed(seed);
  std::vector<double> l(static_cast<std::size_t>(n));
  double mean = 0, m2 = 0;  // Welford
  for (int s = 0; s < samples; ++s) {
    // Ξ = (1/α) ln((1/N) Σ_j |z_j|^α) as a log-sum-exp of α ln|z_j|: no overflow for any tail.
    double top = -std::numeric_limits<double>::infinity();
    for (int j = 0; j < n; ++j) {
      const double z = detail::stable_at(key, detail::kStreamLevy, static_cast<std::uint64_t>(s),
                                         static_cast<std::uint32_t>(j), alpha);
      l[static_cast<std::size_t>(j)] = alpha * std::log(std::fabs(z));
      top = std::max(top, l[static_cast<std::size_t>(j)]);
    }
    double sum = 0;
    for (const double lj : l) sum += std::exp(lj - top);
    const double xi = (top + std::log(sum / static_cast<double>(n))) / alpha;
    const double delta = xi - mean;
    mean += delta / (s + 1);
    m2 += delta * (xi - mean);
  }
  const double se = samples > 1 ? std::sqrt(m2 / (samples - 1) / samples)
                                : std::numeric_limits<double>::quiet_NaN();
  return {mean, se};
}

double levy_transition_gain(int n, double alpha, std::uint64_t seed, int samples) {
  return std::exp(-levy_log_scale_stats(n, alpha, seed, samples).first);
}

Network make_network(const SpectrumOptions& opt) {
  Network net;
  switch (opt.weights) {
    case WeightKind::gaussian:
      net = gaussian_network(opt.n, opt.g, opt.network_seed_used());
      break;
    case WeightKind::levy:
      net = levy_network(opt.n, opt.g, opt.alpha, opt.network_seed_used());
      break;
    case WeightKind::file: {
      NpyMatrix m = read_npy_matrix(opt.weights_file);
      net.n = detail::weights_order(opt.weights_file, m.rows, m.cols);
      net.j = std::move(m.data);
      net.bias.assign(net.n, 0.0);
      break;
    }
  }
  if (opt.zero_diagonal)
    for (int i = 0; i < net.n; ++i) net(i, i) = 0.0;
  net.bias = detail::network_bias(opt, net.n);
  return net;
}

namespace detail {

NetworkColumns network_columns(const SpectrumOptions& opt) {
  NetworkColumns net;
  if (opt.weights == WeightKind::file) {
    const auto file = std::make_shared<io::NpyColumns>(opt.weights_file);
    net.n = weights_order(opt.weights_file, file->rows(), file->cols());
    net.columns = [file](int c0, int c1, double* out) {
      file->columns(static_cast<std::size_t>(c0), static_cast<std::size_t>(c1), out);
    };
  } else {
    if (opt.weights == WeightKind::levy) check_alpha(opt.alpha);
    net.n = opt.n;
    const int n = opt.n;
    const double g = opt.g, alpha = opt.weights == WeightKind::levy ? opt.alpha : 0.0;
    const std::uint64_t key = mix_seed(opt.network_seed_used());
    net.columns = [n, g, alpha, key](int c0, int c1, double* out) {
      for (int c = c0; c < c1; ++c)
        random_column(n, g, alpha, key, c, out + static_cast<std::size_t>(c - c0) * n);
    };
  }
  if (opt.zero_diagonal)
    net.columns = [n = net.n, fill = std::move(net.columns)](int c0, int c1, double* out) {
      fill(c0, c1, out);
      for (int c = c0; c < c1; ++c) out[static_cast<std::size_t>(c - c0) * n + c] = 0.0;
    };
  net.bias = network_bias(opt, net.n);
  return net;
}

}  // namespace detail

}  // namespace rnnlyap
