// The virtio-blk request parser: every field is checked before any I/O, and a refused request
// says where (if anywhere) its status byte goes.
#include <gtest/gtest.h>

#include "fake_driver.h"
#include "vmm/devices/virtio/block/blk_request.h"

namespace vessel::vmm::virtio::blk {
namespace {

using testing::kData;

struct BlkHeader {
  uint32_t type, reserved;
  uint64_t sector;
};

class BlkRequestTest : public ::testing::Test {
 protected:
  GuestMemory mem = testing::make_memory();
  DiskGeometry disk{.capacity_sectors = 2048, .read_only = false, .discard = true,
                    .write_zeroes = true};
  static constexpr GuestAddress kHeader = kData, kBuf = kData + 0x1000,
                                kStatus = kData + 0x100000;

  DescriptorChain chain(std::vector<Descriptor> ds) {
    DescriptorChain c;
    for (auto& d : ds) (d.device_writes ? c.writable_bytes : c.readable_bytes) += d.len;
    c.descriptors = std::move(ds);
    return c;
  }
  void header(uint32_t type, uint64_t sector) {
    ASSERT_TRUE(mem.write_obj(kHeader, BlkHeader{type, 0, sector}));
  }
  // header / data / status, with the data's direction chosen by the request type.
  DescriptorChain simple(uint32_t type, uint64_t sector, uint32_t data_len, bool data_written) {
    header(type, sector);
    std::vector<Descriptor> ds{{kHeader, 16, false}};
    if (data_len) ds.push_back({kBuf, data_len, data_written});
    ds.push_back({kStatus, 1, true});
    return chain(ds);
  }
  RequestError refused(const DescriptorChain& c) {
    auto r = parse_request(mem, c, disk);
    EXPECT_FALSE(r.has_value());
    return r ? RequestError{RequestErrorKind::Count, {}, kOk, ""} : r.error();
  }
};

TEST_F(BlkRequestTest, ReadParsed) {
  auto r = parse_request(mem, simple(0, 8, 4096, true), disk);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->type, RequestType::In);
  EXPECT_EQ(r->sector, 8u);
  EXPECT_EQ(r->data_len, 4096u);
  EXPECT_EQ(r->status_addr, kStatus);
  EXPECT_EQ(r->used_len(), 4097u);
  ASSERT_EQ(r->data.size(), 1u);
  EXPECT_EQ(r->data[0].iov_base, mem.host_base() + kBuf);
}

TEST_F(BlkRequestTest, WriteParsedWithSplitHeaderAndData) {
  header(1, 2047);
  // BlkHeader split 10 + 6 bytes, the last 6 sharing a descriptor with the first data bytes.
  auto c = chain({{kHeader, 10, false}, {kHeader + 10, 6 + 256, false}, {kBuf + 0x2000, 256, false},
                  {kStatus, 1, true}});
  auto r = parse_request(mem, c, disk);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->type, RequestType::Out);
  EXPECT_EQ(r->sector, 2047u);
  EXPECT_EQ(r->data_len, 512u);
  EXPECT_EQ(r->data.size(), 2u);
  EXPECT_EQ(r->data[0].iov_base, mem.host_base() + kHeader + 16);
}

TEST_F(BlkRequestTest, StatusByteIsLastWritableByte) {
  header(0, 0);
  auto c = chain({{kHeader, 16, false}, {kBuf, 513, true}});
  auto r = parse_request(mem, c, disk);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status_addr, kBuf + 512);
  EXPECT_EQ(r->data_len, 512u);
}

TEST_F(BlkRequestTest, NoStatusByte) {
  header(1, 0);
  auto e = refused(chain({{kHeader, 16, false}, {kBuf, 512, false}}));
  EXPECT_EQ(e.kind, RequestErrorKind::NoStatusByte);
  EXPECT_FALSE(e.status_addr);
  EXPECT_EQ(refused(chain({})).kind, RequestErrorKind::NoStatusByte);
}

