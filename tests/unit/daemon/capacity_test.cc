#include <gtest/gtest.h>

#include "daemon/policy/capacity.h"
#include "daemon/policy/cgroups.h"

namespace vessel::daemon {
namespace {

TEST(Admission, DefaultsOvercommitCpuFourTimesAndMemoryNot) {
  Capacity host{2, 1024};
  Overcommit ratio;
  std::vector<Reservation> existing{{4, 512}, {3, 256}};
  EXPECT_TRUE(admit(host, ratio, existing, {1, 256}));  // 8 CPUs of 8, 1024 MiB of 1024
  auto cpu = admit(host, ratio, existing, {1.5, 0});
  ASSERT_FALSE(cpu);
  EXPECT_EQ(cpu.error().errnum(), EAGAIN);
  EXPECT_NE(cpu.error().message().find("7.00 reserved + 1.50 wanted > 8.00 allowed"), std::string::npos) << cpu.error().message();
  auto mem = admit(host, ratio, existing, {0, 257});
  ASSERT_FALSE(mem);
  EXPECT_NE(mem.error().message().find("768 MiB reserved + 257 MiB wanted > 1024 MiB allowed"), std::string::npos) << mem.error().message();
  EXPECT_FALSE(mem.error().hint().empty());
}

TEST(Admission, ConfigurableRatios) {
  Capacity host{2, 1024};
  EXPECT_FALSE(admit(host, {1.0, 1.0}, {}, {3, 0}));
  EXPECT_TRUE(admit(host, {1.0, 2.0}, {}, {2, 2048}));
}

TEST(Admission, DiscoversThisHost) {
  auto c = discover_capacity();
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_GE(c->cpus, 1);
  EXPECT_GT(c->memory_mib, 64u);
}

TEST(Cgroups, WeightMapsToShares) {
  EXPECT_EQ(weight_to_shares(100), 1024u);
  EXPECT_EQ(weight_to_shares(1), 10u);
  EXPECT_EQ(weight_to_shares(10000), 102400u);
  EXPECT_EQ(cgroup_path("vessel", "web"), "/vessel/web");
}

TEST(Cgroups, OomKillCountOfV2EventsAndV1OomControl) {
  EXPECT_EQ(parse_oom_kill_count("low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n"), 2u);
  EXPECT_EQ(parse_oom_kill_count("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"), 1u);
  EXPECT_EQ(parse_oom_kill_count("oom_kill_disable 0\nunder_oom 0\n"), std::nullopt) << "a kernel before 4.13";
  EXPECT_EQ(parse_oom_kill_count("oom_kill x\n"), std::nullopt);
  EXPECT_EQ(parse_oom_kill_count(""), std::nullopt);
  EXPECT_EQ(parse_oom_kill_count("oom_kill 7"), 7u) << "no final newline";
}

}  // namespace
}  // namespace vessel::daemon
