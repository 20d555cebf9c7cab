// The virtio-rng request parser: only the chain's device-writable buffers, each inside guest RAM,
// at most 64 KiB in all; then the fill writes exactly those bytes.
#include "vmm/devices/virtio/rng/rng_request.h"

#include <gtest/gtest.h>

#include "fake_driver.h"

namespace vessel::vmm::virtio::rng {
namespace {

using testing::kData;
using testing::kRamSize;

DescriptorChain chain(std::vector<Descriptor> ds) {
  DescriptorChain c;
  for (auto& d : ds) (d.device_writes ? c.writable_bytes : c.readable_bytes) += d.len;
  c.descriptors = std::move(ds);
  return c;
}

TEST(RngRequestTest, TakesOnlyWritableBuffersAndFillsExactlyThem) {
  GuestMemory mem = testing::make_memory();
  ASSERT_TRUE(mem.write_obj<uint64_t>(kData, 0x1111111111111111));  // device-readable: untouched
  ASSERT_TRUE(mem.write_obj<uint64_t>(kData + 0x300, 0x2222222222222222));  // after the 2nd buffer
  auto req = parse_request(mem, chain({{kData, 8, false},
                                       {kData + 0x100, 64, true},
                                       {kData + 0x200, 0, true},
                                       {kData + 0x280, 128, true}}));
  ASSERT_TRUE(req) << req.error().to_string();
  ASSERT_EQ(req->buffers.size(), 2u) << "the empty buffer is skipped";
  EXPECT_EQ(req->len, 192u);
  EXPECT_EQ(req->buffers[0].iov_base, mem.host_base() + kData + 0x100);
  EXPECT_EQ(req->buffers[1].iov_len, 128u);
  ASSERT_TRUE(fill_request(*req));
  EXPECT_EQ(*mem.read_obj<uint64_t>(kData), 0x1111111111111111u);
  EXPECT_EQ(*mem.read_obj<uint64_t>(kData + 0x300), 0x2222222222222222u);
  EXPECT_NE(*mem.read_obj<uint64_t>(kData + 0x100), 0u) << "filled (one chance in 2^64 to fail)";
}

TEST(RngRequestTest, CappedAt64KiBAndNothingWritableIsLengthZero) {
  GuestMemory mem = testing::make_memory();
  auto big =
      parse_request(mem, chain({{kData, 48 << 10, true}, {kData + 0x100000, 48 << 10, true}}));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->len, kMaxBytesPerRequest);
  ASSERT_EQ(big->buffers.size(), 2u);
  EXPECT_EQ(big->buffers[1].iov_len, 16u << 10);
  auto none = parse_request(mem, chain({{kData, 16, false}}));
  ASSERT_TRUE(none);
  EXPECT_EQ(none->len, 0u);
  EXPECT_TRUE(none->buffers.empty());
}

TEST(RngRequestTest, BufferOutsideRamIsRefused) {
  GuestMemory mem = testing::make_memory();
  auto r = parse_request(mem, chain({{kData, 16, true}, {kRamSize - 8, 16, true}}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EFAULT);
}

}  // namespace
}  // namespace vessel::vmm::virtio::rng