TEST_F(BlkRequestTest, ShortHeader) {
  auto e = refused(chain({{kHeader, 8, false}, {kStatus, 1, true}}));
  EXPECT_EQ(e.kind, RequestErrorKind::ShortHeader);
  EXPECT_EQ(e.status_addr, kStatus);
  EXPECT_EQ(e.status, kIoErr);
}

TEST_F(BlkRequestTest, UnalignedLength) {
  EXPECT_EQ(refused(simple(0, 0, 511, true)).kind, RequestErrorKind::UnalignedLength);
  EXPECT_EQ(refused(simple(1, 0, 1000, false)).kind, RequestErrorKind::UnalignedLength);
}

TEST_F(BlkRequestTest, SectorRangeChecked) {
  EXPECT_EQ(refused(simple(0, 2048, 512, true)).kind, RequestErrorKind::SectorRange);
  EXPECT_EQ(refused(simple(1, 2047, 1024, false)).kind, RequestErrorKind::SectorRange);
  // sector * 512 would overflow 64 bits.
  EXPECT_EQ(refused(simple(0, ~0ull, 512, true)).kind, RequestErrorKind::SectorRange);
  EXPECT_EQ(refused(simple(0, ~0ull / 512 + 1, 512, true)).kind, RequestErrorKind::SectorRange);
  EXPECT_TRUE(parse_request(mem, simple(0, 2047, 512, true), disk));
}

TEST_F(BlkRequestTest, DataInWrongDirection) {
  EXPECT_EQ(refused(simple(0, 0, 512, false)).kind, RequestErrorKind::Framing);  // read, data in
  EXPECT_EQ(refused(simple(1, 0, 512, true)).kind, RequestErrorKind::Framing);   // write, data out
}

TEST_F(BlkRequestTest, ReadOnlyDiskRefusesWrites) {
  disk.read_only = true;
  auto e = refused(simple(1, 0, 512, false));
  EXPECT_EQ(e.kind, RequestErrorKind::ReadOnly);
  EXPECT_EQ(e.status, kIoErr);
  EXPECT_TRUE(parse_request(mem, simple(0, 0, 512, true), disk));
}

TEST_F(BlkRequestTest, UnknownTypeUnsupported) {
  auto e = refused(simple(42, 0, 0, false));
  EXPECT_EQ(e.kind, RequestErrorKind::Unsupported);
  EXPECT_EQ(e.status, kUnsupp);
}

TEST_F(BlkRequestTest, FlushAndGetId) {
  auto f = parse_request(mem, simple(4, 123, 0, false), disk);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->type, RequestType::Flush);
  auto g = parse_request(mem, simple(8, 0, 64, true), disk);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->data_len, kIdBytes);  // capped at 20
  EXPECT_EQ(g->used_len(), kIdBytes + 1);
}

TEST_F(BlkRequestTest, DiscardSegmentChecked) {
  struct Seg {
    uint64_t sector;
    uint32_t num, flags;
  };
  ASSERT_TRUE(mem.write_obj(kBuf, Seg{100, 28, 0}));
  auto ok = parse_request(mem, simple(11, 0, 16, false), disk);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->range_sector, 100u);
  EXPECT_EQ(ok->range_sectors, 28u);
  ASSERT_TRUE(mem.write_obj(kBuf, Seg{2040, 9, 0}));
  EXPECT_EQ(refused(simple(11, 0, 16, false)).kind, RequestErrorKind::SectorRange);
  ASSERT_TRUE(mem.write_obj(kBuf, Seg{0, 1, 1}));  // unmap flag is for write-zeroes only
  EXPECT_EQ(refused(simple(11, 0, 16, false)).kind, RequestErrorKind::BadSegment);
  auto wz = parse_request(mem, simple(13, 0, 16, false), disk);
  ASSERT_TRUE(wz);
  EXPECT_TRUE(wz->unmap);
  EXPECT_EQ(refused(simple(11, 0, 32, false)).kind, RequestErrorKind::BadSegment);  // 2 segs
  disk.discard = false;
  EXPECT_EQ(refused(simple(11, 0, 16, false)).status, kUnsupp);
}

}  // namespace
}  // namespace vessel::vmm::virtio::blk
