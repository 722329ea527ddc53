// host_memory_bytes() honours the cgroup limits the process runs under (v2 and v1), not only the
// machine's MemAvailable: each test builds a fake /proc and /sys tree and reads it through
// detail::available_memory_bytes(root).
#include <gtest/gtest.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/memory_limit.hpp"
#include "rnnlyap/info.hpp"
#include "scratch_dir.hpp"

namespace {

using rnnlyap::detail::available_memory_bytes;

constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr std::size_t kGiB = std::size_t{1} << 30;

class MemoryLimitTest : public rnnlyap::test::ScratchDirTest {
 protected:
  MemoryLimitTest() : ScratchDirTest("rnnlyap_memlimit") {}

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

}  // namespace
