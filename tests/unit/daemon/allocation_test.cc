// The pools' allocation policies (daemon/policy/allocation.h) and the cgroup files that carry
// them (cgroup_values.h): pure functions, tested alone (this binary links vessel_allocation only).
#include <gtest/gtest.h>

#include <numeric>

#include "daemon/policy/allocation.h"
#include "daemon/policy/cgroup_values.h"

namespace vessel::daemon {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kMiB = uint64_t{1} << 20;

PoolShape pool(PolicyKind p, double cpus = 1, uint64_t bytes = kGiB, bool hard = false) { return {{cpus, bytes}, p, hard}; }

PoolMember share(const std::string& name, double p) {
  PoolMember m;
  m.name = name;
  m.share = p;
  return m;
}

PoolMember quota(const std::string& name, double cpus, uint64_t bytes) {
  PoolMember m;
  m.name = name;
  m.quota = {cpus, bytes};
  return m;
}

PoolMember ranked(const std::string& name, int priority, std::optional<Resources> demand, Resources min = {}) {
  PoolMember m;
  m.name = name;
  m.priority = priority;
  m.demand = demand;
  m.min = min;
  return m;
}

std::vector<Allocation> must(Result<std::vector<Allocation>> r) {
  EXPECT_TRUE(r) << r.error().to_string();
  return r ? *r : std::vector<Allocation>{};
}

double total_cpus(const std::vector<Allocation>& a) {
  return std::accumulate(a.begin(), a.end(), 0.0, [](double s, const Allocation& x) { return s + x.amount.cpus; });
}

TEST(Policy, NamesRoundTrip) {
  for (auto p : {PolicyKind::Fixed, PolicyKind::Proportional, PolicyKind::Priority, PolicyKind::Demand, PolicyKind::Timeslice}) {
    EXPECT_EQ(parse_policy(to_string(p)), p);
    EXPECT_NE(kPolicyNames.find(to_string(p)), std::string_view::npos) << "the error messages name it";
  }
  EXPECT_FALSE(parse_policy("lottery"));
  EXPECT_FALSE(parse_policy("Fixed"));
}

TEST(WaterFill, ProportionalWhenNoOneIsCapped) {
  auto g = water_fill(8, {1, 2, 5}, {100, 100, 100});
  EXPECT_DOUBLE_EQ(g[0], 1);
  EXPECT_DOUBLE_EQ(g[1], 2);
  EXPECT_DOUBLE_EQ(g[2], 5);
}

TEST(WaterFill, WhatACappedOneCannotTakeGoesToTheOthers) {
  auto g = water_fill(8, {1, 1, 2}, {1, 100, 100});  // 2/2/4, but the first takes only 1
  EXPECT_DOUBLE_EQ(g[0], 1);
  EXPECT_NEAR(g[1], 7.0 / 3, 1e-9);
  EXPECT_NEAR(g[2], 14.0 / 3, 1e-9);
  auto all = water_fill(10, {1, 1}, {2, 3});  // not enough wanted: each gets its cap, the rest stays
  EXPECT_DOUBLE_EQ(all[0], 2);
  EXPECT_DOUBLE_EQ(all[1], 3);
  auto cascade = water_fill(9, {1, 1, 1}, {1, 2, 100});  // capping one caps the next
  EXPECT_NEAR(cascade[0], 1, 1e-9);
  EXPECT_NEAR(cascade[1], 2, 1e-9);
  EXPECT_NEAR(cascade[2], 6, 1e-9);
  EXPECT_TRUE(water_fill(5, {}, {}).empty());
  auto zero = water_fill(5, {1, 1}, {0, 0});
  EXPECT_EQ(zero[0] + zero[1], 0);
}

TEST(Proportional, TheIssuesSharesOneTwoFiveOfOneCpu) {
  auto a = must(allocate(pool(PolicyKind::Proportional), {share("a", 1), share("b", 2), share("c", 5)}));
  ASSERT_EQ(a.size(), 3u);
  EXPECT_DOUBLE_EQ(a[0].amount.cpus, 0.125);
  EXPECT_DOUBLE_EQ(a[1].amount.cpus, 0.25);
  EXPECT_DOUBLE_EQ(a[2].amount.cpus, 0.625);
  EXPECT_EQ(a[0].amount.memory_bytes, kGiB / 8);
  EXPECT_EQ(a[1].amount.memory_bytes, kGiB / 4);
  EXPECT_EQ(a[2].amount.memory_bytes, kGiB / 8 * 5);
  // Soft: weights in the ratio of the shares, memory protected, no quotas.
  EXPECT_EQ(a[0].plan.cpu_weight, 2000u);
  EXPECT_EQ(a[1].plan.cpu_weight, 4000u);
  EXPECT_EQ(a[2].plan.cpu_weight, 10000u);
  EXPECT_FALSE(a[2].plan.cpu_max);
  EXPECT_FALSE(a[2].plan.memory_max);
  EXPECT_EQ(a[2].plan.memory_low, kGiB / 8 * 5);
}

TEST(Proportional, HardMakesTheAllocationsQuotas) {
  auto a = must(allocate(pool(PolicyKind::Proportional, 2, kGiB, true), {share("a", 1), share("b", 3)}));
  EXPECT_DOUBLE_EQ(a[0].amount.cpus, 0.5);
  EXPECT_DOUBLE_EQ(a[1].amount.cpus, 1.5);
  EXPECT_EQ(a[0].plan.cpu_max, 0.5);
  EXPECT_EQ(a[1].plan.cpu_max, 1.5);
  EXPECT_EQ(a[0].plan.memory_max, kGiB / 4);
  EXPECT_EQ(a[1].plan.memory_max, kGiB / 4 * 3);
}

TEST(Proportional, AMembersMaxCapsItAndTheRestIsSharedAgain) {
  auto capped = share("a", 1);
  capped.max = Resources{0.1, 64 * kMiB};
  auto a = must(allocate(pool(PolicyKind::Proportional), {capped, share("b", 1), share("c", 2)}));
  EXPECT_NEAR(a[0].amount.cpus, 0.1, 1e-12);
  EXPECT_NEAR(a[1].amount.cpus, 0.3, 1e-12);
  EXPECT_NEAR(a[2].amount.cpus, 0.6, 1e-12);
  EXPECT_EQ(a[0].amount.memory_bytes, 64 * kMiB);
  EXPECT_EQ(a[0].plan.memory_max, 64 * kMiB) << "its own limit stays";
  EXPECT_NEAR(total_cpus(a), 1.0, 1e-12);
}

TEST(Proportional, OneMemberGetsTheWholePoolAndNoMembersIsNoAllocation) {
  auto a = must(allocate(pool(PolicyKind::Proportional, 3, 3 * kGiB), {share("only", 7)}));
  EXPECT_DOUBLE_EQ(a[0].amount.cpus, 3);
  EXPECT_EQ(a[0].amount.memory_bytes, 3 * kGiB);
  EXPECT_TRUE(must(allocate(pool(PolicyKind::Proportional), {})).empty());
}

TEST(Proportional, NeverGivesMoreThanThePool) {
  std::vector<PoolMember> many;
  for (int i = 1; i <= 7; ++i) many.push_back(share("m" + std::to_string(i), i * 1.3));
  auto a = must(allocate(pool(PolicyKind::Proportional, 1.5, 1000003), many));
  uint64_t bytes = 0;
  for (const auto& x : a) bytes += x.amount.memory_bytes;
  EXPECT_LE(bytes, 1000003u);
  EXPECT_GE(bytes, 1000003u - 7) << "only rounding is lost";
  EXPECT_NEAR(total_cpus(a), 1.5, 1e-9);
}

TEST(Fixed, QuotasAsGiven) {
  auto a = must(allocate(pool(PolicyKind::Fixed, 2, kGiB), {quota("a", 0.5, 256 * kMiB), quota("b", 1.5, 512 * kMiB)}));
  EXPECT_EQ(a[0].amount, (Resources{0.5, 256 * kMiB}));
  EXPECT_EQ(a[1].amount, (Resources{1.5, 512 * kMiB}));
  EXPECT_EQ(a[0].plan.cpu_max, 0.5);
  EXPECT_EQ(a[0].plan.memory_max, 256 * kMiB);
  EXPECT_EQ(a[0].plan.memory_min, 256 * kMiB) << "a fixed quota is guaranteed";
  EXPECT_EQ(a[1].plan.cpu_weight, 10000u);
  EXPECT_EQ(a[0].plan.cpu_weight, 3333u);
}

TEST(Fixed, AFullPoolRefusesWithTheNumbers) {
  auto over = allocate(pool(PolicyKind::Fixed, 1, kGiB), {quota("a", 0.75, kMiB), quota("b", 0.5, kMiB)});
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().errnum(), EAGAIN);
  EXPECT_NE(over.error().message().find("quotas 1.250 CPUs > 1.000 CPUs"), std::string::npos) << over.error().message();

