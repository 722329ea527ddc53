// The models of the propagator suites (test_propagator.cpp, test_propagator_cuda.cpp): every model
// the one propagator drives, a batch of B members of it, propagators of any run of those members
// on any placement, and the independent reference of one state step (written here, in fp64, from
// the definitions: the models table of docs/design.md for the random networks, the reference
// cell_step for the cells).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "backends.hpp"
#include "cell_test_util.hpp"
#include "compare.hpp"
#include "core/loop.hpp"
#include "core/models/cell_reference.hpp"
#include "core/propagator.hpp"
#include "core/random.hpp"
#include "rnnlyap/network.hpp"
#include "rnnlyap/options.hpp"
#include "rnnlyap/trained.hpp"

namespace rnnlyap::test {

enum class Kind { rate_euler, rate_rk4, map, rnn, gru, lstm, lstm_h_only };

inline constexpr Kind kAllKinds[] = {Kind::rate_euler, Kind::rate_rk4, Kind::map,        Kind::rnn,
                                     Kind::gru,        Kind::lstm,     Kind::lstm_h_only};

inline std::string kind_name(Kind k) {
  switch (k) {
    case Kind::rate_euler:
      return "rate_euler";
    case Kind::rate_rk4:
      return "rate_rk4";
    case Kind::map:
      return "map";
    case Kind::rnn:
      return "rnn";
    case Kind::gru:
      return "gru";
    case Kind::lstm:
      return "lstm";
    case Kind::lstm_h_only:
      return "lstm_h_only";
  }
  return "?";
}

inline bool is_network(Kind k) {
  return k == Kind::rate_euler || k == Kind::rate_rk4 || k == Kind::map;
}

inline Model model_of(Kind k) {
  switch (k) {
    case Kind::rate_euler:
    case Kind::rate_rk4:
      return Model::rate;
    case Kind::map:
      return Model::map;
    case Kind::rnn:
      return Model::rnn;
    case Kind::gru:
      return Model::gru;
    case Kind::lstm:
    case Kind::lstm_h_only:
      return Model::lstm;
  }
  return Model::rate;
}

/// B members of one model: B random networks (each its own weights, bias and noise key), or one
/// trained cell driven by B input sequences. State and basis layouts are the propagator's.
struct Members {
  Kind kind = Kind::rate_euler;
  int batch = 1;
  int state_size = 0;  ///< values per member's state
  int rows = 0;        ///< rows of a member's tangent basis
  // random networks
  std::vector<Network> nets;
  std::vector<std::uint64_t> keys;
  detail::Dynamics dyn;
  // trained cells
  CellNetwork cell;
  InputSequences inputs;
  bool h_only = false;

  /// A propagator of members first … first + count − 1 with k basis columns.
  std::unique_ptr<detail::Propagator> propagator(const detail::Placement& where, int first,
                                                 int count, int k) const {
    if (is_network(kind)) {
      std::vector<const Network*> ptrs;
      std::vector<std::uint64_t> ks;
      for (int m = first; m < first + count; ++m) {
        ptrs.push_back(&nets[static_cast<std::size_t>(m)]);
        ks.push_back(keys[static_cast<std::size_t>(m)]);
      }
      return detail::make_network_propagator(where, ptrs, dyn, ks, k);
    }
    return detail::make_cell_propagator(where, cell, inputs, first, count, k, h_only);
  }
  std::unique_ptr<detail::Propagator> propagator(const detail::Placement& where, int k) const {
    return propagator(where, 0, batch, k);
  }

  /// Member m's input at step t (cells).
  std::span<const double> input(int m, std::int64_t t) const {
    return inputs.sequence(m).subspan(static_cast<std::size_t>(t) * inputs.input_size,
                                      static_cast<std::size_t>(inputs.input_size));
  }

