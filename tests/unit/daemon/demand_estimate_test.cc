// The `demand` policy's estimator (daemon/policy/demand_estimate.h): counters to usage, usage to
// demand, a VM's allocation to its balloon target. Pure functions (links vessel_allocation only).
#include <gtest/gtest.h>

#include "daemon/policy/demand_estimate.h"

namespace vessel::daemon {
namespace {

constexpr uint64_t kBytesPerMiB = uint64_t{1} << 20;
using namespace std::chrono_literals;

UsageCounters at(std::chrono::steady_clock::time_point t, uint64_t cpu_ns, uint64_t memory = 0) {
  UsageCounters c;
  c.at = t;
  c.cpu_ns = cpu_ns;
  c.memory_bytes = memory;
  return c;
}

TEST(DemandEstimate, CountersBecomeRatesOverTheElapsedTime) {
  auto t0 = std::chrono::steady_clock::now();
  auto a = at(t0, 1'000'000'000, 10 * kBytesPerMiB), b = at(t0 + 2s, 2'000'000'000, 20 * kBytesPerMiB);
  a.cpu_wait_us = 100;
  b.cpu_wait_us = 100 + 1'000'000;  // 1 s of waiting in 2 s
  a.memory_stall_us = 0;
  b.memory_stall_us = 200'000;
  auto u = usage_between(a, b);
  ASSERT_TRUE(u);
  EXPECT_DOUBLE_EQ(u->cpus_used, 0.5);
  ASSERT_TRUE(u->cpus_waiting);
  EXPECT_DOUBLE_EQ(*u->cpus_waiting, 0.5);
  ASSERT_TRUE(u->memory_stalled);
  EXPECT_DOUBLE_EQ(*u->memory_stalled, 0.1);
  EXPECT_EQ(u->memory_bytes, 20 * kBytesPerMiB);
}

TEST(DemandEstimate, ARestartedMemberOrNoTimeGivesNoUsage) {
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(usage_between(at(t0, 5), at(t0 + 1s, 4))) << "the CPU counter went backwards: a new cgroup";
  EXPECT_FALSE(usage_between(at(t0, 5), at(t0, 9))) << "no time passed";
  auto a = at(t0, 0), b = at(t0 + 1s, 1);
  a.cpu_wait_us = 50;
  b.cpu_wait_us = 10;  // a thread with its delay ended
  auto u = usage_between(a, b);
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->cpus_waiting) << "no waiting figure this period, rather than a negative one";
}

TEST(DemandEstimate, CpuDemandIsUsedPlusWaitingPlusHeadroom) {
  MemberUsage u;
  u.cpus_used = 0.2;
  u.cpus_waiting = 0.6;  // starved: wants 0.8
  auto d = estimate_demand(u, {0.2, 0});
  EXPECT_DOUBLE_EQ(d.cpus, 0.8 * 1.25);
  u.cpus_used = 0;
  u.cpus_waiting = 0;
  EXPECT_DOUBLE_EQ(estimate_demand(u, {1, 0}).cpus, 0.05) << "an idle member keeps the floor";
}

TEST(DemandEstimate, WithoutAWaitingFigureAMemberAtItsAllocationAsksForTwice) {
  MemberUsage u;
  u.cpus_used = 0.19;
  EXPECT_DOUBLE_EQ(estimate_demand(u, {0.2, 0}).cpus, 0.4) << "0.19 of 0.2: pressed, how much more is unknown";
  EXPECT_DOUBLE_EQ(estimate_demand(u, {1.0, 0}).cpus, 0.19 * 1.25) << "0.19 of 1: not pressed";
}

TEST(DemandEstimate, MemoryDemandIsUsagePlusHeadroomDoubledUnderPressure) {
  MemberUsage u;
  u.memory_bytes = 200 * kBytesPerMiB;
  EXPECT_EQ(estimate_demand(u, {1, 1024 * kBytesPerMiB}).memory_bytes, 250 * kBytesPerMiB) << "25 % headroom";
  EXPECT_EQ(estimate_demand(u, {1, 210 * kBytesPerMiB}).memory_bytes, 300 * kBytesPerMiB) << "at its allocation: twice the headroom";
  u.memory_stalled = 0.0;
  EXPECT_EQ(estimate_demand(u, {1, 210 * kBytesPerMiB}).memory_bytes, 250 * kBytesPerMiB) << "PSI says it does not stall";
  u.memory_stalled = 0.3;
  EXPECT_EQ(estimate_demand(u, {1, 1024 * kBytesPerMiB}).memory_bytes, 300 * kBytesPerMiB) << "PSI says it stalls";
  u = {};
  u.memory_bytes = 8 * kBytesPerMiB;
  EXPECT_EQ(estimate_demand(u, {1, 1024 * kBytesPerMiB}).memory_bytes, 40 * kBytesPerMiB) << "at least 32 MiB of headroom";
}

TEST(DemandEstimate, AVmsMemoryIsWhatItsGuestUsesPlusTheVmm) {
  MemberUsage u;
  u.memory_bytes = 300 * kBytesPerMiB;  // the VMM's resident guest RAM: what the guest once touched
  GuestMemory g;
  g.total = 200 * kBytesPerMiB;
  g.available = 150 * kBytesPerMiB;
  g.overhead = 96 * kBytesPerMiB;
  u.guest = g;
  EXPECT_EQ(estimate_demand(u, {1, 352 * kBytesPerMiB}).memory_bytes, (96 + 50 + 36) * kBytesPerMiB + 512 * 1024)
      << "96 + 50 used + 25 % of 146";
  // deflate_on_oom: the balloon's pages stay in MemTotal and are not available: not the guest's use.
  g.total = 256 * kBytesPerMiB;
  g.available = 106 * kBytesPerMiB;
  g.balloon = 100 * kBytesPerMiB;
  g.balloon_in_total = true;
  u.guest = g;
  EXPECT_EQ(estimate_demand(u, {1, 352 * kBytesPerMiB}).memory_bytes, (96 + 50 + 36) * kBytesPerMiB + 512 * 1024);
  // A guest short of memory (less than 1/8 available) gets twice the headroom.
  g = {};
  g.total = 100 * kBytesPerMiB;
  g.available = 5 * kBytesPerMiB;
  u.guest = g;
  EXPECT_EQ(estimate_demand(u, {1, 352 * kBytesPerMiB}).memory_bytes, 95 * kBytesPerMiB + 64 * kBytesPerMiB);
  // Hostile figures (available above total, a balloon above what is used) do not wrap around.
  g.available = 500 * kBytesPerMiB;
  g.balloon = 1 << 30;
  g.balloon_in_total = true;
  u.guest = g;
  EXPECT_EQ(estimate_demand(u, {1, 352 * kBytesPerMiB}).memory_bytes, 32 * kBytesPerMiB);
}

TEST(DemandEstimate, TheBalloonTakesTheGuestRamTheAllocationDoesNotCover) {
  // 256 MiB guest, 96 MiB of VMM: an allocation of 200 MiB leaves the guest 104.
  EXPECT_EQ(balloon_target_mib(256, 200 * kBytesPerMiB, 96 * kBytesPerMiB, 48), 152u);
  EXPECT_EQ(balloon_target_mib(256, 352 * kBytesPerMiB, 96 * kBytesPerMiB, 48), 0u) << "all of it: no balloon";
  EXPECT_EQ(balloon_target_mib(256, 400 * kBytesPerMiB, 96 * kBytesPerMiB, 48), 0u);
  EXPECT_EQ(balloon_target_mib(256, 100 * kBytesPerMiB, 96 * kBytesPerMiB, 48), 208u) << "never below the floor";
  EXPECT_EQ(balloon_target_mib(256, 0, 96 * kBytesPerMiB, 48), 208u);
  EXPECT_EQ(balloon_target_mib(32, 0, 96 * kBytesPerMiB, 48), 0u) << "a guest smaller than the floor keeps all";
}

}  // namespace
}  // namespace vessel::daemon
