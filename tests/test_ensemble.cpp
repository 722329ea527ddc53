// Ensembles: each member is the run of its own seed, and the top level holds across-member
// means with standard errors std/√B.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "backends.hpp"
#include "core/executor.hpp"
#include "core/loop.hpp"
#include "core/propagator.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/json.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap {
namespace {

class Ensemble : public testing::TestWithParam<BackendKind> {};

SpectrumOptions small(BackendKind b) {
  SpectrumOptions o;
  o.backend = b;
  o.n = 40;
  o.g = 2.5;
  o.t_warmup = 50;
  o.t_ons_warmup = 20;
  o.t_sim = 100;
  o.seed = 10;
  o.ensemble = 4;
  return o;
}

TEST_P(Ensemble, MembersEqualSeparateRunsWithTheSameSeeds) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(GetParam());
  const SpectrumOptions o = small(GetParam());
  const EnsembleResult e = compute_ensemble(o);
  ASSERT_EQ(e.members.size(), 4u);
  for (int m = 0; m < 4; ++m) {
    SpectrumOptions single = o;
    single.ensemble = 1;
    single.seed = o.seed + static_cast<std::uint64_t>(m);
    const SpectrumResult r = compute_spectrum(single);
    EXPECT_EQ(e.members[m].options.seed, single.seed);
    for (std::size_t i = 0; i < r.exponents.size(); ++i)
      // On the CPU bit for bit (N = 40 is below OpenBLAS's threading threshold, so the members
      // that threads take with a single-threaded BLAS do a separate run's arithmetic). On a GPU
      // small networks run as one batch (strided-batched products, a batched QR): the states agree
      // bit for bit, the QR to rounding.
      if (GetParam() == BackendKind::cpu)
        ASSERT_EQ(e.members[m].exponents[i], r.exponents[i])
            << "member " << m << ", exponent " << i;
      else
        ASSERT_NEAR(e.members[m].exponents[i], r.exponents[i], 1e-9)
            << "member " << m << ", exponent " << i;
  }
}

// With at least as many members as threads, CPU threads take whole members with a
// single-threaded BLAS: each member equals its separate run with one BLAS thread bit for bit, at a
// size where OpenBLAS does split products over threads; progress adds up to the whole ensemble.
TEST(EnsembleCpuThreads, MembersEqualSingleThreadedSeparateRuns) {
  SpectrumOptions o = small(BackendKind::cpu);
  o.n = 300;
  o.k = 40;
  o.t_warmup = 10;
  o.t_ons_warmup = 5;
  o.t_sim = 20;
  o.ensemble = 3;
  o.threads = 2;
  std::int64_t last_done = -1, last_total = 0;
  Observers obs;
  obs.progress = [&](Phase, std::int64_t done, std::int64_t total) {
    EXPECT_GE(done, last_done);
    last_done = done;
    last_total = total;
  };
  const EnsembleResult e = compute_ensemble(o, obs);
  ASSERT_EQ(e.members.size(), 3u);
  EXPECT_EQ(last_done, last_total);
  for (int m = 0; m < 3; ++m) {
    SpectrumOptions single = o;
    single.ensemble = 1;
    single.threads = 1;
    single.seed = o.seed + static_cast<std::uint64_t>(m);
    const SpectrumResult r = compute_spectrum(single);
    EXPECT_EQ(e.members[m].options.seed, single.seed);
    EXPECT_EQ(e.members[m].options.threads, 2);
    ASSERT_EQ(e.members[m].exponents.size(), 40u);
    for (std::size_t i = 0; i < r.exponents.size(); ++i)
      ASSERT_EQ(e.members[m].exponents[i], r.exponents[i]) << "member " << m << ", exponent " << i;
  }
  EXPECT_NE(e.members[0].exponents[0], e.members[1].exponents[0]);
}

// Two ensembles at once from two caller threads (as from Python with the GIL released): each is
// its serial self, and the BLAS thread count the callers found is restored when both are done.
TEST(EnsembleCpuThreads, OverlappingCallersRestoreTheBlasThreadCount) {
  if (cpu::blas_threads() <= 0) GTEST_SKIP() << "the BLAS library does not report its threads";
  cpu::set_blas_threads(2);
  SpectrumOptions o = small(BackendKind::cpu);
  o.ensemble = 4;
  const EnsembleResult want = compute_ensemble(o);
  EnsembleResult got[2];
  std::thread other([&] { got[1] = compute_ensemble(o); });
  got[0] = compute_ensemble(o);
  other.join();
  EXPECT_EQ(cpu::blas_threads(), 2);
  for (const EnsembleResult& g : got) {
    ASSERT_EQ(g.members.size(), 4u);
    for (int m = 0; m < 4; ++m) EXPECT_EQ(g.members[m].exponents, want.members[m].exponents);
  }
}

