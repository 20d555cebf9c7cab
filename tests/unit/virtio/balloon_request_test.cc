// virtio-balloon requests parsed before anything is given back: PFN arrays, reported ranges and
// statistics, every page checked against guest RAM; discard() really drops the host pages.
#include "vmm/devices/virtio/balloon/balloon_request.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include "fake_driver.h"

namespace vessel::vmm::virtio::balloon {
namespace {

using namespace virtio::testing;

DescriptorChain readable(GuestAddress addr, uint32_t len) {
  DescriptorChain c;
  c.descriptors.push_back({addr, len, false});
  c.readable_bytes = len;
  return c;
}

void put_pfns(const GuestMemory& mem, GuestAddress at, const std::vector<uint32_t>& pfns) {
  ASSERT_TRUE(mem.write(at, pfns.data(), pfns.size() * 4));
}

TEST(BalloonRequestTest, PfnsBecomeSortedMergedRanges) {
  GuestMemory mem = make_memory();
  put_pfns(mem, kData, {0x203, 0x201, 0x202, 0x202, 0x300});
  auto req = parse_pfn_request(mem, readable(kData, 20));
  ASSERT_TRUE(req) << req.error().to_string();
  ASSERT_EQ(req->ranges.size(), 2u);
  EXPECT_EQ(req->ranges[0].host, mem.host_base() + 0x201000);
  EXPECT_EQ(req->ranges[0].len, 3u * 4096);
  EXPECT_EQ(req->ranges[1].host, mem.host_base() + 0x300000);
  EXPECT_EQ(req->pages, 4u);
}

TEST(BalloonRequestTest, APageOutsideRamRefusesTheWholeRequest) {
  GuestMemory mem = make_memory();
  put_pfns(mem, kData, {0x10, kRamSize >> 12});  // the first page past the end
  auto req = parse_pfn_request(mem, readable(kData, 8));
  ASSERT_FALSE(req);
  EXPECT_EQ(req.error().errnum(), EFAULT);
  put_pfns(mem, kData, {0xffffffff});
  EXPECT_FALSE(parse_pfn_request(mem, readable(kData, 4)));
}

TEST(BalloonRequestTest, BadLengthsAreRefused) {
  GuestMemory mem = make_memory();
  EXPECT_FALSE(parse_pfn_request(mem, readable(kData, 6)));
  EXPECT_FALSE(parse_pfn_request(mem, readable(kData, (kMaxPfnsPerRequest + 1) * 4)));
  auto empty = parse_pfn_request(mem, readable(kData, 0));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->pages, 0u);
  // Device-writable buffers carry no PFNs.
  DescriptorChain w;
  w.descriptors.push_back({kData, 4096, true});
  w.writable_bytes = 4096;
  ASSERT_TRUE(parse_pfn_request(mem, w));
  EXPECT_EQ(parse_pfn_request(mem, w)->pages, 0u);
}

TEST(BalloonRequestTest, ReportedRangesMustBeWholePages) {
  GuestMemory mem = make_memory();
  DescriptorChain c;
  c.descriptors.push_back({0x400000, 2 << 20, true});
  c.descriptors.push_back({0x200000, 4096, true});
  auto req = parse_report_request(mem, c);
  ASSERT_TRUE(req) << req.error().to_string();
  EXPECT_EQ(req->pages, 512u + 1);
  ASSERT_EQ(req->ranges.size(), 2u);
  EXPECT_EQ(req->ranges[0].host, mem.host_base() + 0x200000);
  c.descriptors.push_back({0x600800, 4096, true});
  EXPECT_FALSE(parse_report_request(mem, c));
}

TEST(BalloonRequestTest, DiscardDropsTheHostPages) {
  GuestMemory mem = make_memory();
  std::vector<uint8_t> pattern(8192, 0xab);
  ASSERT_TRUE(mem.write(0x300000, pattern.data(), pattern.size()));
  put_pfns(mem, kData, {0x300});
  auto req = parse_pfn_request(mem, readable(kData, 4));
  ASSERT_TRUE(req);
  auto bytes = discard(*req);
  ASSERT_TRUE(bytes) << bytes.error().to_string();
  EXPECT_EQ(*bytes, 4096u);
  unsigned char resident[2] = {1, 0};
  ASSERT_EQ(::mincore(mem.host_base() + 0x300000, 8192, resident), 0);
  EXPECT_EQ(resident[0] & 1, 0);  // given back to the host
  EXPECT_EQ(resident[1] & 1, 1);  // the next page stays
  EXPECT_EQ(*mem.read_obj<uint64_t>(0x300000), 0u);  // zeros when touched again
  EXPECT_EQ(*mem.read_obj<uint8_t>(0x301000), 0xab);
}

TEST(BalloonRequestTest, StatisticsByTag) {
  GuestMemory mem = make_memory();
  std::vector<uint8_t> buf;
  auto add = [&](uint16_t tag, uint64_t value) {
    uint8_t e[10];
    std::memcpy(e, &tag, 2);
    std::memcpy(e + 2, &value, 8);
    buf.insert(buf.end(), e, e + 10);
  };
  add(5, 256ull << 20);  // total_memory
  add(4, 100ull << 20);  // free_memory
  add(99, 1);            // unknown: ignored
  add(4, 90ull << 20);   // repeated: the last wins
  ASSERT_TRUE(mem.write(kData, buf.data(), buf.size()));
  auto s = parse_stats(mem, readable(kData, static_cast<uint32_t>(buf.size())));
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->values[5], 256ull << 20);
  EXPECT_EQ(s->values[4], 90ull << 20);
  EXPECT_FALSE(s->values[0]);
  EXPECT_FALSE(parse_stats(mem, readable(kData, 15)));
  EXPECT_FALSE(parse_stats(mem, readable(kData, (kMaxStatEntries + 1) * kStatSize)));
}

}  // namespace
}  // namespace vessel::vmm::virtio::balloon
