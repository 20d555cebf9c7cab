// The virtio-net frame parsers against each malformed shape (net_frame.h).
#include "vmm/devices/virtio/net/net_frame.h"

#include <gtest/gtest.h>

#include <cstring>

#include "fake_driver.h"

namespace vessel::vmm::virtio::net {
namespace {

using testing::kData;
using testing::make_memory;

constexpr uint64_t kAllHost = kFeatureCsum | kFeatureHostTso4 | kFeatureHostTso6 | kFeatureHostUfo;

DescriptorChain chain_of(std::vector<Descriptor> ds) {
  DescriptorChain c;
  for (const auto& d : ds) (d.device_writes ? c.writable_bytes : c.readable_bytes) += d.len;
  c.descriptors = std::move(ds);
  return c;
}

class NetFrameTest : public ::testing::Test {
 protected:
  GuestMemory mem = make_memory();
  void put_header(GuestAddress at, NetHeader h) { ASSERT_TRUE(mem.write_obj(at, h)); }
};

TEST_F(NetFrameTest, GoodFrameSplitHeaderIsCopiedAndPayloadViewed) {
  NetHeader h{};
  h.num_buffers = 7;  // ignored on tx
  put_header(kData, h);
  std::vector<uint8_t> frame(60);
  for (size_t i = 0; i < frame.size(); ++i) frame[i] = uint8_t(i);
  ASSERT_TRUE(mem.write(kData + 100, frame.data(), frame.size()));
  // Header split 5 + 7 over two descriptors, the second also carrying the frame... no: frame
  // in its own buffer after the header's second half.
  auto c = chain_of({{kData, 5, false}, {kData + 5, 7, false}, {kData + 100, 60, false}});
  auto f = parse_tx(mem, c, 0);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->frame_len, 60u);
  EXPECT_EQ(f->header.num_buffers, 0);
  ASSERT_EQ(f->payload.size(), 1u);
  EXPECT_EQ(std::memcmp(f->payload[0].iov_base, frame.data(), 60), 0);
}

TEST_F(NetFrameTest, HeaderAndFrameInOneBuffer) {
  put_header(kData, NetHeader{});
  auto f = parse_tx(mem, chain_of({{kData, 12 + 64, false}}), 0);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->frame_len, 64u);
  ASSERT_EQ(f->payload.size(), 1u);
  EXPECT_EQ(f->payload[0].iov_base, mem.slice(kData + 12, 64)->data());
}

