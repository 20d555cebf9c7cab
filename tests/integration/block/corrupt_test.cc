// Corrupt and hostile images, made by poking bytes into real images from qemu-img (after QEMU's
// iotests 060 and 214): each gets a typed error (errno) whose message names the offending
// field or offset, never a crash, and never a write over metadata.
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <functional>

#include <gtest/gtest.h>

#include "base/fd.h"
#include "block/image.h"
#include "block/qcow2.h"
#include "block/qcow2_format.h"
#include "sh.h"
#include "../../unit/block/test_util.h"

namespace vessel::block {
namespace {

using namespace qcow2;
using test::sh;
using test::TempDir;

constexpr uint64_t kCs = 65536;
constexpr uint64_t kCompressedGuest = 1u << 20;

// A qemu-made image: data at guest 0, a compressed cluster at guest 1 MiB.
struct Img {
  std::string path;
  Fd fd;
  uint64_t l1_off, reftable_off, l2_off, data_off, file_size;
  uint64_t comp_entry;  // L2 entry of the compressed cluster

  void poke(uint64_t at, const void* bytes, size_t n) { ASSERT_TRUE(pwrite_all(fd.get(), bytes, n, at)); }
  void poke32(uint64_t at, uint32_t v) { uint8_t b[4]; put_be32(b, v); poke(at, b, 4); }
  void poke64(uint64_t at, uint64_t v) { uint8_t b[8]; put_be64(b, v); poke(at, b, 8); }
  uint64_t comp_host() const { return comp_entry & ((1ull << 54) - 1); }
};

enum class Op { Open, OpenRw, Read0, ReadCompressed, Write0 };

struct Case {
  const char* name;
  std::function<void(Img&)> poke;
  Op op;
  int errnum;
  const char* message;  // a substring of the error
};

std::vector<Case> cases() {
  return {
      {"BadMagic", [](Img& i) { i.poke(0, "XXXX", 4); }, Op::Open, EINVAL, "bad magic"},
      {"Version1", [](Img& i) { i.poke32(4, 1); }, Op::Open, ENOTSUP, "version 1 at offset 4"},
      {"Version4", [](Img& i) { i.poke32(4, 4); }, Op::Open, ENOTSUP, "version 4"},
      {"ClusterBits8", [](Img& i) { i.poke32(20, 8); }, Op::Open, EINVAL, "cluster_bits 8 at offset 20"},
      {"ClusterBits22", [](Img& i) { i.poke32(20, 22); }, Op::Open, EINVAL, "cluster_bits 22"},
      {"ClusterBitsHuge", [](Img& i) { i.poke32(20, 0xffffffff); }, Op::Open, EINVAL, "cluster_bits"},
      {"Encrypted", [](Img& i) { i.poke32(32, 1); }, Op::Open, ENOTSUP, "crypt_method"},
      {"L1Unaligned", [](Img& i) { i.poke64(40, i.l1_off + 8); }, Op::Open, EINVAL, "L1 table offset"},
      {"L1PastEof", [](Img& i) { i.poke64(40, 1ull << 40); }, Op::Open, EINVAL, "past the end of the file"},
      {"L1Huge", [](Img& i) { i.poke32(36, 0x10000000); }, Op::Open, EFBIG, "L1 table of 268435456 entries"},
      {"L1TooSmall", [](Img& i) { i.poke32(36, 0); }, Op::Open, EINVAL, "too small"},
      {"RefTableUnaligned", [](Img& i) { i.poke64(48, i.reftable_off + 512); }, Op::Open, EINVAL, "refcount table offset"},
      {"RefTablePastEof", [](Img& i) { i.poke64(48, 1ull << 40); }, Op::Open, EINVAL, "refcount table at"},
      {"RefTableZeroClusters", [](Img& i) { i.poke32(56, 0); }, Op::Open, EINVAL, "refcount table of 0"},
      {"RefTableHuge", [](Img& i) { i.poke32(56, 0xffffffff); }, Op::Open, EFBIG, "refcount table of"},
      {"RefcountOrder7", [](Img& i) { i.poke32(96, 7); }, Op::Open, EINVAL, "refcount_order 7 at offset 96"},
      {"HeaderLengthShort", [](Img& i) { i.poke32(100, 50); }, Op::Open, EINVAL, "header_length 50"},
      {"HeaderLengthHuge", [](Img& i) { i.poke32(100, 0x20000); }, Op::Open, EINVAL, "header_length"},
      {"UnknownIncompatBit", [](Img& i) { i.poke64(72, 1ull << 5); }, Op::Open, ENOTSUP, "unknown incompatible feature bits 0x20"},
      {"ExternalDataFile", [](Img& i) { i.poke64(72, 1ull << 2); }, Op::Open, ENOTSUP, "external data"},
      {"ExtendedL2", [](Img& i) { i.poke64(72, 1ull << 4); }, Op::Open, ENOTSUP, "extended L2"},
      {"CompressionType2", [](Img& i) { i.poke64(72, 1ull << 3); uint8_t t = 2; i.poke(104, &t, 1); }, Op::Open, ENOTSUP, "compression type 2"},
      {"ZstdWithoutFeatureBit", [](Img& i) { uint8_t t = 1; i.poke(104, &t, 1); }, Op::Open, EINVAL, "disagrees"},
      {"AbsurdSize", [](Img& i) { i.poke64(24, 1ull << 62); }, Op::Open, EFBIG, "absurd"},
      {"BackingNameTooLong", [](Img& i) { i.poke64(8, 0x200); i.poke32(16, 2000); }, Op::Open, EINVAL, "backing file name length 2000"},
      {"BackingNameOutsideHeader", [](Img& i) { i.poke64(8, 0x20000); i.poke32(16, 10); }, Op::Open, EINVAL, "outside the header cluster"},
      {"HeaderExtensionOverflow", [](Img& i) { i.poke32(112, 0x12345678); i.poke32(116, 0x7fffffff); }, Op::Open, EINVAL, "header extension 0x12345678"},
      {"TooManySnapshots", [](Img& i) { i.poke32(60, 1u << 20); }, Op::Open, EINVAL, "snapshots"},
      {"L1EntryUnaligned", [](Img& i) { i.poke64(i.l1_off, (i.l2_off + 512) | kFlagCopied); }, Op::Open, EUCLEAN, "in L1 entry 0"},
      {"L1EntryPastEof", [](Img& i) { i.poke64(i.l1_off, (1ull << 40) | kFlagCopied); }, Op::Open, EUCLEAN, "past the end of the file"},
      {"L1EntryOnRefTable", [](Img& i) { i.poke64(i.l1_off, i.reftable_off | kFlagCopied); }, Op::Open, EUCLEAN, "overlaps other metadata"},
      {"RefBlockUnaligned", [](Img& i) { i.poke64(i.reftable_off, 0x20200); }, Op::Open, EUCLEAN, "refcount table entry 0"},
      {"RefBlockPastEof", [](Img& i) { i.poke64(i.reftable_off, 1ull << 40); }, Op::Open, EUCLEAN, "refcount block offset"},
      {"L2EntryUnaligned", [](Img& i) { i.poke64(i.l2_off, (i.data_off + 512) | kFlagCopied); }, Op::Read0, EUCLEAN, "unaligned host offset"},
      {"L2EntryIntoL1", [](Img& i) { i.poke64(i.l2_off, i.l1_off | kFlagCopied); }, Op::Read0, EUCLEAN, "points into metadata"},
      {"L2EntryIntoRefTable", [](Img& i) { i.poke64(i.l2_off, i.reftable_off | kFlagCopied); }, Op::Write0, EUCLEAN, "points into metadata"},
      {"L2EntryIntoItself", [](Img& i) { i.poke64(i.l2_off, i.l2_off | kFlagCopied); }, Op::Write0, EUCLEAN, "points into metadata"},
      {"L2EntryPastEof", [](Img& i) { i.poke64(i.l2_off, (1ull << 40) | kFlagCopied); }, Op::Read0, EUCLEAN, "past the end of the file"},
      {"L2EntryReservedBits", [](Img& i) { i.poke64(i.l2_off, i.data_off | kFlagCopied | (1ull << 60)); }, Op::Read0, EUCLEAN, "reserved bits"},
      {"CorruptBitRefusesWrite", [](Img& i) { i.poke64(72, kIncompatCorrupt); }, Op::OpenRw, EROFS, "marked corrupt"},
      {"DirtyBitRefusesWrite", [](Img& i) { i.poke64(72, kIncompatDirty); }, Op::OpenRw, EUCLEAN, "dirty bit"},
      {"CompressedPastEof",
       [](Img& i) { i.poke64(i.l2_off + 16 * 8, kFlagCompressed | (i.file_size + 4096)); },
       Op::ReadCompressed, EUCLEAN, "past the end of the file"},
      {"CompressedGarbage",
       [](Img& i) { std::vector<uint8_t> junk(64, 0xff); i.poke(i.comp_host(), junk.data(), junk.size()); },
       Op::ReadCompressed, EUCLEAN, "compressed cluster at host offset"},
      {"CompressedTruncated", [](Img& i) { ASSERT_EQ(ftruncate(i.fd.get(), static_cast<off_t>(i.comp_host() + 20)), 0); },
       Op::ReadCompressed, EUCLEAN, "runs past the end of the file"},
      {"CompressedInflatesBeyondCluster",
       [](Img& i) {
         // A raw deflate stream of two clusters' worth of bytes, placed at the end of the file.
         std::vector<uint8_t> in(2 * kCs, 'Q'), out(4096);
         z_stream s{};
         ASSERT_EQ(deflateInit2(&s, 9, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY), Z_OK);
         s.next_in = in.data(); s.avail_in = static_cast<uInt>(in.size());
         s.next_out = out.data(); s.avail_out = static_cast<uInt>(out.size());
         ASSERT_EQ(deflate(&s, Z_FINISH), Z_STREAM_END);
         size_t n = out.size() - s.avail_out;
         deflateEnd(&s);
         uint64_t at = (i.file_size + kCs - 1) & ~(kCs - 1);
         i.poke(at, out.data(), n);
         uint64_t sectors = (n + 511) / 512 - 1;
         i.poke64(i.l2_off + 16 * 8, kFlagCompressed | (sectors << 54) | at);
       },
       Op::ReadCompressed, EUCLEAN, "inflates beyond its cluster"},
      {"TruncatedHeader", [](Img& i) { ASSERT_EQ(ftruncate(i.fd.get(), 40), 0); }, Op::Open, EINVAL, "too small for a qcow2 header"},
      {"EmptyFile", [](Img& i) { ASSERT_EQ(ftruncate(i.fd.get(), 0), 0); }, Op::Open, EINVAL, "too small"},
  };
}

class Corrupt : public ::testing::TestWithParam<Case> {};

Img make_image(const TempDir& dir) {
  Img i;
  i.path = dir.file("c.qcow2");
  auto r = sh(fmt::format("qemu-img create -q -f qcow2 {} 16M && qemu-io -c 'write -P 1 0 64k' -c 'write -c -P 2 1M 64k' {}", i.path, i.path));
  EXPECT_EQ(r.code, 0) << r.out;
  i.fd = std::move(*Fd::open(i.path, O_RDWR));
  uint8_t h[112];
  EXPECT_TRUE(pread_exact(i.fd.get(), h, sizeof h, 0));
  i.l1_off = be64(h + 40);
  i.reftable_off = be64(h + 48);
  uint8_t e[8];
  EXPECT_TRUE(pread_exact(i.fd.get(), e, 8, i.l1_off));
  i.l2_off = be64(e) & kOffsetMask;
  EXPECT_TRUE(pread_exact(i.fd.get(), e, 8, i.l2_off));
  i.data_off = be64(e) & kOffsetMask;
  EXPECT_TRUE(pread_exact(i.fd.get(), e, 8, i.l2_off + 16 * 8));
  i.comp_entry = be64(e);
  EXPECT_TRUE(i.comp_entry & kFlagCompressed);
  i.file_size = static_cast<uint64_t>(lseek(i.fd.get(), 0, SEEK_END));
  return i;
}

TEST_P(Corrupt, TypedErrorNamingTheProblem) {
  const Case& c = GetParam();
  TempDir dir;
  Img img = make_image(dir);
  c.poke(img);
  // Snapshots of metadata (empty when the poke truncated the file).
  auto snap = [&](uint64_t off) {
    std::string s(kCs, '\0');
    return pread_exact(img.fd.get(), s.data(), kCs, off) ? s : std::string();
  };
  std::string reftable_before = snap(img.reftable_off), l1_before = snap(img.l1_off);

  Result<void> outcome;
  bool opened_ro_fine = true;
  switch (c.op) {
    case Op::Open: {
      auto b = open_backend(img.path, Format::Qcow2, {.read_only = true});
      outcome = b ? Result<void>() : Unexpected(b.error());
      break;
    }
    case Op::OpenRw: {
      auto b = open_backend(img.path, Format::Qcow2, {});
      outcome = b ? Result<void>() : Unexpected(b.error());
      opened_ro_fine = static_cast<bool>(open_backend(img.path, Format::Qcow2, {.read_only = true}));
      break;
    }
    case Op::Read0:
    case Op::ReadCompressed: {
      auto b = open_backend(img.path, Format::Qcow2, {.read_only = true});
      ASSERT_TRUE(b) << b.error().to_string();
      std::vector<uint8_t> buf(kCs);
      iovec v{buf.data(), buf.size()};
      outcome = (*b)->readv(c.op == Op::Read0 ? 0 : kCompressedGuest, {&v, 1});
      break;
    }
    case Op::Write0: {
      {
        auto b = open_backend(img.path, Format::Qcow2, {});
        ASSERT_TRUE(b) << b.error().to_string();
        std::vector<uint8_t> buf(4096, 0xee);
        iovec v{buf.data(), buf.size()};
        outcome = (*b)->writev(0, {&v, 1});
        EXPECT_TRUE((*b)->read_only()) << "a detected corruption makes the image read-only";
      }
      // The corrupt bit is now set: writable opens are refused, read-only ones work.
      auto again = open_backend(img.path, Format::Qcow2, {});
      ASSERT_FALSE(again);
      EXPECT_EQ(again.error().errnum(), EROFS);
      EXPECT_TRUE(snap(img.reftable_off) == reftable_before) << "metadata was overwritten";
      break;
    }
  }
  ASSERT_FALSE(outcome) << c.name << " was accepted";
  EXPECT_EQ(outcome.error().errnum(), c.errnum) << outcome.error().to_string();
  EXPECT_NE(outcome.error().to_string().find(c.message), std::string::npos) << outcome.error().to_string();
  EXPECT_TRUE(opened_ro_fine) << "a corrupt-marked image must still open read-only";
  EXPECT_TRUE(snap(img.l1_off) == l1_before) << "L1 table changed";
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Corrupt, ::testing::ValuesIn(cases()),
                         [](const auto& i) { return std::string(i.param.name); });

TEST(CorruptChain, LoopingBackingChain) {
  TempDir dir;
  auto r = sh(fmt::format("cd {} && qemu-img create -q -f qcow2 a.qcow2 1M && qemu-img create -q -f qcow2 -b a.qcow2 -F qcow2 b.qcow2 && "
                          "qemu-img rebase -u -b b.qcow2 -F qcow2 a.qcow2", dir.path()));
  ASSERT_EQ(r.code, 0) << r.out;
  auto b = open_backend(dir.file("b.qcow2"), Format::Qcow2, {.read_only = true});
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().errnum(), ELOOP);
  EXPECT_NE(b.error().to_string().find("loops"), std::string::npos) << b.error().to_string();
  auto info = sh(fmt::format("{} info --backing-chain {}", test::vessel_img(), dir.file("b.qcow2")));
  EXPECT_EQ(info.code, 1);
  EXPECT_NE(info.out.find("loops"), std::string::npos) << info.out;
}

TEST(CorruptChain, SelfBackingAndMissingBacking) {
  TempDir dir;
  auto r = sh(fmt::format("cd {} && qemu-img create -q -f qcow2 s.qcow2 1M && qemu-img rebase -u -b s.qcow2 -F qcow2 s.qcow2 && "
                          "qemu-img create -q -f qcow2 m.qcow2 1M && qemu-img rebase -u -b gone.raw -F raw m.qcow2", dir.path()));
  ASSERT_EQ(r.code, 0) << r.out;
  auto s = open_backend(dir.file("s.qcow2"), Format::Qcow2, {.read_only = true});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().errnum(), ELOOP);
  auto m = open_backend(dir.file("m.qcow2"), Format::Qcow2, {.read_only = true});
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().errnum(), ENOENT);
  EXPECT_NE(m.error().to_string().find("gone.raw"), std::string::npos) << m.error().to_string();
}

}  // namespace
}  // namespace vessel::block
