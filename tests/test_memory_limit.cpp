// host_memory_bytes() honours the cgroup limits the process runs under (v2 and v1), not only the
// machine's MemAvailable: each test builds a fake /proc and /sys tree and reads it through
// detail::available_memory_bytes(root).
// Every series a run keeps in memory (finite-time windows, a kept trace, the covariant vectors'
// R factors and bases) is counted in one check against a budget (faked here): each series is
// named with its remedy, and the total is compared, not each part alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/clv.hpp"
#include "core/memory_limit.hpp"
#include "program_fixture.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"

namespace {

using rnnlyap::detail::available_memory_bytes;

constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr std::size_t kGiB = std::size_t{1} << 30;

class MemoryLimitTest : public rnnlyap::test::TempDirTest {
 protected:
  // Writes ROOT/relative (creating its folders).
  void write(const std::string& relative, const std::string& text) const {
    const std::filesystem::path p = dir_ / relative;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  // /proc/meminfo with MemAvailable = `available` bytes.
  void meminfo(std::size_t available) const {
    write("proc/meminfo",
          "MemTotal:       65536000 kB\nMemFree:        1000000 kB\n"
          "MemAvailable:   " +
              std::to_string(available / 1024) + " kB\nBuffers:  100 kB\n");
  }
  std::size_t available() const { return available_memory_bytes(dir_.string()); }
};

TEST_F(MemoryLimitTest, NoCgroupFilesMeansMemAvailable) {
  meminfo(16 * kGiB);
  EXPECT_EQ(available(), 16 * kGiB);
}

TEST_F(MemoryLimitTest, NothingKnownIsZero) {
  EXPECT_EQ(available(), 0u);
}

TEST_F(MemoryLimitTest, CgroupV2LimitBoundsMemAvailable) {
  meminfo(16 * kGiB);
  write("proc/self/cgroup", "0::/job.slice/run-1.scope\n");
  write("sys/fs/cgroup/job.slice/run-1.scope/memory.max", std::to_string(300 * kMiB) + "\n");
  write("sys/fs/cgroup/job.slice/run-1.scope/memory.current", std::to_string(20 * kMiB) + "\n");
  EXPECT_EQ(available(), 280 * kMiB);
}

TEST_F(MemoryLimitTest, CgroupV2MaxIsNoLimit) {
  meminfo(16 * kGiB);
  write("proc/self/cgroup", "0::/job.slice\n");
  write("sys/fs/cgroup/job.slice/memory.max", "max\n");
  write("sys/fs/cgroup/job.slice/memory.current", std::to_string(kGiB) + "\n");
  EXPECT_EQ(available(), 16 * kGiB);
}

TEST_F(MemoryLimitTest, CgroupV2TighterParentWins) {
  meminfo(16 * kGiB);
  write("proc/self/cgroup", "0::/parent/child\n");
  write("sys/fs/cgroup/parent/child/memory.max", std::to_string(2 * kGiB) + "\n");
  write("sys/fs/cgroup/parent/child/memory.current", std::to_string(100 * kMiB) + "\n");
  write("sys/fs/cgroup/parent/memory.max", std::to_string(kGiB) + "\n");
  write("sys/fs/cgroup/parent/memory.current", std::to_string(600 * kMiB) + "\n");
  EXPECT_EQ(available(), 424 * kMiB);
}

TEST_F(MemoryLimitTest, CgroupV2InactiveFileCacheIsNotCounted) {
  meminfo(16 * kGiB);
  write("proc/self/cgroup", "0::/c\n");
  write("sys/fs/cgroup/c/memory.max", std::to_string(kGiB) + "\n");
  write("sys/fs/cgroup/c/memory.current", std::to_string(900 * kMiB) + "\n");
  write("sys/fs/cgroup/c/memory.stat",
        "anon 1000\nactive_file 0\ninactive_file " + std::to_string(500 * kMiB) + "\n");
  EXPECT_EQ(available(), 624 * kMiB);
}

TEST_F(MemoryLimitTest, CgroupV2UsageAboveLimitLeavesNothing) {
  meminfo(16 * kGiB);
  write("proc/self/cgroup", "0::/c\n");
  write("sys/fs/cgroup/c/memory.max", std::to_string(kGiB) + "\n");
  write("sys/fs/cgroup/c/memory.current", std::to_string(kGiB + 4096) + "\n");
  EXPECT_EQ(available(), 0u);
}

TEST_F(MemoryLimitTest, MemAvailableBelowTheLimitWins) {
  meminfo(200 * kMiB);
  write("proc/self/cgroup", "0::/c\n");
  write("sys/fs/cgroup/c/memory.max", std::to_string(kGiB) + "\n");
  write("sys/fs/cgroup/c/memory.current", "0\n");
  EXPECT_EQ(available(), 200 * kMiB);
}

TEST_F(MemoryLimitTest, CgroupV1MemoryController) {
  meminfo(16 * kGiB);
  write("proc/self/cgroup",
        "9:name=systemd:/\n5:devices:/\n4:cpu,memory:/batch/job7\n1:cpuacct:/\n0::/\n");
  write("sys/fs/cgroup/memory/batch/job7/memory.limit_in_bytes", std::to_string(512 * kMiB) + "\n");
  write("sys/fs/cgroup/memory/batch/job7/memory.usage_in_bytes", std::to_string(12 * kMiB) + "\n");
  write("sys/fs/cgroup/memory/batch/memory.limit_in_bytes", "9223372036854771712\n");
  write("sys/fs/cgroup/memory/batch/memory.usage_in_bytes", std::to_string(3 * kGiB) + "\n");
  EXPECT_EQ(available(), 500 * kMiB);
}

TEST_F(MemoryLimitTest, CgroupV1HugeLimitIsNoLimit) {
  meminfo(16 * kGiB);
  write("proc/self/cgroup", "4:memory:/x\n");
  write("sys/fs/cgroup/memory/x/memory.limit_in_bytes", "9223372036854771712\n");
  write("sys/fs/cgroup/memory/x/memory.usage_in_bytes", std::to_string(kGiB) + "\n");
  EXPECT_EQ(available(), 16 * kGiB);
}

TEST_F(MemoryLimitTest, CgroupPathMissingUnderTheMountFallsBackToAncestors) {
  // A container without its own cgroup namespace sees the host's path, but its own cgroup mounted
  // at the top of /sys/fs/cgroup.
  meminfo(16 * kGiB);
  write("proc/self/cgroup", "0::/docker/0123abcd\n");
  write("sys/fs/cgroup/memory.max", std::to_string(kGiB) + "\n");
  write("sys/fs/cgroup/memory.current", std::to_string(24 * kMiB) + "\n");
  EXPECT_EQ(available(), kGiB - 24 * kMiB);
}

TEST(HostMemory, RealMachineReportsSomething) {
  EXPECT_GT(rnnlyap::host_memory_bytes(), 0u);
}

// --- the series a run keeps, against a faked budget ----------------------------------------------

using rnnlyap::InvalidInput;
using rnnlyap::Schedule;
using rnnlyap::SpectrumOptions;
using rnnlyap::detail::check_run_memory;
using rnnlyap::detail::kept_series;

// N = 10, k = 4, t_ons = 1, 1000 averaged re-orthonormalisations.
SpectrumOptions small_run() {
  SpectrumOptions o;
  o.n = 10;
  o.k = 4;
  o.t_warmup = 0;
  o.t_ons_warmup = 10;
  o.t_sim = 1000;
  rnnlyap::validate(o);
  return o;
}

std::string refusal(const SpectrumOptions& o, bool trace_kept, double available) {
  try {
    check_run_memory(o, rnnlyap::make_schedule(o), 10, 1, trace_kept, available);
  } catch (const InvalidInput& e) {
    return e.what();
  }
  return "";
}

double total(const std::vector<rnnlyap::detail::KeptSeries>& kept) {
  double s = 0;
  for (const auto& k : kept) s += k.bytes;
  return s;
}

TEST(KeptMemory, NothingKeptNothingRefused) {
  const SpectrumOptions o = small_run();
  EXPECT_TRUE(kept_series(o, rnnlyap::make_schedule(o), 10, 1, false).empty());
  EXPECT_EQ(refusal(o, false, 1), "");
}

// 1000 windows of 4 rates: at least the loop's and the results' 32 bytes each (64 000 bytes), at
// most a few times that with the vectors' overhead.
TEST(KeptMemory, FiniteTimeWindowsAreCountedAndNamed) {
  SpectrumOptions o = small_run();
  o.ftle_window = 1;
  const auto kept = kept_series(o, rnnlyap::make_schedule(o), 10, 1, false);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_GE(kept[0].bytes, 1000 * 2 * 32.0);
  EXPECT_LE(kept[0].bytes, 1000 * 8 * 32.0);
  EXPECT_EQ(refusal(o, false, kept[0].bytes), "");
  const std::string msg = refusal(o, false, kept[0].bytes - 1);
  EXPECT_NE(msg.find("--ftle-window 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1000 windows"), std::string::npos) << msg;
  EXPECT_NE(msg.find("this process may use"), std::string::npos) << msg;
  EXPECT_NE(msg.find("longer --ftle-window"), std::string::npos) << msg;
  // 10 times longer windows: 10 times fewer.
  o.ftle_window = 10;
  const auto fewer = kept_series(o, rnnlyap::make_schedule(o), 10, 1, false);
  EXPECT_NEAR(fewer.at(0).bytes, kept[0].bytes / 10, 1e-9 * kept[0].bytes);
  // A batch of 3 members keeps three members' windows.
  o.ftle_window = 1;
  const auto batch = kept_series(o, rnnlyap::make_schedule(o), 10, 3, false);
  EXPECT_GE(batch.at(0).bytes, 3 * 1000 * 2 * 32.0);
  EXPECT_GT(batch.at(0).bytes, 2 * kept[0].bytes);
}

// A trace is counted only when the caller keeps it (Python's trace=True, the CLI's --trace with
// --npz): 1000 rows of the time and 4 estimates, 40 000 bytes at least.
TEST(KeptMemory, AKeptTraceIsCounted) {
  const SpectrumOptions o = small_run();
  const auto kept = kept_series(o, rnnlyap::make_schedule(o), 10, 1, true);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_GE(kept[0].bytes, 1000 * 40.0);
  const std::string msg = refusal(o, true, 1000 * 40.0);
  EXPECT_NE(msg.find("the trace"), std::string::npos) << msg;
  EXPECT_NE(msg.find("trace=False"), std::string::npos) << msg;
  EXPECT_EQ(refusal(o, false, 1000 * 40.0), "") << "a streamed trace is not kept";
}

// Each series fits alone, all together do not: the total is what is compared, and every series is
// named with its remedy.
TEST(KeptMemory, TheTotalIsComparedNotEachPart) {
  SpectrumOptions o = small_run();
  o.ftle_window = 1;
  o.clv_stats = true;
  const Schedule s = rnnlyap::make_schedule(o);
  const auto kept = kept_series(o, s, 10, 1, true);
  ASSERT_EQ(kept.size(), 3u);
  double largest = 0;
  for (const auto& k : kept) largest = std::max(largest, k.bytes);
  const rnnlyap::detail::ClvPlan plan = rnnlyap::detail::make_clv_plan(o, s);
  EXPECT_DOUBLE_EQ(kept[2].bytes, plan.bytes(10, 4)) << "the covariant vectors' own count";
  EXPECT_NO_THROW(rnnlyap::detail::check_clv_memory(plan, 10, 4, largest, false));
  EXPECT_EQ(refusal(o, true, total(kept)), "");
  const std::string msg = refusal(o, true, total(kept) - 1);
  for (const char* needle : {"--ftle-window", "the trace", "covariant vectors", "--clv-window",
                             "in all", "this process may use"})
    EXPECT_NE(msg.find(needle), std::string::npos) << needle << ": " << msg;
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 0) << "one line";
}

}  // namespace