TEST(EnsembleStatistics, MeansAndStandardErrorsAcrossMembers) {
  // Three members with λ_1 = 1, 2, 6: mean 3, sample variance 7, standard error √(7/3).
  std::vector<SpectrumResult> m(3);
  const double l1[3] = {1, 2, 6};
  for (int i = 0; i < 3; ++i) {
    m[i].exponents = {l1[i], -1.0};
    m[i].summary = summarize(m[i].exponents);
    m[i].timing.seconds = 1;
  }
  const EnsembleResult e = ensemble_statistics(m);
  EXPECT_DOUBLE_EQ(e.mean_exponents[0], 3.0);
  EXPECT_DOUBLE_EQ(e.stderr_exponents[0], std::sqrt(7.0 / 3.0));
  EXPECT_DOUBLE_EQ(e.stderr_exponents[1], 0.0);
  EXPECT_DOUBLE_EQ(e.mean_summary.max_exponent, 3.0);
  EXPECT_DOUBLE_EQ(e.mean_n_positive, 1.0);
  EXPECT_DOUBLE_EQ(e.timing.seconds, 3.0);
}

TEST(EnsembleJson, HasMembersAndTopLevelMeans) {
  SpectrumOptions o = small(BackendKind::cpu);
  o.ensemble = 3;
  const EnsembleResult e = compute_ensemble(o);
  const auto j = nlohmann::json::parse(to_json(e));
  ASSERT_EQ(j["members"].size(), 3u);
  EXPECT_EQ(j["members"][2]["seed"], 12);
  EXPECT_EQ(j["params"]["ensemble"], 3);
  EXPECT_EQ(j["params"]["seed"], 10);
  EXPECT_TRUE(j.contains("summary_stderr"));
  const double mean0 = (j["members"][0]["exponents"][0].get<double>() +
                        j["members"][1]["exponents"][0].get<double>() +
                        j["members"][2]["exponents"][0].get<double>()) /
                       3;
  EXPECT_NEAR(j["exponents"][0].get<double>(), mean0, 1e-14);
}

TEST(EnsembleJson, CheckpointAndTraceAreForSingleRuns) {
  const SpectrumOptions o = small(BackendKind::cpu);
  RunControl c;
  c.checkpoint_path = "/tmp/never-written.ckpt";
  EXPECT_THROW(compute_ensemble(o, {}, c), InvalidInput);
  Observers obs;
  obs.trace = [](double, std::span<const double>) {};
  EXPECT_THROW(compute_ensemble(o, obs), InvalidInput);
}

// The batched path (B networks in lockstep as one block-diagonal system, split afterwards) does
// each member's arithmetic exactly as a separate run: on the CPU batch the members are
// bit-identical.
TEST(EnsembleBatched, CpuBatchEqualsSeparateRuns) {
  for (Integrator integ : {Integrator::euler, Integrator::rk4}) {
    SpectrumOptions o = small(BackendKind::cpu);
    o.integrator = integ;
    o.input_std = 0.2;
    o.k = 12;
    const EnsembleResult seq = compute_ensemble(o);
    const EnsembleResult bat = detail::run_ensemble_batched(o, detail::placement_of(o), {});
    ASSERT_EQ(bat.members.size(), seq.members.size());
    for (std::size_t m = 0; m < seq.members.size(); ++m) {
      EXPECT_EQ(bat.members[m].options.seed, seq.members[m].options.seed);
      ASSERT_EQ(bat.members[m].exponents.size(), 12u);
      for (std::size_t i = 0; i < 12; ++i) {
        ASSERT_EQ(bat.members[m].exponents[i], seq.members[m].exponents[i]) << m << ", " << i;
        ASSERT_EQ(bat.members[m].stderr_[i], seq.members[m].stderr_[i]) << m << ", " << i;
      }
    }
    EXPECT_EQ(bat.mean_summary.max_exponent, seq.mean_summary.max_exponent);
  }
}

RNNLYAP_INSTANTIATE_FOR_BACKENDS(Ensemble);

}  // namespace
}  // namespace rnnlyap
