// Per-element math shared by every backend: the nonlinearity, its derivative, the state update
// and the counter-based normal generator. Host and device compile the same code, so CPU and GPU
// compute the same thing (docs/design.md).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "models/cell_layout.hpp"

#if defined(__CUDACC__)
#define RNNLYAP_HD __host__ __device__ __forceinline__
#else
#define RNNLYAP_HD inline
#endif

namespace rnnlyap::detail {

/// φ(x) = tanh(x).
template <class T>
RNNLYAP_HD T phi(T x) {
  using std::tanh;
  return tanh(x);
}

/// φ'(x) = 1/cosh²(x), written as 4e/(1+e)² with e = exp(-2|x|), which neither overflows nor
/// cancels. Never 1 - tanh²(x): that is exactly 0 for |x| > 19 and makes the tangent map singular
/// (docs/design.md).
template <class T>
RNNLYAP_HD T dphi(T x) {
  using std::exp;
  using std::fabs;
  const T e = exp(T(-2) * fabs(x));
  const T d = T(1) + e;
  return T(4) * e / (d * d);
}

/// log φ'(x) = log 4 - 2|x| - 2 log(1 + e^{-2|x|}), finite for every finite x.
template <class T>
RNNLYAP_HD T log_dphi(T x) {
  using std::exp;
  using std::fabs;
  using std::log1p;
  const T a = fabs(x);
  return T(1.3862943611198906) - T(2) * a - T(2) * log1p(exp(T(-2) * a));
}

/// σ(x) = 1/(1 + e^{-x}), evaluated without overflow for either sign.
template <class T>
RNNLYAP_HD T sigmoid(T x) {
  using std::exp;
  return x >= T(0) ? T(1) / (T(1) + exp(-x)) : exp(x) / (T(1) + exp(x));
}

/// σ'(x) = σ(x)σ(-x) = e/(1+e)² with e = exp(-|x|): no cancellation in 1 - σ(x).
template <class T>
RNNLYAP_HD T dsigmoid(T x) {
  using std::exp;
  using std::fabs;
  const T e = exp(-fabs(x));
  const T d = T(1) + e;
  return e / (d * d);
}

/// Euler step of τ dh/dt = -h + J φ(h) + b plus σ√dt ξ: `drive` is (J φ(h))_i.
template <class T>
RNNLYAP_HD T euler_update(T h, T drive, T bias, T dt, T noise_scale, T xi) {
  return (T(1) - dt) * h + dt * (drive + bias) + noise_scale * xi;
}

/// relu(x) = max(x, 0); NaN stays NaN (an overflowed state must not turn into a finite one).
template <class T>
RNNLYAP_HD T relu(T x) {
  return x > T(0) ? x : (x <= T(0) ? T(0) : x);
}

/// relu'(x): 1 for x > 0, 0 for x ≤ 0 — PyTorch's convention at 0 (its backward passes the
/// gradient where x > 0 only) — and NaN for NaN.
template <class T>
RNNLYAP_HD T drelu(T x) {
  return x > T(0) ? T(1) : (x <= T(0) ? T(0) : x);
}

/// One unit of a trained cell of kind K (PyTorch conventions) from its gates' input parts gi[g] and
/// hidden parts gh[g] (g < G, PyTorch's gate order): returns the new h, moves c (LSTM), and, when
/// coef is not null, writes the tangent coefficients coef[slot·stride] (models/cell_layout.hpp
/// names the slots) of the structured tangent map (src/core/models/cell.hpp), computed from the
/// state before the step. With x the layer's input (a stacked layer's input is the layer below's
/// new h), dx enters as dh does, through W_i* with the same coefficients, except the GRU's n gate,
/// whose input part is not reset by r (n_x):
///   rnn:  h' = φ(a) (rnn_relu: relu(a));  dh' = act (W_hh dh + W_ih dx)
///   gru:  r = σ(a_r), z = σ(a_z), n = φ(gi_n + r gh_n), h' = (1 − z) n + z h;
///         dh' = r (W_hr dh + W_ir dx) + z (W_hz dh + W_iz dx) + n_h (W_hn dh) + n_x (W_in dx)
///               + keep dh
///   lstm: c' = f c + i g, h' = o φ(c');
///         dc' = i (W_hi dh + W_ii dx) + f (W_hf dh + W_if dx) + g (W_hg dh + W_ig dx) + keep dc,
///         dh' = o (W_ho dh + W_io dx) + c_to_h dc'
template <class T, CellKind K>
RNNLYAP_HD T cell_unit(const T* gi, const T* gh, T h, T& c, T* coef, std::size_t stride) {
  if constexpr (K == CellKind::rnn_tanh || K == CellKind::rnn_relu) {
    const T a = gi[0] + gh[0];
    if constexpr (K == CellKind::rnn_relu) {
      if (coef) coef[RnnCoef::act * stride] = drelu(a);
      return relu(a);
    } else {
      if (coef) coef[RnnCoef::act * stride] = dphi(a);
      return phi(a);
    }
  } else if constexpr (K == CellKind::gru) {
    const T ar = gi[0] + gh[0], az = gi[1] + gh[1];
    const T r = sigmoid(ar), z = sigmoid(az);
    const T an = gi[2] + r * gh[2];
    if (coef) {
      const T dn = dphi(an) * (T(1) - z);
      coef[GruCoef::r * stride] = dn * dsigmoid(ar) * gh[2];
      coef[GruCoef::z * stride] = dsigmoid(az) * (h - phi(an));
      coef[GruCoef::n_h * stride] = dn * r;
      coef[GruCoef::keep * stride] = z;
      coef[GruCoef::n_x * stride] = dn;
    }
    const T nn = phi(an);
    return (T(1) - z) * nn + z * h;
  } else {
    static_assert(K == CellKind::lstm);
    const T ai = gi[0] + gh[0], af = gi[1] + gh[1], ag = gi[2] + gh[2], ao = gi[3] + gh[3];
    const T ig = sigmoid(ai), fg = sigmoid(af), gg = phi(ag), og = sigmoid(ao);
    const T cn = fg * c + ig * gg;
    if (coef) {
      coef[LstmCoef::i * stride] = dsigmoid(ai) * gg;
      coef[LstmCoef::f * stride] = dsigmoid(af) * c;
      coef[LstmCoef::g * stride] = ig * dphi(ag);
      coef[LstmCoef::keep * stride] = fg;
      coef[LstmCoef::o * stride] = dsigmoid(ao) * phi(cn);
      coef[LstmCoef::c_to_h * stride] = og * dphi(cn);
    }
    c = cn;
    return og * phi(cn);
  }
}

// --- Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11) --------

struct Philox4 {
  std::uint32_t v[4];
};

RNNLYAP_HD void mulhilo32(std::uint32_t a, std::uint32_t b, std::uint32_t& hi, std::uint32_t& lo) {
  const std::uint64_t p = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(p >> 32);
  lo = static_cast<std::uint32_t>(p);
}

/// Ten rounds of Philox4x32 on counter c with 64-bit key k.
RNNLYAP_HD Philox4 philox4x32_10(Philox4 c, std::uint64_t key) {
  std::uint32_t k0 = static_cast<std::uint32_t>(key);
  std::uint32_t k1 = static_cast<std::uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, lo0, hi1, lo1;
    mulhilo32(0xD2511F53u, c.v[0], hi0, lo0);
    mulhilo32(0xCD9E8D57u, c.v[2], hi1, lo1);
    c = Philox4{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return c;
}

/// A standard normal number, a pure function of (key, stream, a, b): the generator behind the
/// weights, the initial state and basis (stream, row, column) and the input noise (stream, step,
/// neuron). Box–Muller on two 53-bit uniforms in (0, 1].
RNNLYAP_HD double normal_at(std::uint64_t key, std::uint32_t stream, std::uint64_t a,
                            std::uint32_t b) {
  const Philox4 r = philox4x32_10(
      Philox4{{static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(a >> 32), b, stream}},
      key);
  const std::uint64_t x = (static_cast<std::uint64_t>(r.v[0]) << 32) | r.v[1];
  const std::uint64_t y = (static_cast<std::uint64_t>(r.v[2]) << 32) | r.v[3];
  const double u1 = (static_cast<double>(x >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
  const double u2 = static_cast<double>(y >> 11) * 0x1.0p-53;          // [0, 1)
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/// A symmetric α-stable number S_α (β = 0, scale 1 in scipy's default S1 parameterization:
/// E exp(itX) = exp(−|t|^α)), a pure function of (key, stream, a, b) with the counter layout of
/// normal_at. α = 2 gives N(0, 2), α = 1 the standard Cauchy. Chambers–Mallows–Stuck (JASA 1976;
/// Weron 1996): V uniform on (−π/2, π/2), W exponential(1),
///   X = sin(αV) / cos(V)^{1/α} · (cos(V − αV) / W)^{(1−α)/α},   α = 1: X = tan(V),
/// evaluated in logarithms. V and W come from one Philox call (two 53-bit uniforms); V lies on a
/// grid symmetric about 0 that excludes 0 and ±π/2, W ≥ 2^-54, and the magnitude is capped at
/// e^709 (reached only for α ≲ 0.1), so every counter gives a finite number. Expects 0 < α ≤ 2.
RNNLYAP_HD double stable_at(std::uint64_t key, std::uint32_t stream, std::uint64_t a,
                            std::uint32_t b, double alpha) {
  using std::cos;
  using std::exp;
  using std::fmax;
  using std::fmin;
  using std::log;
  using std::sin;
  using std::sqrt;
  using std::tan;
  const Philox4 r = philox4x32_10(
      Philox4{{static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(a >> 32), b, stream}},
      key);
  const std::uint64_t x = (static_cast<std::uint64_t>(r.v[0]) << 32) | r.v[1];
  const std::uint64_t y = (static_cast<std::uint64_t>(r.v[2]) << 32) | r.v[3];
  // s = (k − (2^52 − ½)) / 2^52 for k = x >> 11 in [0, 2^53): every step exact, s in (−1, 1),
  // symmetric about 0 and never 0; |V| ≤ fl(π/2) − 2^-52 < π/2, so cos(V) > 0.
  const double s = (static_cast<double>(x >> 11) - 4503599627370495.5) * 0x1.0p-52;
  const double v = 1.5707963267948966 * s;
  // W = −log(u), u in (0, 1]; u = 1 (W = 0) is moved to W = 2^-54, below every other value.
  const double u = (static_cast<double>(y >> 11) + 1.0) * 0x1.0p-53;
  const double w = fmax(-log(u), 0x1.0p-54);
  if (alpha == 1.0) return tan(v);
  if (alpha == 2.0) return 2.0 * sin(v) * sqrt(w);  // the α = 2 formula simplified: N(0, 2)
  const double e =
      ((1.0 - alpha) / alpha) * (log(cos((1.0 - alpha) * v)) - log(w)) - log(cos(v)) / alpha;
  return sin(alpha * v) * exp(fmin(e, 709.0));
}

/// Streams of normal_at, so that weights, initial conditions and noise never share numbers.
enum RandomStream : std::uint32_t {
  kStreamWeights = 1,
  kStreamInitialState = 2,
  kStreamInitialBasis = 3,
  kStreamNoise = 4,
  kStreamLevy = 5,  ///< samples of the heavy-tail transition prediction (levy_log_scale_stats)
  kStreamBias = 6,  ///< the bias of --bias-std (make_network)
};

}  // namespace rnnlyap::detail
