// The CPU executor's thread team (src/cpu/thread_team.hpp): how work is shared, and the team's
// own synchronisation — every part runs once per run(), the caller takes part 0, run() returns
// only after every part is done (what each part wrote is visible), exceptions reach the caller,
// and a team that has slept wakes. This file uses no BLAS, so that it also builds alone under
// ThreadSanitizer (scripts/test_emulated.sh), which checks the waits and hand-overs themselves.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "cpu/thread_team.hpp"

namespace rnnlyap {
namespace {

using cpu::share;
using cpu::ThreadTeam;
using cpu::triangle_share;

// Parts in order, each starting where the last ended, from 0 to n, inner bounds multiples of align.
template <class Share>
void expect_partition(Share f, int n, int parts, int align) {
  int at = 0;
  for (int p = 0; p < parts; ++p) {
    const auto [b, e] = f(n, parts, p, align);
    EXPECT_EQ(b, at) << "n " << n << " parts " << parts << " p " << p;
    EXPECT_LE(b, e) << "n " << n << " parts " << parts << " p " << p;
    if (e != n) {
      EXPECT_EQ(e % align, 0) << "n " << n << " parts " << parts << " p " << p;
    }
    at = e;
  }
  EXPECT_EQ(at, n) << "n " << n << " parts " << parts;
}

TEST(ThreadTeam, SharesCoverTheRangeOnceInAlignedParts) {
  for (const int n : {0, 1, 7, 8, 9, 100, 401, 1000})
    for (const int parts : {1, 2, 3, 5, 16})
      for (const int align : {1, 8}) {
        expect_partition(share, n, parts, align);
        expect_partition(triangle_share, n, parts, align);
      }
  // Nearly equal: within one alignment step of n/parts.
  for (int p = 0; p < 3; ++p) {
    const auto [b, e] = share(1000, 3, p, 8);
    EXPECT_NEAR(e - b, 1000.0 / 3, 8.0) << p;
  }
}

// A triangle's columns [c0, c1) hold (c1² − c0²)/2 of its entries: equal parts, within the
// columns an alignment step adds.
TEST(ThreadTeam, TriangleSharesHoldEqualPartsOfTheTriangle) {
  const int n = 800, parts = 3, align = 8;
  for (int p = 0; p < parts; ++p) {
    const auto [c0, c1] = triangle_share(n, parts, p, align);
    const double area = (static_cast<double>(c1) * c1 - static_cast<double>(c0) * c0) / 2;
    EXPECT_NEAR(area, static_cast<double>(n) * n / 2 / parts, static_cast<double>(align) * n)
        << "part " << p << ": columns [" << c0 << ", " << c1 << ")";
  }
  // The later parts are narrower: the triangle's columns grow.
  EXPECT_GT(triangle_share(n, parts, 0, align).second,
            n - triangle_share(n, parts, parts - 1, align).first);
}

TEST(ThreadTeam, EveryPartRunsOnceAndTheCallerTakesPartZero) {
  for (const int size : {1, 2, 3, 4}) {
    ThreadTeam team(size);
    ASSERT_EQ(team.size(), size);
    const std::thread::id caller = std::this_thread::get_id();
    // Plain (not atomic) counters, one per part: only that part writes it, and run() returning
    // must make the writes visible here (ThreadSanitizer checks the hand-over).
    std::vector<long> calls(static_cast<std::size_t>(size), 0);
    std::vector<std::thread::id> ids(static_cast<std::size_t>(size));
    const int runs = 3000;
    for (int r = 0; r < runs; ++r) {
      team.run([&](int p) {
        ++calls[static_cast<std::size_t>(p)];
        ids[static_cast<std::size_t>(p)] = std::this_thread::get_id();
      });
      ASSERT_EQ(calls[0], r + 1);
    }
    for (int p = 0; p < size; ++p) {
      EXPECT_EQ(calls[static_cast<std::size_t>(p)], runs) << "size " << size << " part " << p;
      EXPECT_EQ(ids[static_cast<std::size_t>(p)] == caller, p == 0)
          << "size " << size << " part " << p;
    }
  }
}

// What one run's parts wrote is what the next run's parts read, whichever thread reads it.
TEST(ThreadTeam, ARunSeesEverythingTheLastOneWrote) {
  ThreadTeam team(3);
  const int n = 999;
  std::vector<long> a(n, 0), b(n, 0);
  for (int r = 0; r < 500; ++r) {
    // a ← b + 1 by one sharing of the range, then b ← a by another (the parts cross).
    team.run([&](int p) {
      const auto [i0, i1] = share(n, 3, p);
      for (int i = i0; i < i1; ++i) a[i] = b[i] + 1;
    });
    team.run([&](int p) {
      const auto [i0, i1] = share(n, 3, 2 - p);
      for (int i = i0; i < i1; ++i) b[i] = a[i];
    });
  }
  for (int i = 0; i < n; ++i) ASSERT_EQ(b[i], 500) << i;
}

TEST(ThreadTeam, AnExceptionReachesTheCallerAndTheTeamGoesOn) {
  ThreadTeam team(3);
  for (const int thrower : {0, 1, 2}) {
    std::atomic<int> ran{0};
    EXPECT_THROW(team.run([&](int p) {
      ++ran;
      if (p == thrower) throw std::runtime_error("part failed");
    }),
                 std::runtime_error)
        << "thrown by part " << thrower;
    EXPECT_EQ(ran.load(), 3) << "every part ran to its end before run() returned";
  }
  std::atomic<int> ran{0};
  team.run([&](int) { ++ran; });
  EXPECT_EQ(ran.load(), 3);
}

// A part that calls run() on its own team would clobber the run in progress: refused.
TEST(ThreadTeam, ARunWithinARunIsRefused) {
  ThreadTeam team(2);
  EXPECT_THROW(team.run([&](int p) {
    if (p == 1) team.run([](int) {});
  }),
               std::logic_error);
  std::atomic<int> ran{0};
  team.run([&](int) { ++ran; });
  EXPECT_EQ(ran.load(), 2) << "the team goes on";
}

// Workers that have gone to sleep (no run for far longer than they spin) wake for the next run.
TEST(ThreadTeam, WakesAfterSleeping) {
  ThreadTeam team(2);
  std::atomic<int> ran{0};
  for (int r = 0; r < 3; ++r) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    team.run([&](int) { ++ran; });
  }
  EXPECT_EQ(ran.load(), 6);
}

}  // namespace
}  // namespace rnnlyap
