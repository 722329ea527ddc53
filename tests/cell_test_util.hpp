// Random trained cells (one layer or a stack) and input sequences for the trained-network tests
// (CPU and CUDA).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

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
  net.layer(0).w_ih.resize(static_cast<std::size_t>(gn) * in);
  net.layer(0).w_hh.resize(static_cast<std::size_t>(gn) * n);
  for (double& w : net.layer(0).w_ih) w = N01(rng) / std::sqrt(in);
  for (double& w : net.layer(0).w_hh) w = scale * N01(rng) / std::sqrt(n);
  if (biases) {
    net.layer(0).b_ih.resize(gn);
    net.layer(0).b_hh.resize(gn);
    for (double& b : net.layer(0).b_ih) b = 0.3 * N01(rng);
    for (double& b : net.layer(0).b_hh) b = 0.3 * N01(rng);
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
    net.layers.push_back(above.layer(0));
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

// Layer l's own Jacobian block at the zero fixed point (zero input, zero biases: φ(0) = 0,
// φ'(0) = 1, σ(0) = ½, σ'(0) = ¼), column-major d × d.
inline std::vector<double> layer_block_at_zero(const CellNetwork& net, int l, bool h_only) {
  const int n = net.hidden, d = net.layer_tangent_rows(h_only);
  const std::vector<double>& whh = net.layer(l).w_hh;
  std::vector<double> jac(static_cast<std::size_t>(d) * d, 0.0);
  auto w = [&](int gate, int r, int c) {
    return whh[static_cast<std::size_t>(gate * n + r) * n + c];
  };
  auto at = [&](int r, int c) -> double& { return jac[static_cast<std::size_t>(c) * d + r]; };
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < n; ++c) {
      if (net.type == Model::rnn) at(r, c) = w(0, r, c);
      if (net.type == Model::gru) at(r, c) = 0.25 * w(2, r, c) + (r == c ? 0.5 : 0);
      if (net.type == Model::lstm) {
        at(r, c) = 0.25 * w(2, r, c);
        if (!h_only) {
          at(n + r, c) = 0.5 * w(2, r, c);
          at(r, n + c) = r == c ? 0.25 : 0;
          at(n + r, n + c) = r == c ? 0.5 : 0;
        }
      }
    }
  return jac;
}

}  // namespace rnnlyap::test