  PoolShape p = pool(PolicyKind::Fixed, 1, kGiB);
  std::vector<PoolMember> members{quota("a", 0.75, 512 * kMiB)};
  EXPECT_TRUE(admit_member(p, members, quota("b", 0.25, 512 * kMiB)));
  auto cpu = admit_member(p, members, quota("b", 0.5, kMiB));
  ASSERT_FALSE(cpu);
  EXPECT_EQ(cpu.error().errnum(), EAGAIN);
  EXPECT_NE(cpu.error().message().find("0.750 CPUs given + 0.500 wanted > 1.000 CPUs in the pool"), std::string::npos)
      << cpu.error().message();
  auto mem = admit_member(p, members, quota("b", 0.1, 513 * kMiB));
  ASSERT_FALSE(mem);
  EXPECT_NE(mem.error().message().find("512 MiB given + 513 MiB wanted > 1024 MiB"), std::string::npos) << mem.error().message();
  EXPECT_FALSE(admit_member(p, members, quota("a", 0.1, kMiB))) << "a name already in the pool";
}

TEST(Fixed, AMemberNeedsAQuota) {
  auto r = allocate(pool(PolicyKind::Fixed), {share("a", 1)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EINVAL);
}

TEST(Priority, HigherGetsItsDemandFirstLowerWhatIsLeft) {
  auto a = must(allocate(pool(PolicyKind::Priority, 2, kGiB),
                         {ranked("low", 1, Resources{1.5, 512 * kMiB}), ranked("high", 10, Resources{1.5, 768 * kMiB})}));
  EXPECT_DOUBLE_EQ(a[1].amount.cpus, 1.5);
  EXPECT_EQ(a[1].amount.memory_bytes, 768 * kMiB);
  EXPECT_DOUBLE_EQ(a[0].amount.cpus, 0.5);
  EXPECT_EQ(a[0].amount.memory_bytes, 256 * kMiB);
  EXPECT_EQ(a[1].plan.cpu_weight, 10000u);
  EXPECT_EQ(a[0].plan.cpu_weight, 3333u);
}

TEST(Priority, AGreedyHighOneSqueezesTheLowOnesToTheirMins) {
  // No demand = everything: the high one takes the pool but the lows' mins.
  auto a = must(allocate(pool(PolicyKind::Priority, 1, kGiB),
                         {ranked("high", 5, std::nullopt), ranked("low1", 0, std::nullopt, {0.05, 0}),
                          ranked("low2", 0, std::nullopt)}));
  EXPECT_NEAR(a[0].amount.cpus, 0.95, 1e-12);
  EXPECT_NEAR(a[1].amount.cpus, 0.05, 1e-12);
  EXPECT_NEAR(a[2].amount.cpus, 0, 1e-12);
  EXPECT_EQ(a[0].plan.cpu_weight, 10000u);
  EXPECT_EQ(a[2].plan.cpu_weight, 1u) << "squeezed to the lowest weight";
}

TEST(Priority, OneLevelSplitsAShortageByShares) {
  auto x = ranked("x", 1, Resources{1, kGiB});
  auto y = ranked("y", 1, Resources{1, kGiB});
  y.share = 3;
  auto a = must(allocate(pool(PolicyKind::Priority, 1, kGiB), {ranked("top", 2, Resources{0.2, 0}), x, y}));
  EXPECT_NEAR(a[0].amount.cpus, 0.2, 1e-12);
  EXPECT_NEAR(a[1].amount.cpus, 0.2, 1e-12);
  EXPECT_NEAR(a[2].amount.cpus, 0.6, 1e-12);
  EXPECT_EQ(a[1].amount.memory_bytes, kGiB / 4);
}

TEST(Priority, MinsMustFitAndAreGuaranteed) {
  auto r = allocate(pool(PolicyKind::Priority, 1, kGiB),
                    {ranked("a", 1, std::nullopt, {0.6, 0}), ranked("b", 0, std::nullopt, {0.6, 0})});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EAGAIN);
  EXPECT_NE(r.error().message().find("minimums 1.200 CPUs > 1.000 CPUs"), std::string::npos) << r.error().message();
  auto a = must(allocate(pool(PolicyKind::Priority, 1, kGiB),
                         {ranked("a", 9, std::nullopt), ranked("b", 0, Resources{0.1, 0}, {0.3, 128 * kMiB})}));
  EXPECT_NEAR(a[1].amount.cpus, 0.3, 1e-12) << "the min, although it demands less";
  EXPECT_EQ(a[1].plan.memory_min, 128 * kMiB);
  EXPECT_NEAR(a[0].amount.cpus, 0.7, 1e-12);
}

