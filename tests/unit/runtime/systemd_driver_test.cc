// The systemd cgroup driver's pure parts: slice:prefix:name paths, slice expansion, and
// linux.resources as unit properties (the conversions runc and crun make).
#include <gtest/gtest.h>

#include "runtime/cgroups/systemd_properties.h"
#include "runtime/spec/systemd_path.h"

namespace vessel::runtime {
namespace {

TEST(SystemdPath, SlicePrefixNameNamesTheScope) {
  auto p = parse_systemd_cgroups_path("machine.slice:libpod:0123abc");
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_EQ(p->slice, "machine.slice");
  EXPECT_EQ(p->unit, "libpod-0123abc.scope");
  p = parse_systemd_cgroups_path(":runc:x");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->slice, "system.slice");
  EXPECT_EQ(p->unit, "runc-x.scope");
  p = parse_systemd_cgroups_path("user.slice::x");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->unit, "x.scope");
  auto d = default_systemd_cgroups_path("abc");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->slice, "system.slice");
  EXPECT_EQ(d->unit, "vessel-runtime-abc.scope");
}

TEST(SystemdPath, MalformedPathsAreErrors) {
  for (const char* bad : {"machine.slice:x", "a:b:c:d", "machine.slice:p:", "machine:p:n", "-a.slice:p:n",
                          "a--b.slice:p:n", "a-.slice:p:n", "machine.slice:p q:n", "machine.slice:p:n\n",
                          "machine.slice:p:sub.slice"})
    EXPECT_FALSE(parse_systemd_cgroups_path(bad)) << bad;
  EXPECT_FALSE(parse_systemd_cgroups_path("machine.slice:p:" + std::string(300, 'x')));
  EXPECT_FALSE(default_systemd_cgroups_path("a+b"));  // a legal container id, not a unit name
  EXPECT_TRUE(looks_like_systemd_path("machine.slice:p:n"));
  EXPECT_FALSE(looks_like_systemd_path("/a:b/c"));
  EXPECT_FALSE(looks_like_systemd_path(""));
}

TEST(SystemdPath, SlicesExpandToTheirParents) {
  EXPECT_EQ(expand_slice("system.slice"), "/system.slice");
  EXPECT_EQ(expand_slice("machine-pods-x.slice"), "/machine.slice/machine-pods.slice/machine-pods-x.slice");
  EXPECT_EQ(expand_slice("-.slice"), "");
}

UnitProperty::Value find(const std::vector<UnitProperty>& props, const std::string& name) {
  for (const auto& p : props)
    if (p.name == name) return p.value;
  ADD_FAILURE() << "no property " << name;
  return false;
}

bool has(const std::vector<UnitProperty>& props, const std::string& name) {
  for (const auto& p : props)
    if (p.name == name) return true;
  return false;
}

TEST(SystemdProperties, ResourcesMapAsRuncAndCrunMapThem) {
  Resources r;
  r.memory = MemoryResources{};
  r.memory->limit = 64 << 20;
  r.memory->swap = 96 << 20;
  r.memory->reservation = 32 << 20;
  r.cpu = CpuResources{};
  r.cpu->shares = 1024;
  r.cpu->quota = 12345;
  r.cpu->period = 100000;
  r.cpu->cpus = "0-2,9";
  r.pids_limit = 100;
  r.block_io = BlockIoResources{};
  r.block_io->weight = 500;
  r.unified = {{"memory.high", "max"}, {"memory.min", "4096"}, {"memory.oom.group", "1"}};
  auto props = resource_properties(r, true);
  ASSERT_TRUE(props) << props.error().to_string();
  EXPECT_EQ(find(*props, "MemoryMax"), UnitProperty::Value(uint64_t{64 << 20}));
  EXPECT_EQ(find(*props, "MemorySwapMax"), UnitProperty::Value(uint64_t{32 << 20}));  // swap alone
  EXPECT_EQ(find(*props, "MemoryLow"), UnitProperty::Value(uint64_t{32 << 20}));
  EXPECT_EQ(find(*props, "CPUWeight"), UnitProperty::Value(uint64_t{39}));
  EXPECT_EQ(find(*props, "CPUQuotaPerSecUSec"), UnitProperty::Value(uint64_t{130000}));  // 123450 up to 10 ms
  EXPECT_EQ(find(*props, "CPUQuotaPeriodUSec"), UnitProperty::Value(uint64_t{100000}));
  EXPECT_EQ(find(*props, "AllowedCPUs"), UnitProperty::Value(std::vector<uint8_t>{0x07, 0x02}));
  EXPECT_EQ(find(*props, "TasksMax"), UnitProperty::Value(uint64_t{100}));
  EXPECT_EQ(find(*props, "IOWeight"), UnitProperty::Value(uint64_t{4950}));
  EXPECT_EQ(find(*props, "MemoryHigh"), UnitProperty::Value(kSystemdInfinity));
  EXPECT_EQ(find(*props, "MemoryMin"), UnitProperty::Value(uint64_t{4096}));
  EXPECT_FALSE(has(*props, "CPUShares"));

  auto legacy = resource_properties(r, false);  // v1 or hybrid: what systemd applies there
  ASSERT_TRUE(legacy);
  EXPECT_EQ(find(*legacy, "CPUShares"), UnitProperty::Value(uint64_t{1024}));
  for (const char* unified_only : {"CPUWeight", "AllowedCPUs", "IOWeight", "MemoryHigh", "MemorySwapMax"})
    EXPECT_FALSE(has(*legacy, unified_only)) << unified_only;
}

TEST(SystemdProperties, UnlimitedValuesAreInfinityAndBadOnesErrors) {
  Resources r;
  r.memory = MemoryResources{};
  r.memory->limit = -1;
  r.pids_limit = -1;
  r.cpu = CpuResources{};
  r.cpu->quota = -1;
  auto props = resource_properties(r, true);
  ASSERT_TRUE(props);
  EXPECT_EQ(find(*props, "MemoryMax"), UnitProperty::Value(kSystemdInfinity));
  EXPECT_EQ(find(*props, "TasksMax"), UnitProperty::Value(kSystemdInfinity));
  EXPECT_EQ(find(*props, "CPUQuotaPerSecUSec"), UnitProperty::Value(kSystemdInfinity));
  r.unified = {{"memory.high", "lots"}};
  EXPECT_FALSE(resource_properties(r, true));
  for (const char* bad : {"", "3-1", "a", "1,,2", "0-", "99999"}) EXPECT_FALSE(cpuset_bitmask(bad)) << bad;
  auto mask = cpuset_bitmask("8");
  ASSERT_TRUE(mask);
  EXPECT_EQ(*mask, (std::vector<uint8_t>{0x00, 0x01}));
}

}  // namespace
}  // namespace vessel::runtime
