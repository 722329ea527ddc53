// Runs that must agree with each other: a partial spectrum with the leading part of the full one,
// a run with itself (bit for bit), and 1, 2 and 3 CPU threads.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "backends.hpp"
#include "core/elementwise.hpp"
#include "core/executor.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap {
namespace {

SpectrumOptions chaotic(BackendKind b) {
  SpectrumOptions o;
  o.backend = b;
  o.n = test::size_for(b, 80, 40);  // smaller on the emulated device (backends.hpp)
  o.g = 3;
  o.t_warmup = 50;
  o.t_ons_warmup = 50;
  o.t_sim = 200;
  return o;
}

class Consistency : public testing::TestWithParam<BackendKind> {};

// Householder QR's first k columns depend only on the first k columns, the state trajectory does
// not depend on k, and the first k basis columns start equal: the leading k exponents of the full
// spectrum equal the partial spectrum up to rounding in the products.
TEST_P(Consistency, PartialSpectrumIsLeadingPartOfFull) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  for (Model m : {Model::rate, Model::map}) {
    SpectrumOptions o = chaotic(GetParam());
    o.model = m;
    o.input_std = 0.1;
    const SpectrumResult full = compute_spectrum(o);
    o.k = 7;
    const SpectrumResult part = compute_spectrum(o);
    ASSERT_EQ(part.exponents.size(), 7u);
    for (int i = 0; i < 7; ++i) EXPECT_NEAR(part.exponents[i], full.exponents[i], 1e-10) << i;
  }
}

TEST_P(Consistency, SameSeedSameExponentsBitForBit) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  SpectrumOptions o = chaotic(GetParam());
  o.integrator = Integrator::rk4;
  o.input_std = 0.2;
  const SpectrumResult a = compute_spectrum(o);
  const SpectrumResult b = compute_spectrum(o);
  for (std::size_t i = 0; i < a.exponents.size(); ++i)
    ASSERT_EQ(a.exponents[i], b.exponents[i]) << i;
  o.seed += 1;
  const SpectrumResult c = compute_spectrum(o);
  EXPECT_NE(a.exponents[0], c.exponents[0]) << "a different seed must give a different network";
}

// A run's CPU threads are a team of its own (src/cpu/cpu_executor.cpp) that shares the tangent
// products, the re-orthonormalisations (CholeskyQR's steps, Householder's panel updates) and the
// per-element loops: one thread count gives the same exponents bit for bit, run after run, and
// one, two and three threads agree to rounding (rounding differences grow like e^{λ₁t} in chaos;
// these runs stay below 1e-10).
TEST(ConsistencyCpu, ThreadCountsAgreeAndEachIsReproducible) {
  struct Case {
    QrMethod qr;
    Integrator integrator;
    double t_sim;
  };
  SpectrumOptions o = chaotic(BackendKind::cpu);
  o.n = 200;  // above the sizes the team shares a Cholesky factorisation at (2·64)
  o.t_warmup = o.t_ons_warmup = 20;
  for (const Case c : {Case{QrMethod::auto_select, Integrator::euler, 40},
                       Case{QrMethod::householder, Integrator::euler, 20},
                       Case{QrMethod::auto_select, Integrator::rk4, 10}}) {
    o.qr = c.qr;
    o.integrator = c.integrator;
    o.t_sim = c.t_sim;
    const std::string what =
        std::string(to_string(c.qr)) + ", " + std::string(to_string(c.integrator));
    o.threads = 1;
    const SpectrumResult one = compute_spectrum(o);
    o.threads = 2;
    const SpectrumResult two = compute_spectrum(o);
    const SpectrumResult again = compute_spectrum(o);
    o.threads = 3;
    const SpectrumResult three = compute_spectrum(o);
    ASSERT_EQ(two.exponents, again.exponents) << what << ": two threads, twice";
    for (std::size_t i = 0; i < one.exponents.size(); ++i) {
      ASSERT_NEAR(one.exponents[i], two.exponents[i], 1e-10) << what << ", exponent " << i;
      ASSERT_NEAR(one.exponents[i], three.exponents[i], 1e-10) << what << ", exponent " << i;
    }
  }
}