TEST(Demand, MovesTowardTheDemandByTheGain) {
  PoolMember m = ranked("a", 0, Resources{1.0, 512 * kMiB});
  m.current = Resources{0.2, 128 * kMiB};
  auto half = must(allocate(pool(PolicyKind::Demand, 2, kGiB), {m}, {0.5}));
  EXPECT_NEAR(half[0].amount.cpus, 0.6, 1e-12);
  EXPECT_EQ(half[0].amount.memory_bytes, 320 * kMiB);
  EXPECT_EQ(half[0].plan.memory_high, 320 * kMiB) << "reclaimed above its allocation";
  auto jump = must(allocate(pool(PolicyKind::Demand, 2, kGiB), {m}, {1.0}));
  EXPECT_NEAR(jump[0].amount.cpus, 1.0, 1e-12);
  // Repeated steps converge on the demand.
  for (int i = 0; i < 40; ++i) {
    m.current = must(allocate(pool(PolicyKind::Demand, 2, kGiB), {m}, {0.5}))[0].amount;
  }
  EXPECT_NEAR(m.current->cpus, 1.0, 1e-6);
  // Down as well: demand fell.
  m.demand = Resources{0.1, 64 * kMiB};
  auto down = must(allocate(pool(PolicyKind::Demand, 2, kGiB), {m}, {0.5}));
  EXPECT_NEAR(down[0].amount.cpus, 0.55, 1e-6);
}