  /// The reference next state of member m from `state` at step t, without input noise.
  std::vector<double> reference_step(int m, std::span<const double> state, std::int64_t t) const {
    if (!is_network(kind)) return detail::cell_step(cell, state, input(m, t));
    const Network& net = nets[static_cast<std::size_t>(m)];
    const int n = net.n;
    // f(y) = drive(y) − y for rate; drive(y) = J φ(y) + b
    auto drive = [&](const std::vector<double>& y) {
      std::vector<double> d(net.bias.empty() ? std::vector<double>(n, 0.0) : net.bias);
      for (int c = 0; c < n; ++c) {
        const double x = std::tanh(y[c]);
        for (int r = 0; r < n; ++r) d[r] += net(r, c) * x;
      }
      return d;
    };
    std::vector<double> h(state.begin(), state.end());
    if (kind == Kind::map) return drive(h);
    const double dt = dyn.dt;
    if (kind == Kind::rate_euler) {
      const std::vector<double> d = drive(h);
      for (int i = 0; i < n; ++i) h[i] = (1 - dt) * h[i] + dt * d[i];
      return h;
    }
    auto f = [&](const std::vector<double>& y) {
      std::vector<double> d = drive(y);
      for (int i = 0; i < n; ++i) d[i] -= y[i];
      return d;
    };
    auto along = [&](const std::vector<double>& k, double c) {
      std::vector<double> y = h;
      for (int i = 0; i < n; ++i) y[i] += c * k[i];
      return y;
    };
    const std::vector<double> k1 = f(h), k2 = f(along(k1, dt / 2)), k3 = f(along(k2, dt / 2)),
                              k4 = f(along(k3, dt));
    for (int i = 0; i < n; ++i) h[i] += dt / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
    return h;
  }
};

/// B members of `kind`: networks of n units, gain g, bias N(0, 0.1²) unless `bias` is false, input
/// noise σ; cells of n hidden units (input size 3, W_hh scale g, biases unless `bias` is false)
/// with B standard-normal input sequences of `steps` steps (all zero with `zero_inputs`).
inline Members make_members(Kind kind, int batch, int n, double g, double sigma, std::uint64_t seed,
                            bool bias = true, int steps = 64, bool zero_inputs = false) {
  Members m;
  m.kind = kind;
  m.batch = batch;
  if (is_network(kind)) {
    m.dyn.model = model_of(kind);
    m.dyn.integrator = kind == Kind::rate_rk4 ? Integrator::rk4 : Integrator::euler;
    m.dyn.dt = kind == Kind::map ? 1.0 : 0.1;
    m.dyn.input_std = sigma;
    for (int b = 0; b < batch; ++b) {
      const std::uint64_t s = seed + static_cast<std::uint64_t>(b);
      Network net = gaussian_network(n, g, s);
      if (bias) {
        std::mt19937_64 rng(s + 7);
        std::normal_distribution<double> n01(0, 1);
        for (double& v : net.bias) v = 0.1 * n01(rng);
      }
      m.nets.push_back(std::move(net));
      m.keys.push_back(detail::noise_key(s));
    }
    m.state_size = m.rows = n;
    return m;
  }
  const int in = 3;
  m.cell = random_cell(model_of(kind), n, in, g, seed, bias);
  m.h_only = kind == Kind::lstm_h_only;
  m.inputs = random_inputs(batch, steps, in, seed + 1000);
  if (zero_inputs) std::fill(m.inputs.data.begin(), m.inputs.data.end(), 0.0);
  m.state_size = m.cell.state_size();
  m.rows = kind == Kind::lstm ? 2 * n : n;
  return m;
}

/// `count` draws of N(0, scale²).
inline std::vector<double> gaussian_values(std::size_t count, double scale, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n01(0, 1);
  std::vector<double> v(count);
  for (double& x : v) x = scale * n01(rng);
  return v;
}

/// B identity bases of rows × rows.
inline std::vector<double> identities(int batch, int rows) {
  const std::size_t r = static_cast<std::size_t>(rows);
  std::vector<double> q(static_cast<std::size_t>(batch) * r * r, 0.0);
  for (std::size_t b = 0; b < static_cast<std::size_t>(batch); ++b)
    for (std::size_t i = 0; i < r; ++i) q[b * r * r + i * r + i] = 1;
  return q;
}

/// max_i |a_i − b_i| / max_i |b_i| over [from, from + count): relative to the vector's scale. NaN
/// or inf when an element is not finite (compare.hpp), inf when the sizes differ or the range
/// does not fit.
inline double rel_diff(const std::vector<double>& a, const std::vector<double>& b, std::size_t from,
                       std::size_t count) {
  if (a.size() != b.size() || from > a.size() || count > a.size() - from) return INFINITY;
  const std::span<const double> sa = std::span(a).subspan(from, count),
                                sb = std::span(b).subspan(from, count);
  const double num = max_abs_diff(sa, sb), den = max_abs(sb);
  return den > 0 ? num / den : num;
}

inline const char* precision_name(Precision p) {
  return p == Precision::fp64 ? "fp64" : "fp32";
}

/// The unit roundoff of the working precision.
inline double unit_roundoff(Precision p) {
  return p == Precision::fp64 ? 0x1p-53 : 0x1p-24;
}

/// A loop set-up for `batch` random networks of n neurons with k exponents: member b starts from
/// the initial state of seed state_seed + b and the initial basis of seed basis_seed + b.
inline detail::LoopSetup network_setup(const SpectrumOptions& o, int batch, int n, int k,
                                       std::uint64_t state_seed, std::uint64_t basis_seed) {
  detail::LoopSetup setup;
  setup.options = o;
  setup.schedule = make_schedule(o);
  setup.batch = batch;
  setup.dim = n;
  for (int b = 0; b < batch; ++b) {
    const std::vector<double> h = detail::initial_state(n, state_seed + b),
                              q = detail::initial_basis(n, k, basis_seed + b);
    setup.initial_state.insert(setup.initial_state.end(), h.begin(), h.end());
    setup.initial_basis.insert(setup.initial_basis.end(), q.begin(), q.end());
  }
  return setup;
}

}  // namespace rnnlyap::test