// Runs that overlap (two callers, as from Python with the GIL released) keep the thread counts
// they asked for: each gives what it gives alone, bit for bit, whatever the other does meanwhile
// (the team's size is the run's own, not read from the BLAS library that another run holds at one
// thread), and the library's count is left as it was.
TEST(ConsistencyCpu, OverlappingRunsKeepTheirThreadCounts) {
  SpectrumOptions o = chaotic(BackendKind::cpu);
  o.n = 200;
  o.t_warmup = o.t_ons_warmup = 5;
  o.t_sim = 20;
  // Householder: one thread runs LAPACK's geqrf on this basis, a team its own panels, so the two
  // thread counts differ in their last bits (CholeskyQR's shares give the one-thread bits here).
  o.qr = QrMethod::householder;
  const int blas_before = cpu::blas_threads();
  SpectrumOptions one = o, two = o;
  one.threads = 1;
  two.threads = 2;
  const SpectrumResult alone_one = compute_spectrum(one), alone_two = compute_spectrum(two);
  SpectrumOptions longer_alone = two;
  longer_alone.t_sim = 100;
  const SpectrumResult alone_long = compute_spectrum(longer_alone);
  ASSERT_NE(alone_one.exponents, alone_two.exponents) << "the thread counts must be told apart";
  for (int round = 0; round < 2; ++round) {
    // The other run starts once this one is under way (its executor, holding the BLAS library at
    // one thread, exists by its first progress report) and ends before it.
    std::atomic<bool> started{false};
    Observers obs;
    obs.progress = [&](Phase, std::int64_t, std::int64_t) { started = true; };
    SpectrumResult a, b;
    std::thread other([&] {
      for (int i = 0; i < 10000 && !started; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      b = compute_spectrum(round == 0 ? two : one);
    });
    SpectrumOptions longer = two;
    longer.t_sim = 100;  // long enough to outlast the other run
    a = compute_spectrum(longer, obs);
    other.join();
    EXPECT_EQ(a.exponents, alone_long.exponents) << "round " << round;
    EXPECT_EQ(b.exponents, (round == 0 ? alone_two : alone_one).exponents) << "round " << round;
  }
  EXPECT_EQ(cpu::blas_threads(), blas_before);
}

// The batch-means standard errors are finite, non-negative, and small against the spectrum's
// spread.
TEST_P(Consistency, StandardErrorsAreFiniteAndSmall) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  const SpectrumResult r = compute_spectrum(chaotic(GetParam()));
  for (double s : r.stderr_) {
    ASSERT_TRUE(std::isfinite(s));
    ASSERT_GE(s, 0.0);
  }
  EXPECT_GT(r.stderr_[0], 0.0);
  EXPECT_LT(r.stderr_[0], 0.1 * (r.exponents.front() - r.exponents.back()));
}

// A basis that collapses between re-orthonormalisations (κ = e^{(λ_1 − λ_k) t_ons} past 1/ε) gives
// trailing exponents made of rounding noise: the result must say so. A healthy run must not.
TEST_P(Consistency, CollapsedBasisIsReported) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  SpectrumOptions o = chaotic(GetParam());
  EXPECT_TRUE(compute_spectrum(o).warnings.empty());
  o.model = Model::map;
  o.n = 50;
  o.g = 50;
  o.t_ons = 300;
  o.t_sim = 600;
  o.t_ons_warmup = 0;
  const SpectrumResult r = compute_spectrum(o);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("shorten --t-ons"), std::string::npos);
}

RNNLYAP_INSTANTIATE_FOR_BACKENDS(Consistency);

// φ' = 1/cosh² must stay positive and accurate where 1 - tanh² is already exactly zero.
TEST(Elementwise, DerivativeDoesNotCancel) {
  for (double x : {0.0, 0.3, -2.0, 10.0, 19.5, -25.0, 100.0, 300.0}) {
    const long double ref =
        1.0L / (std::cosh(static_cast<long double>(x)) * std::cosh(static_cast<long double>(x)));
    const double d = detail::dphi(x);
    EXPECT_GT(d, 0.0) << x;
    EXPECT_NEAR(d / static_cast<double>(ref), 1.0, 1e-14) << x;
    EXPECT_NEAR(detail::log_dphi(x), static_cast<double>(std::log(ref)), 1e-12 * (1 + std::fabs(x)))
        << x;
  }
  EXPECT_EQ(1.0 - std::tanh(20.0) * std::tanh(20.0), 0.0) << "the cancellation dphi avoids";
}

// Known-answer tests of Philox4x32-10 (Salmon et al., SC'11, Random123's published vectors).
TEST(Elementwise, PhiloxKnownAnswers) {
  using detail::Philox4;
  auto eq = [](Philox4 a, std::array<std::uint32_t, 4> b) {
    return a.v[0] == b[0] && a.v[1] == b[1] && a.v[2] == b[2] && a.v[3] == b[3];
  };
  EXPECT_TRUE(eq(detail::philox4x32_10(Philox4{{0, 0, 0, 0}}, 0),
                 {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  EXPECT_TRUE(eq(detail::philox4x32_10(Philox4{{~0u, ~0u, ~0u, ~0u}}, ~0ull),
                 {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  EXPECT_TRUE(
      eq(detail::philox4x32_10(Philox4{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
                               (0x299f31d0ull << 32) | 0xa4093822ull),
         {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

// The normal generator: mean 0, variance 1, kurtosis 3 within 5 standard errors of 10⁵ samples.
TEST(Elementwise, NormalMoments) {
  const int m = 100000;
  double s1 = 0, s2 = 0, s4 = 0;
  for (int i = 0; i < m; ++i) {
    const double x = detail::normal_at(12345, 9, static_cast<std::uint64_t>(i), 3);
    s1 += x;
    s2 += x * x;
    s4 += x * x * x * x;
  }
  EXPECT_NEAR(s1 / m, 0.0, 5 * std::sqrt(1.0 / m));
  EXPECT_NEAR(s2 / m, 1.0, 5 * std::sqrt(2.0 / m));
  EXPECT_NEAR(s4 / m, 3.0, 5 * std::sqrt(96.0 / m));
}

}  // namespace
}  // namespace rnnlyap