TEST(Demand, StaysWithinMinAndMax) {
  PoolMember m = ranked("a", 0, Resources{1.8, 2 * kGiB}, {0.25, 64 * kMiB});
  m.max = Resources{1.0, 512 * kMiB};
  m.current = Resources{0.9, 500 * kMiB};
  auto up = must(allocate(pool(PolicyKind::Demand, 2, kGiB), {m}, {1.0}));
  EXPECT_NEAR(up[0].amount.cpus, 1.0, 1e-12);
  EXPECT_EQ(up[0].amount.memory_bytes, 512 * kMiB);
  EXPECT_EQ(up[0].plan.memory_max, 512 * kMiB);
  m.demand = Resources{0, 0};
  auto down = must(allocate(pool(PolicyKind::Demand, 2, kGiB), {m}, {1.0}));
  EXPECT_NEAR(down[0].amount.cpus, 0.25, 1e-12);
  EXPECT_EQ(down[0].amount.memory_bytes, 64 * kMiB);
  EXPECT_EQ(down[0].plan.memory_min, 64 * kMiB);
}

TEST(Demand, AShortPoolScalesWhatIsAboveTheMinsByShares) {
  PoolMember a = ranked("a", 0, Resources{1, 0}, {0.2, 0});
  PoolMember b = ranked("b", 0, Resources{1, 0}, {0.2, 0});
  b.share = 3;
  auto r = must(allocate(pool(PolicyKind::Demand, 1, kGiB), {a, b}, {1.0}));
  EXPECT_NEAR(r[0].amount.cpus, 0.2 + 0.6 * 0.25, 1e-12);
  EXPECT_NEAR(r[1].amount.cpus, 0.2 + 0.6 * 0.75, 1e-12);
  EXPECT_NEAR(total_cpus(r), 1.0, 1e-12);
}

TEST(Demand, HardMakesTheAllocationAQuota) {
  PoolMember m = ranked("a", 0, Resources{0.5, 256 * kMiB});
  auto r = must(allocate(pool(PolicyKind::Demand, 1, kGiB, true), {m}, {1.0}));
  EXPECT_EQ(r[0].plan.cpu_max, 0.5);
  EXPECT_EQ(r[0].plan.memory_max, 256 * kMiB);
  EXPECT_FALSE(r[0].plan.memory_high);
}

TEST(Validation, BadPoolsMembersAndGainsAreRefusedWithTheFieldNamed) {
  struct Case {
    PoolShape pool;
    std::vector<PoolMember> members;
    DemandTuning tuning;
    std::string mentions;
  };
  auto neg = share("n", 1);
  neg.min = {-1, 0};
  auto inverted = share("i", 1);
  inverted.min = {0.5, 0};
  inverted.max = Resources{0.2, kGiB};
  std::vector<Case> cases = {
      {pool(PolicyKind::Proportional, 0), {}, {}, "pool.cpus"},
      {pool(PolicyKind::Proportional, -1), {}, {}, "pool.cpus"},
      {pool(PolicyKind::Proportional, 1, 0), {}, {}, "pool.memory"},
      {pool(PolicyKind::Proportional), {share("a", 0)}, {}, "share 0"},
      {pool(PolicyKind::Proportional), {share("a", -2)}, {}, "share -2"},
      {pool(PolicyKind::Proportional), {share("a", 1), share("a", 2)}, {}, "named twice"},
      {pool(PolicyKind::Proportional), {share("", 1)}, {}, "no name"},
      {pool(PolicyKind::Proportional), {neg}, {}, "negative"},
      {pool(PolicyKind::Proportional), {inverted}, {}, "above max"},
      {pool(PolicyKind::Demand), {share("a", 1)}, {0}, "gain"},
      {pool(PolicyKind::Demand), {share("a", 1)}, {1.5}, "gain"},
  };
  for (const auto& c : cases) {
    auto r = allocate(c.pool, c.members, c.tuning);
    ASSERT_FALSE(r) << c.mentions;
    EXPECT_EQ(r.error().errnum(), EINVAL) << c.mentions;
    EXPECT_NE(r.error().message().find(c.mentions), std::string::npos) << r.error().message();
  }
}

