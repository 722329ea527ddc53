// Random trained cells (one layer or a stack) and input sequences for the trained-network tests
// (CPU and CUDA).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>

#include "rnnlyap/trained.hpp"

namespace rnnlyap::test {

/// PyTorch-layout weights: W_ih ~ N(0, 1/I), W_hh ~ N(0, scale²/N), biases on both sides
/// ~ N(0, 0.3²) unless `biases` is false.
inline CellNetwork random_cell(Model type, int n, int in, double scale, std::uint64_t seed,
                               bool biases = true) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> N01(0, 1);
  CellNetwork net;
  net.type = type;
  net.hidden = n;
  net.input_size = in;
  const int gn = net.gates() * n;
  net.w_ih.resize(static_cast<std::size_t>(gn) * in);
  net.w_hh.resize(static_cast<std::size_t>(gn) * n);
  for (double& w : net.w_ih) w = N01(rng) / std::sqrt(in);
  for (double& w : net.w_hh) w = scale * N01(rng) / std::sqrt(n);
  if (biases) {
    net.b_ih.resize(gn);
    net.b_hh.resize(gn);
    for (double& b : net.b_ih) b = 0.3 * N01(rng);
    for (double& b : net.b_hh) b = 0.3 * N01(rng);
  }
  return net;
}

/// A stack of `layers` random layers (layer 0 as random_cell; layer l > 0 with W_ih ~ N(0, 1/N),
/// G·N × N, and W_hh ~ N(0, scale²/N)), each layer's weights from its own stream of `seed`.
inline CellNetwork random_stacked_cell(Model type, int layers, int n, int in, double scale,
                                       std::uint64_t seed, bool biases = true) {
  CellNetwork net = random_cell(type, n, in, scale, seed, biases);
  for (int l = 1; l < layers; ++l) {
    const CellNetwork above = random_cell(type, n, n, scale, seed + 7919 * l, biases);
    net.upper.push_back({above.w_ih, above.w_hh, above.b_ih, above.b_hh});
  }
  return net;
}

/// `batch` sequences of `steps` standard-normal inputs with `in` features.
inline InputSequences random_inputs(int batch, int steps, int in, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> N01(0, 1);
  InputSequences x;
  x.batch = batch;
  x.steps = steps;
  x.input_size = in;
  for (int i = 0; i < batch * steps * in; ++i) x.data.push_back(N01(rng));
  return x;
}

}  // namespace rnnlyap::test
