// Work units (rnnlyap/units.hpp): a run computed in pieces — in any chunks, by shards, through
// unit lines and files — is exactly the run computed at once.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "program_fixture.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/spectrum.hpp"
#include "rnnlyap/sweep.hpp"
#include "rnnlyap/units.hpp"

namespace rnnlyap {
namespace {

class Units : public test::TempDirTest {
 protected:
};

SpectrumOptions small_map() {
  SpectrumOptions o;
  o.model = Model::map;
  o.backend = BackendKind::cpu;
  o.threads = 1;
  o.n = 16;
  o.g = 1.6;
  o.t_warmup = 50;
  o.t_ons_warmup = 10;
  o.t_sim = 100;
  o.ensemble = 5;
  o.seed = 11;
  return o;
}

void expect_same_members(const EnsembleResult& a, const EnsembleResult& b) {
  ASSERT_EQ(a.members.size(), b.members.size());
  for (std::size_t m = 0; m < a.members.size(); ++m) {
    EXPECT_EQ(a.members[m].exponents, b.members[m].exponents) << m;
    EXPECT_EQ(a.members[m].stderr_, b.members[m].stderr_) << m;
    EXPECT_EQ(a.members[m].options.seed, b.members[m].options.seed) << m;
    EXPECT_EQ(a.members[m].summary.ky_dimension, b.members[m].summary.ky_dimension) << m;
  }
  EXPECT_EQ(a.mean_exponents, b.mean_exponents);
  EXPECT_EQ(a.stderr_exponents, b.stderr_exponents);
  EXPECT_EQ(a.mean_summary.ks_entropy, b.mean_summary.ks_entropy);
}

// Chunks of 1, 2 and 2 members through unit lines: the ensemble computed at once, bit for bit.
TEST_F(Units, EnsembleInChunksIsTheWholeEnsemble) {
  const SpectrumOptions o = small_map();
  const EnsembleResult whole = compute_ensemble(o);
  const UnitPlan plan = UnitPlan::spectrum(o);
  ASSERT_EQ(plan.size(), 5u);
  ASSERT_EQ(plan.kind(), UnitKind::ensemble);
  UnitStore store(plan, "");
  for (auto [first, count] : {std::pair{3, 2}, std::pair{0, 1}, std::pair{1, 2}})
    for (const std::string& line : plan.compute(first, count)) store.add(line);
  EXPECT_TRUE(store.missing().empty());
  const EnsembleResult pieces = store.ensemble_result();
  expect_same_members(whole, pieces);
  EXPECT_EQ(pieces.members[4].options.ensemble, 5) << "recorded as the whole run's member";
  EXPECT_THROW(store.add(plan.compute(0, 1).front()), Error) << "a unit computed twice";
  EXPECT_EQ(store.done(), 5u);
  SpectrumOptions other = o;
  other.n = 20;
  EXPECT_THROW(store.add(UnitPlan::spectrum(other).compute(0, 1).front()), InvalidInput)
      << "a unit of another run (20 exponents, not 16)";
  std::string torn = plan.compute(1, 1).front();
  torn.pop_back();
  EXPECT_THROW(store.add(torn), InvalidInput);
}

// Exact numbers: −∞ exponents (a map with g = 0 maps everything to 0) survive a unit line.
// A distributed run keeps every unit's result and line to the end: units that each fit (an eighth
// of the memory) but not all together (16 members, or 2 points of 8) are refused when the plan is
// made, before any unit runs.
TEST_F(Units, FiniteTimeWindowsOfAllUnitsAreCountedTogether) {
  const double have = static_cast<double>(host_memory_bytes());
  if (have == 0) GTEST_SKIP() << "this machine's memory is unknown";
  SpectrumOptions o;
  o.backend = BackendKind::cpu;
  o.n = 10;
  o.k = 1;
  o.t_ons_warmup = 0;
  o.ftle_window = 1;
  o.t_sim = std::ceil(have / 8 / 120);  // ≥ 120 bytes per window of one exponent
  o.ensemble = 16;
  EXPECT_THROW(UnitPlan::spectrum(o), InvalidInput);
  SweepSpec spec;
  spec.base = o;
  spec.base.ensemble = 8;
  spec.g = {1.0, 2.0};
  spec.n = {10};
  try {
    UnitPlan::sweep(spec);
    ADD_FAILURE() << "not refused";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("--ftle-window"), std::string::npos) << e.what();
  }
  // One member of one point fits.
  o.ensemble = 1;
  EXPECT_NO_THROW(UnitPlan::spectrum(o));
}

TEST_F(Units, NonFiniteExponentsSurviveALine) {
  SpectrumOptions o = small_map();
  o.g = 0;
  o.ensemble = 1;
  const UnitPlan plan = UnitPlan::spectrum(o);
  UnitStore store(plan, "");
  store.add(plan.compute(0, 1).front());
  const SpectrumResult r = store.ensemble_result().members.front();
  ASSERT_FALSE(r.exponents.empty());
  EXPECT_TRUE(std::isinf(r.exponents.front()) && r.exponents.front() < 0);
}

// Shards partition the units: each unit in exactly one, each point's members split into runs of
// consecutive units, every shard with work when there are as many members as shards.
TEST_F(Units, ShardsPartitionTheUnits) {
  SweepSpec s;
  s.base = small_map();
  s.base.ensemble = 7;
  s.g = {1.2, 1.4, 1.6};
  s.n = {10, 12};
  const UnitPlan plan = UnitPlan::sweep(s);
  ASSERT_EQ(plan.size(), 42u);
  for (int shards : {1, 2, 3, 7, 50}) {
    std::vector<int> count(static_cast<std::size_t>(shards), 0);
    for (std::size_t u = 0; u < plan.size(); ++u) {
      const int k = plan.shard_of(u, shards);
      ASSERT_GE(k, 0);
      ASSERT_LT(k, shards);
      ++count[static_cast<std::size_t>(k)];
      // Within a point, a shard's units are consecutive.
      if (u % 7 > 1 && plan.shard_of(u - 2, shards) == k) {
        EXPECT_EQ(plan.shard_of(u - 1, shards), k);
      }
    }
    if (shards <= 7) {
      for (int c : count) EXPECT_GE(c, 42 / shards - 6) << shards << " shards";
    }
  }
}

// A sweep's units computed as three shards into three files, then put together from the files:
// the sweep run at once. A file of other options is refused; one of another grid cannot merge.
TEST_F(Units, ShardFilesMergeIntoTheSweep) {
  SweepSpec s;
  s.base = small_map();
  s.base.ensemble = 3;
  s.g = {1.2, 1.6};
  s.n = {10, 14};
  const SweepResult whole = run_sweep(s, "");
  const UnitPlan plan = UnitPlan::sweep(s);
  for (int shard = 0; shard < 3; ++shard) {
    UnitStore store(plan, path("s" + std::to_string(shard)));
    for (std::size_t u = 0; u < plan.size(); ++u)
      if (plan.shard_of(u, 3) == shard)
        for (const std::string& line : plan.compute(u, 1)) store.add(line);
  }
  std::string head;
  std::getline(std::ifstream(path("s0")), head);
  UnitStore merged(UnitPlan::from_head(head, "s0"), "");
  for (int shard = 0; shard < 3; ++shard) merged.add_file(path("s" + std::to_string(shard)));
  ASSERT_TRUE(merged.missing().empty());
  const SweepResult r = merged.sweep_result();
  ASSERT_EQ(r.grid.size(), whole.grid.size());
  for (std::size_t p = 0; p < r.grid.size(); ++p) {
    EXPECT_EQ(r.grid[p].members, whole.grid[p].members) << p;
    EXPECT_EQ(r.grid[p].max_exponent, whole.grid[p].max_exponent) << p;
    EXPECT_EQ(r.grid[p].max_exponent_stderr, whole.grid[p].max_exponent_stderr) << p;
  }
  EXPECT_EQ(r.transitions.size(), whole.transitions.size());
  // Other options: the file is not this run's.
  SweepSpec other = s;
  other.base.t_sim = 60;
  EXPECT_THROW(UnitStore(UnitPlan::sweep(other), path("s0")), InvalidInput);
  // Where it runs may change.
  SweepSpec moved = s;
  moved.base.threads = 2;
  EXPECT_NO_THROW(UnitStore(UnitPlan::sweep(moved), path("s0")));
  // Another grid may resume from the file, but does not merge with it.
  SweepSpec wider = s;
  wider.g = {1.2, 1.6, 2.0};
  UnitStore resumed(UnitPlan::sweep(wider), path("s1"));
  EXPECT_GT(resumed.taken_from_file(), 0u);
  EXPECT_THROW(resumed.add_file(path("s2")), InvalidInput);
}

// A torn last line (a killed writer) is ignored with a warning; the rest is kept.
TEST_F(Units, TornLineIsIgnored) {
  const SpectrumOptions o = small_map();
  const UnitPlan plan = UnitPlan::spectrum(o);
  {
    UnitStore store(plan, path("u"));
    for (const std::string& line : plan.compute(0, 3)) store.add(line);
  }
  std::ifstream in(path("u"));
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 4u);
  lines.back() = lines.back().substr(0, lines.back().size() / 2);
  std::ofstream out(path("u"), std::ios::trunc);
  for (const auto& l : lines) out << l << "\n";
  out.close();
  UnitStore store(plan, path("u"));
  EXPECT_EQ(store.taken_from_file(), 2u);
  ASSERT_EQ(store.warnings().size(), 1u);
  EXPECT_NE(store.warnings()[0].find("1 line whose check failed"), std::string::npos);
  EXPECT_EQ(store.missing(), (std::vector<std::size_t>{2, 3, 4}));
}

}  // namespace
}  // namespace rnnlyap
