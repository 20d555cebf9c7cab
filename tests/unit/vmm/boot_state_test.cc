#include "vmm/arch/x86_64/boot_state.h"

#include <gtest/gtest.h>

#include "base/fd.h"
#include "vmm/arch/x86_64/layout.h"

namespace vessel::vmm::x86 {
namespace {

TEST(BootState, MemoryMapLeavesTheLegacyAreaAndTheHoleOut) {
  auto small = GuestMemory::create(64 << 20).value();
  auto m = memory_map(small);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].addr, 0u);
  EXPECT_EQ(m[0].size, kEbdaStart);
  EXPECT_EQ(m[1].type, 2u);
  EXPECT_EQ(m[2].addr, kHighMemory);
  EXPECT_EQ(m[2].addr + m[2].size, 64u << 20);
  auto big = GuestMemory::create(5ull << 30).value();
  auto b = memory_map(big);
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[2].addr + b[2].size, kMmioHoleStart);
  EXPECT_EQ(b[3].addr, kMmioHoleEnd);
  EXPECT_EQ(b[3].size, 2ull << 30);
}

TEST(BootState, InitrdGoesHighButBelowTheLimitsAndAboveTheKernel) {
  auto mem = GuestMemory::create(64 << 20).value();
  char tmpl[] = "/tmp/vessel-initrd.XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  close(fd);
  ASSERT_TRUE(write_file(tmpl, std::string(10000, 'i')));
  auto p = load_initrd(mem, tmpl, 0x200000, 0);
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_EQ(p->size, 10000u);
  EXPECT_EQ(p->addr % 4096, 0u);
  EXPECT_LE(p->addr + p->size, 64u << 20);
  auto capped = load_initrd(mem, tmpl, 0x200000, 0x1000000 - 1);
  ASSERT_TRUE(capped);
  EXPECT_LE(capped->addr + capped->size, 0x1000000u);
  EXPECT_FALSE(load_initrd(mem, tmpl, (64 << 20) - 4096, 0));  // kernel fills memory: no room
  unlink(tmpl);
}

TEST(BootState, PvhStartInfoAndCommandLine) {
  auto mem = GuestMemory::create(32 << 20).value();
  LoadedKernel k{BootProtocol::Pvh, 0x100000, 0x200000, {}, 0};
  BootData d{"console=ttyS0", InitrdPlacement{0x1000000, 0x1234}, 0xe0000};
  ASSERT_TRUE(write_boot_data(mem, k, d));
  EXPECT_EQ(mem.read_obj<uint32_t>(kPvhStartInfo).value(), 0x336ec578u);
  EXPECT_EQ(mem.read_obj<uint32_t>(kPvhStartInfo + 12).value(), 1u);              // nr_modules
  EXPECT_EQ(mem.read_obj<uint64_t>(kPvhStartInfo + 32).value(), 0xe0000u);        // rsdp
  EXPECT_EQ(mem.read_obj<uint32_t>(kPvhStartInfo + 48).value(), 3u);              // memmap entries
  uint64_t mod = mem.read_obj<uint64_t>(kPvhStartInfo + 16).value();
  EXPECT_EQ(mem.read_obj<uint64_t>(mod).value(), 0x1000000u);
  char cmd[14];
  ASSERT_TRUE(mem.read(kCmdline, cmd, 14));
  EXPECT_STREQ(cmd, "console=ttyS0");
  std::string long_cmd(kCmdlineMax, 'x');
  EXPECT_FALSE(write_boot_data(mem, k, BootData{long_cmd, {}, 0}));
}

TEST(BootState, ZeroPageForBzImage) {
  auto mem = GuestMemory::create(32 << 20).value();
  LoadedKernel k{BootProtocol::LinuxBzImage, 0x100200, 0x800000, std::vector<uint8_t>(0x7b, 0), 0x37ffffff};
  BootData d{"quiet", InitrdPlacement{0x1800000, 0x4000}, 0xe0000};
  ASSERT_TRUE(write_boot_data(mem, k, d));
  EXPECT_EQ(mem.read_obj<uint8_t>(kZeroPage + 0x210).value(), 0xff);
  EXPECT_EQ(mem.read_obj<uint32_t>(kZeroPage + 0x228).value(), kCmdline);
  EXPECT_EQ(mem.read_obj<uint32_t>(kZeroPage + 0x218).value(), 0x1800000u);
  EXPECT_EQ(mem.read_obj<uint32_t>(kZeroPage + 0x21c).value(), 0x4000u);
  EXPECT_EQ(mem.read_obj<uint8_t>(kZeroPage + 0x1e8).value(), 3);
  EXPECT_EQ(mem.read_obj<uint64_t>(kZeroPage + 0x70).value(), 0xe0000u);
  // Identity map: the PD entry for 2 MiB..4 MiB.
  EXPECT_EQ(mem.read_obj<uint64_t>(kPd + 8).value() & ~0xfffull, 0x200000u);
}

}  // namespace
}  // namespace vessel::vmm::x86
