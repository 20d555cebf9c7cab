#include "vmm/arch/x86_64/guest_walk.h"

#include <gtest/gtest.h>

namespace vessel::vmm::x86 {
namespace {

TEST(GuestWalk, FourLevelWalkWithFourKibAndTwoMibPages) {
  auto mem = GuestMemory::create(16 << 20).value();
  // PML4 at 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000; high-half kernel mapping too.
  ASSERT_TRUE(mem.write_obj<uint64_t>(0x1000 + 511 * 8, 0x2000 | 3));
  ASSERT_TRUE(mem.write_obj<uint64_t>(0x2000 + 510 * 8, 0x3000 | 3));
  ASSERT_TRUE(mem.write_obj<uint64_t>(0x3000 + 0 * 8, 0x400000 | 0x83));  // 2 MiB page
  ASSERT_TRUE(mem.write_obj<uint64_t>(0x3000 + 1 * 8, 0x4000 | 3));
  ASSERT_TRUE(mem.write_obj<uint64_t>(0x4000 + 5 * 8, 0x9000 | 3));
  PagingState p{0x80000001, 0x1000, 0x20, 0x500};
  EXPECT_EQ(translate_gva(mem, p, 0xffffffff80012345ull).value(), 0x412345u);
  EXPECT_EQ(translate_gva(mem, p, 0xffffffff80205abcull).value(), 0x9abcu);
  EXPECT_FALSE(translate_gva(mem, p, 0x1000));                    // not mapped
  EXPECT_FALSE(translate_gva(mem, p, 0xffffffff80206000ull));     // PTE not present
  uint8_t v = 0x42;
  ASSERT_TRUE(write_gva(mem, p, 0xffffffff80205abcull, &v, 1));
  EXPECT_EQ(mem.read_obj<uint8_t>(0x9abc).value(), 0x42);
}

TEST(GuestWalk, PagingOffAndHostileEntriesPointingOutsideRam) {
  auto mem = GuestMemory::create(4 << 20).value();
  PagingState off{0x11, 0, 0, 0};
  EXPECT_EQ(translate_gva(mem, off, 0x12345).value(), 0x12345u);
  ASSERT_TRUE(mem.write_obj<uint64_t>(0x1000, 0xfffffffff000ull | 3));  // table outside RAM
  PagingState p{0x80000001, 0x1000, 0x20, 0x500};
  EXPECT_FALSE(translate_gva(mem, p, 0x0));
  PagingState cr3_outside{0x80000001, 0x7ffffff000ull, 0x20, 0x500};
  EXPECT_FALSE(translate_gva(mem, cr3_outside, 0x0));
}

TEST(GuestWalk, CopiesSpanPageBoundaries) {
  auto mem = GuestMemory::create(4 << 20).value();
  ASSERT_TRUE(mem.write_obj<uint64_t>(0x1000, 0x2000 | 3));
  ASSERT_TRUE(mem.write_obj<uint64_t>(0x2000, 0x3000 | 3));
  ASSERT_TRUE(mem.write_obj<uint64_t>(0x3000, 0x4000 | 3));
  ASSERT_TRUE(mem.write_obj<uint64_t>(0x4000 + 0 * 8, 0x10000 | 3));  // VA 0x0000 -> 0x10000
  ASSERT_TRUE(mem.write_obj<uint64_t>(0x4000 + 1 * 8, 0x20000 | 3));  // VA 0x1000 -> 0x20000
  PagingState p{0x80000001, 0x1000, 0x20, 0x500};
  const char msg[] = "across";
  ASSERT_TRUE(write_gva(mem, p, 0xffd, msg, 6));
  char out[6];
  ASSERT_TRUE(read_gva(mem, p, 0xffd, out, 6));
  EXPECT_EQ(std::string(out, 6), "across");
  EXPECT_EQ(mem.read_obj<char>(0x10ffd).value(), 'a');
  EXPECT_EQ(mem.read_obj<char>(0x20000).value(), 'o');
}

}  // namespace
}  // namespace vessel::vmm::x86
