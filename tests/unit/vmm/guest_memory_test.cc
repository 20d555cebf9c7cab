// GuestMemory's dirty page marks (Diff snapshots): writes mark their pages, reads do not, taking
// the marks clears them, and marks can be put back.
#include <gtest/gtest.h>

#include "vmm/memory/guest_memory.h"

namespace vessel::vmm {
namespace {

bool marked(const std::vector<uint64_t>& pages, uint64_t page) { return (pages[page / 64] >> (page % 64)) & 1; }

TEST(GuestMemoryDirty, WritesMarkTheirPagesReadsDoNot) {
  auto mem = GuestMemory::create(1 << 20);
  ASSERT_TRUE(mem);
  EXPECT_TRUE(mem->take_dirty_pages().empty()) << "not tracking: nothing";
  mem->track_dirty_pages();
  ASSERT_TRUE(mem->write_obj<uint32_t>(0x3ffe, 7));  // straddles pages 3 and 4
  uint8_t buf[16];
  ASSERT_TRUE(mem->read(0x9000, buf, sizeof buf));  // page 9: read only
  ASSERT_TRUE(mem->slice(0x20000, 0x2000));          // pages 32 and 33: a writable view
  EXPECT_FALSE(mem->write_obj<uint64_t>(1 << 20, 1)) << "outside RAM";
  auto pages = mem->take_dirty_pages();
  ASSERT_EQ(pages.size(), 4u);  // 256 pages
  for (uint64_t p = 0; p < 256; ++p)
    EXPECT_EQ(marked(pages, p), p == 3 || p == 4 || p == 32 || p == 33) << "page " << p;
  auto again = mem->take_dirty_pages();
  for (uint64_t w : again) EXPECT_EQ(w, 0u) << "taking clears";
  mem->mark_pages(pages);
  EXPECT_EQ(mem->take_dirty_pages(), pages);
}

}  // namespace
}  // namespace vessel::vmm