TEST_F(NetFrameTest, EachMalformedTxShapeIsRefusedWithItsKind) {
  auto kind_of = [&](NetHeader h, std::vector<Descriptor> ds, uint64_t features = kAllHost) {
    put_header(kData, h);
    auto f = parse_tx(mem, chain_of(std::move(ds)), features);
    return f ? TxErrorKind::Count : f.error().kind;
  };
  NetHeader ok{};
  EXPECT_EQ(kind_of(ok, {{kData, 100, false}, {kData + 200, 10, true}}),
            TxErrorKind::WritableDescriptor);
  EXPECT_EQ(kind_of(ok, {{kData, 12 + 13, false}}), TxErrorKind::ShortFrame);
  EXPECT_EQ(kind_of(ok, {{kData, 8, false}}), TxErrorKind::ShortFrame);
  EXPECT_EQ(kind_of(ok, {{kData, kMaxFrameWithHeader, false}}), TxErrorKind::Count);
  EXPECT_EQ(kind_of(ok, {{kData, kMaxFrameWithHeader + 1, false}}), TxErrorKind::Oversized);
  EXPECT_EQ(kind_of(ok, {{kData, 40000, false}, {kData, 40000, false}}), TxErrorKind::Oversized);
  NetHeader h = ok;
  h.flags = 0x10;
  EXPECT_EQ(kind_of(h, {{kData, 100, false}}), TxErrorKind::BadHeaderFlags);
  h.flags = kHdrFlagNeedsCsum;
  EXPECT_EQ(kind_of(h, {{kData, 100, false}}, 0), TxErrorKind::BadHeaderFlags)
      << "CSUM not negotiated";
  h.csum_start = 80;
  h.csum_offset = 7;  // 80 + 7 + 2 > 88
  EXPECT_EQ(kind_of(h, {{kData, 100, false}}), TxErrorKind::BadChecksumOffsets);
  h.csum_offset = 6;  // exactly fits
  EXPECT_EQ(kind_of(h, {{kData, 100, false}}), TxErrorKind::Count);
  h.csum_start = 0xffff;
  h.csum_offset = 0xffff;
  EXPECT_EQ(kind_of(h, {{kData, 100, false}}), TxErrorKind::BadChecksumOffsets);
  NetHeader g = ok;
  g.flags = kHdrFlagNeedsCsum;
  g.gso_type = kGsoTcpV4;
  g.gso_size = 1448;
  g.hdr_len = 54;
  EXPECT_EQ(kind_of(g, {{kData, 1000, false}}), TxErrorKind::Count);
  EXPECT_EQ(kind_of(g, {{kData, 1000, false}}, kFeatureCsum), TxErrorKind::BadGso)
      << "HOST_TSO4 not negotiated";
  g.gso_size = 0;
  EXPECT_EQ(kind_of(g, {{kData, 1000, false}}), TxErrorKind::BadGso);
  g.gso_size = 1448;
  g.gso_type = kGsoTcpV4 | kGsoEcn;
  EXPECT_EQ(kind_of(g, {{kData, 1000, false}}), TxErrorKind::BadGso);
  g.gso_type = 2;
  EXPECT_EQ(kind_of(g, {{kData, 1000, false}}), TxErrorKind::BadGso);
  g.gso_type = kGsoTcpV6;
  g.flags = 0;
  EXPECT_EQ(kind_of(g, {{kData, 1000, false}}), TxErrorKind::BadGso) << "GSO without NEEDS_CSUM";
  g.flags = kHdrFlagNeedsCsum;
  g.hdr_len = 2000;
  EXPECT_EQ(kind_of(g, {{kData, 1000, false}}), TxErrorKind::BadGso);
}

TEST_F(NetFrameTest, RxChainsNeedWritableRoomForTheHeader) {
  auto rx = parse_rx(mem, chain_of({{kData, 6, true}, {kData + 100, 6, true}}));
  ASSERT_TRUE(rx);
  EXPECT_EQ(rx->capacity, 12u);
  EXPECT_FALSE(parse_rx(mem, chain_of({{kData, 11, true}})));
  EXPECT_FALSE(parse_rx(mem, chain_of({{kData, 10, false}, {kData + 100, 1500, true}})));
  auto big = parse_rx(mem, chain_of({{kData, 70000, true}}));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->capacity, kMaxFrameWithHeader) << "capped";
  EXPECT_FALSE(parse_rx(mem, chain_of({{testing::kRamSize - 4, 100, true}})));
}

TEST_F(NetFrameTest, CopyToBuffersCrossesBuffersFromAnOffset) {
  auto rx =
      parse_rx(mem, chain_of({{kData, 4, true}, {kData + 100, 4, true}, {kData + 200, 8, true}}));
  ASSERT_TRUE(rx);
  uint8_t src[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(copy_to_buffers(*rx, 2, src, 10), 10u);
  EXPECT_EQ(*mem.read_obj<uint8_t>(kData + 2), 1);
  EXPECT_EQ(*mem.read_obj<uint8_t>(kData + 3), 2);
  EXPECT_EQ(*mem.read_obj<uint8_t>(kData + 100), 3);
  EXPECT_EQ(*mem.read_obj<uint8_t>(kData + 200), 7);
  EXPECT_EQ(copy_to_buffers(*rx, 10, src, 10), 6u) << "only 6 bytes of room left";
}

}  // namespace
}  // namespace vessel::vmm::virtio::net
