// The timeslice policy's turns (daemon/policy/timeslice.h): pure functions, tested alone (this
// binary links vessel_allocation only).
#include <gtest/gtest.h>

#include "daemon/policy/allocation.h"
#include "daemon/policy/timeslice.h"

namespace vessel::daemon {
namespace {

constexpr uint64_t kMs = 1'000'000;

SliceMember member(const std::string& name, double cpus, double on_cpus = 1) {
  return {name, "/pool/" + name, cpus, on_cpus, 0};
}

// Members with shares 1, 2, 5 in a pool of 1 CPU, as vesseld builds them.
SliceSchedule one_two_five(uint64_t round_ns) {
  PoolShape pool{{1, uint64_t{1} << 30}, PolicyKind::Timeslice, false};
  std::vector<PoolMember> members(3);
  const char* names[] = {"s1", "s2", "s5"};
  double shares[] = {1, 2, 5};
  for (size_t i = 0; i < 3; ++i) {
    members[i].name = names[i];
    members[i].share = shares[i];
  }
  auto allocated = allocate(pool, members);
  EXPECT_TRUE(allocated);
  std::vector<SliceMember> turns;
  for (const auto& a : *allocated) turns.push_back(member(a.name, a.amount.cpus));
  return slice_schedule(turns, round_ns);
}

TEST(TimesliceAllocation, IsProportionalWithoutACpuQuota) {
  PoolShape pool{{1, uint64_t{1} << 30}, PolicyKind::Timeslice, /*hard=*/true};
  std::vector<PoolMember> members(2);
  members[0].name = "a";
  members[1].name = "b";
  members[1].share = 3;
  auto a = allocate(pool, members);
  ASSERT_TRUE(a);
  EXPECT_DOUBLE_EQ((*a)[0].amount.cpus, 0.25);
  EXPECT_DOUBLE_EQ((*a)[1].amount.cpus, 0.75);
  EXPECT_FALSE((*a)[0].plan.cpu_max) << "the turns carry the CPU: a quota would cap the member holding it";
  EXPECT_FALSE((*a)[1].plan.memory_max) << "hard is not for timeslice";
  EXPECT_EQ((*a)[1].plan.cpu_weight, 10000u) << "weights as proportional: the pool's share-out when the turns stop";
  EXPECT_EQ(parse_policy("timeslice"), PolicyKind::Timeslice);
  EXPECT_EQ(to_string(PolicyKind::Timeslice), "timeslice");
}

TEST(SliceSchedule, SlicesAreTheSharesOfTheRound) {
  auto s = one_two_five(100 * kMs);
  ASSERT_EQ(s.members.size(), 3u);
  EXPECT_EQ(s.round_ns, 100 * kMs);
  EXPECT_EQ(s.members[0].slice_ns, 12'500'000u);
  EXPECT_EQ(s.members[1].slice_ns, 25 * kMs);
  EXPECT_EQ(s.members[2].slice_ns, 62'500'000u);
  EXPECT_EQ(s.members[0].name, "s1") << "turns in the members' order";
}

TEST(SliceSchedule, NothingAllocatedGivesEqualTurnsAndEmptySlicesTakeNone) {
  auto equal = slice_schedule({member("a", 0), member("b", 0)}, 10 * kMs);
  ASSERT_EQ(equal.members.size(), 2u);
  EXPECT_EQ(equal.members[0].slice_ns, 5 * kMs);
  EXPECT_EQ(equal.members[1].slice_ns, 5 * kMs);
  auto tiny = slice_schedule({member("big", 1), member("tiny", 1e-12)}, 1000);
  ASSERT_EQ(tiny.members.size(), 1u) << "a slice that rounds to 0 is no turn";
  EXPECT_EQ(tiny.members[0].name, "big");
  EXPECT_TRUE(slice_schedule({}, 100 * kMs).members.empty());
}

TEST(TurnWrites, TheScheduleStartsWithEveryoneWrittenAndTheHolderLast) {
  auto s = one_two_five(100 * kMs);
  auto w = turn_writes(s, std::nullopt, 0);
  std::vector<LimitWrite> want{{"/pool/s2", kOffTurnLimit},
                               {"/pool/s5", kOffTurnLimit},
                               {"/pool/s1", {1000000, 1000000}}};
  EXPECT_EQ(w, want);
}

TEST(TurnWrites, TheOutgoingMemberIsLoweredBeforeTheIncomingIsRaised) {
  auto s = slice_schedule({member("a", 0.5, 2), member("b", 0.5, 0.5)}, 100 * kMs);
  auto w = turn_writes(s, 0, 1);
  std::vector<LimitWrite> want{{"/pool/a", kOffTurnLimit}, {"/pool/b", {500000, 1000000}}};
  EXPECT_EQ(w, want);
  EXPECT_EQ(turn_writes(s, 1, 0).back(), (LimitWrite{"/pool/a", {2000000, 1000000}})) << "its own limit, 2 CPUs";
  EXPECT_EQ(turn_writes(s, 0, 0).size(), 1u) << "the same holder: only raised again";
  EXPECT_TRUE(turn_writes(s, 0, 7).empty()) << "no such member";
}

TEST(RestoreWrites, MembersThatLeaveTheRotationGetTheirOwnLimitBack) {
  auto before = slice_schedule({member("a", 1), member("b", 1), member("c", 1, 0.5)}, 30 * kMs);
  auto after = slice_schedule({member("a", 1), member("b", 1)}, 30 * kMs);
  std::vector<LimitWrite> dropped{{"/pool/c", {50000, 100000}}};
  EXPECT_EQ(restore_writes(before, &after), dropped);
  EXPECT_EQ(restore_writes(before, nullptr).size(), 3u) << "the end of the rotation: everyone";
  EXPECT_TRUE(restore_writes(SliceSchedule{}, &after).empty());
}

TEST(CpuLimitFiles, V2IsOneWriteV1KeepsTheRatioBelowTheParentsThroughout) {
  LimitWrite off{"/p/a", kOffTurnLimit}, on{"/p/a", on_turn_limit(1)}, own{"/p/a", own_cpu_limit(1)};
  using Files = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(cpu_limit_files(off, 2), (Files{{"cpu.max", "1000 1000000"}}));
  EXPECT_EQ(cpu_limit_files(on, 2), (Files{{"cpu.max", "1000000 1000000"}}));
  // A turn's write: the 1 s period first. From the plan's 100000/100000: 100000/1000000, then
  // 1000/1000000 or 1000000/1000000, never above 1 CPU.
  EXPECT_EQ(cpu_limit_files(off, 1), (Files{{"cpu.cfs_period_us", "1000000"}, {"cpu.cfs_quota_us", "1000"}}));
  EXPECT_EQ(cpu_limit_files(on, 1), (Files{{"cpu.cfs_period_us", "1000000"}, {"cpu.cfs_quota_us", "1000000"}}));
  // The turns end: the quota first. From 1000000/1000000: 100000/1000000, then 100000/100000
  // (the period first would be 1000000/100000, 10 CPUs, refused under a pool of 1).
  EXPECT_EQ(cpu_limit_files(own, 1), (Files{{"cpu.cfs_quota_us", "100000"}, {"cpu.cfs_period_us", "100000"}}));
}

TEST(CpuLimit, OnAndOffTurnShareOnePeriodOwnLimitsUseThePlansPeriod) {
  EXPECT_EQ(on_turn_limit(1), (CpuLimit{1000000, 1000000}));
  EXPECT_EQ(on_turn_limit(0.25), (CpuLimit{250000, 1000000}));
  EXPECT_EQ(on_turn_limit(0), (CpuLimit{1000, 1000000})) << "the kernel's least quota";
  EXPECT_EQ(on_turn_limit(3).period_us, kOffTurnLimit.period_us) << "a turn never changes the period (timeslice.h)";
  EXPECT_EQ(own_cpu_limit(0.5), (CpuLimit{50000, 100000}));
}

}  // namespace
}  // namespace vessel::daemon