TEST(TimeSlices, InProportionToTheAllocations) {
  auto a = must(allocate(pool(PolicyKind::Proportional), {share("a", 1), share("b", 2), share("c", 5)}));
  auto t = time_slices(a, 80'000'000);
  EXPECT_EQ(t, (std::vector<uint64_t>{10'000'000, 20'000'000, 50'000'000}));
  std::vector<Allocation> idle{{"x", {}, {}}, {"y", {}, {}}};
  EXPECT_EQ(time_slices(idle, 100), (std::vector<uint64_t>{50, 50})) << "nothing allocated: equal turns";
}

TEST(CgroupValues, V2WritesWeightQuotaAndTheFourMemoryFiles) {
  CgroupPlan p{2000, 0.125, 1 * kMiB, 2 * kMiB, 3 * kMiB, 4 * kMiB};
  auto v = cgroup_values(p, 2);
  std::vector<std::pair<std::string, std::string>> want{{"cpu.weight", "2000"},         {"cpu.max", "12500 100000"},
                                                        {"memory.min", "1048576"},      {"memory.low", "2097152"},
                                                        {"memory.high", "3145728"},     {"memory.max", "4194304"}};
  EXPECT_EQ(v, want);
  auto open = cgroup_values(CgroupPlan{}, 2);
  EXPECT_EQ(open[1].second, "max 100000");
  EXPECT_EQ(open[4].second, "max");
  EXPECT_EQ(open[5].second, "max");
}

TEST(CgroupValues, V1WritesSharesCfsQuotaAndLimits) {
  CgroupPlan p{2000, 0.625, 0, 2 * kMiB, 3 * kMiB, 4 * kMiB};
  auto v = cgroup_values(p, 1);
  std::vector<std::pair<std::string, std::string>> want{{"cpu.shares", "20480"},
                                                        {"cpu.cfs_period_us", "100000"},
                                                        {"cpu.cfs_quota_us", "62500"},
                                                        {"memory.soft_limit_in_bytes", "2097152"},
                                                        {"memory.limit_in_bytes", "4194304"}};
  EXPECT_EQ(v, want);
  auto open = cgroup_values(CgroupPlan{1, std::nullopt, 0, 0, std::nullopt, std::nullopt}, 1);
  EXPECT_EQ(open[0].second, "10");
  EXPECT_EQ(open[2].second, "-1");
  EXPECT_EQ(open[3].second, "-1");
  EXPECT_EQ(open[4].second, "-1");
}

TEST(CgroupValues, UnsetQuotasCanLeaveTheMembersOwn) {
  CgroupPlan soft{4000, std::nullopt, 0, kMiB, std::nullopt, std::nullopt};
  auto v2 = cgroup_values(soft, 2, true);
  std::vector<std::pair<std::string, std::string>> want2{
      {"cpu.weight", "4000"}, {"memory.min", "0"}, {"memory.low", "1048576"}, {"memory.high", "max"}};
  EXPECT_EQ(v2, want2);
  auto v1 = cgroup_values(soft, 1, true);
  std::vector<std::pair<std::string, std::string>> want1{{"cpu.shares", "40960"}, {"memory.soft_limit_in_bytes", "1048576"}};
  EXPECT_EQ(v1, want1);
  CgroupPlan hard{4000, 0.5, 0, 0, std::nullopt, kMiB};
  EXPECT_EQ(cgroup_values(hard, 1, true).size(), 5u) << "set quotas are written";
}

TEST(CgroupValues, TinyQuotasAreRaisedToTheKernelsFloor) {
  EXPECT_EQ(cpu_quota_us(0), kMinCpuQuotaUs);
  EXPECT_EQ(cpu_quota_us(0.001), kMinCpuQuotaUs);
  EXPECT_EQ(cpu_quota_us(1.5), 150000u);
}

}  // namespace
}  // namespace vessel::daemon
