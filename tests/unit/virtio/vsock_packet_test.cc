// The vsock packet parser against each malformed shape, and the CONNECT line parser.
#include <gtest/gtest.h>

#include "fake_driver.h"
#include "vmm/devices/virtio/vsock/vsock_muxer.h"
#include "vmm/devices/virtio/vsock/vsock_packet.h"

namespace vessel::vmm::virtio::vsock {
namespace {

using testing::make_memory;

TEST(VsockPacketTest, HeaderRoundTripsLittleEndian) {
  Header h{0x0102030405060708, 2, 0x11223344, 0x55667788, 12, 1, 5, 3, 4096, 77};
  auto b = encode(h);
  EXPECT_EQ(b[0], 0x08);
  EXPECT_EQ(b[16], 0x44);
  EXPECT_EQ(b[30], 5);
  Header d = decode(b);
  EXPECT_EQ(d.src_cid, h.src_cid);
  EXPECT_EQ(d.dst_port, h.dst_port);
  EXPECT_EQ(d.fwd_cnt, 77u);
  EXPECT_EQ(d.buf_alloc, 4096u);
}

TEST(VsockPacketTest, HeaderAndPayloadMaySpanDescriptors) {
  GuestMemory mem = make_memory();
  Header h{5, kHostCid, 1, 2, 10, kTypeStream, uint16_t(Op::Rw), 0, 0, 0};
  auto b = encode(h);
  ASSERT_TRUE(mem.write(0x1000, b.data(), 30));
  ASSERT_TRUE(mem.write(0x2000, b.data() + 30, 14));
  ASSERT_TRUE(mem.write(0x2000 + 14, "0123456789", 10));
  DescriptorChain chain;
  chain.descriptors = {{0x1000, 30, false}, {0x2000, 24, false}, {0x3000, 100, true}};
  auto p = parse_tx(mem, chain, 5);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->payload.size(), 1u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(p->payload[0].data()), p->payload[0].size()), "0123456789");
}

TEST(VsockPacketTest, RxBufferWritesAcrossItsDescriptors) {
  GuestMemory mem = make_memory();
  DescriptorChain chain;
  chain.descriptors = {{0x1000, 40, true}, {0x2000, 100, true}};
  auto rx = parse_rx(mem, chain);
  ASSERT_TRUE(rx);
  EXPECT_EQ(rx->len, 140u);
  std::vector<uint8_t> data(50, 7);
  EXPECT_TRUE(rx->write_at(20, data));
  EXPECT_FALSE(rx->write_at(100, data));
  EXPECT_EQ(*mem.read_obj<uint8_t>(0x1000 + 39), 7);
  EXPECT_EQ(*mem.read_obj<uint8_t>(0x2000 + 29), 7);
  EXPECT_EQ(*mem.read_obj<uint8_t>(0x2000 + 30), 0);
  chain.descriptors = {{0x1000, 43, true}};
  EXPECT_FALSE(parse_rx(mem, chain));
}

TEST(VsockPacketTest, ConnectLine) {
  EXPECT_EQ(parse_connect_line("CONNECT 1024\n"), 1024u);
  EXPECT_EQ(parse_connect_line("CONNECT 4294967295\n"), 4294967295u);
  EXPECT_FALSE(parse_connect_line("CONNECT 4294967296\n"));
  EXPECT_FALSE(parse_connect_line("CONNECT 1024"));
  EXPECT_FALSE(parse_connect_line("CONNECT -1\n"));
  EXPECT_FALSE(parse_connect_line("CONNECT 01024\n"));  // found by vsock_packet_fuzz
  EXPECT_EQ(parse_connect_line("CONNECT 0\n"), 0u);
  EXPECT_FALSE(parse_connect_line("CONNECT \n"));
  EXPECT_FALSE(parse_connect_line("OK 5\n"));
}

}  // namespace
}  // namespace vessel::vmm::virtio::vsock
