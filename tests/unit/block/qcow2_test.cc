#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <atomic>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "base/fd.h"
#include "block/image.h"
#include "block/img_ops.h"
#include "block/qcow2.h"
#include "block/qcow2_check.h"
#include "block/qcow2_create.h"
#include "test_util.h"

namespace vessel::block {
namespace {

using test::pattern;
using test::TempDir;

struct Config {
  uint32_t cluster_bits;
  uint32_t version;
  uint32_t refcount_order;
  qcow2::Compression compression;
};

std::string name_of(const Config& c) {
  return fmt::format("cs{}_v{}_rc{}_{}", 1u << c.cluster_bits, c.version, 1u << c.refcount_order,
                     c.compression == qcow2::Compression::Zstd ? "zstd" : "zlib");
}

class Qcow2Matrix : public ::testing::TestWithParam<Config> {};

void expect_clean(const std::string& path) {
  auto rep = qcow2::check(path, qcow2::Repair::None);
  ASSERT_TRUE(rep) << rep.error().to_string();
  EXPECT_EQ(rep->corruptions, 0u) << (rep->messages.empty() ? "" : rep->messages[0]);
  EXPECT_EQ(rep->leaks, 0u) << (rep->messages.empty() ? "" : rep->messages[0]);
}

// Random writes, zero-discards and compressed writes against a shadow buffer; reopen; compare.
TEST_P(Qcow2Matrix, RandomOpsMatchShadowAcrossReopen) {
  const Config c = GetParam();
  TempDir dir;
  std::string path = dir.file("d.qcow2");
  const uint64_t size = 4u << 20;
  qcow2::CreateOptions o{size, c.cluster_bits, c.version, c.refcount_order, c.compression, "", ""};
  ASSERT_TRUE(qcow2::create(path, o));
  std::vector<uint8_t> shadow(size, 0);
  std::mt19937_64 rng(c.cluster_bits * 131 + c.refcount_order);
  {
    auto img = Qcow2Backend::open(path, {}, nullptr);
    ASSERT_TRUE(img) << img.error().to_string();
    auto& q = **img;
    uint64_t cs = q.cluster_size();
    for (int i = 0; i < 150; ++i) {
      int op = static_cast<int>(rng() % 10);
      uint64_t off = (rng() % size) & ~511ull;
      uint64_t len = std::min<uint64_t>(size - off, 512 + (rng() % (96 * 1024)) / 512 * 512);
      if (op < 6) {
        auto data = pattern(len, rng());
        iovec v[2] = {{data.data(), len / 2}, {data.data() + len / 2, len - len / 2}};
        ASSERT_TRUE(q.writev(off, v)) << i;
        memcpy(&shadow[off], data.data(), len);
      } else if (op < 8) {
        ASSERT_TRUE(q.discard(off, len, true)) << i;
        memset(&shadow[off], 0, len);
      } else if (op == 8) {
        uint64_t coff = off & ~(cs - 1);
        if (coff + cs <= size) {
          auto data = pattern(cs, rng());
          memset(data.data() + cs / 2, 'z', cs / 2);  // half compressible
          ASSERT_TRUE(q.write_compressed(coff, data)) << i;
          memcpy(&shadow[coff], data.data(), cs);
        }
      } else {
        ASSERT_TRUE(q.flush());
      }
      if (i % 25 == 0) {
        std::vector<uint8_t> got(len);
        iovec v{got.data(), len};
        ASSERT_TRUE(q.readv(off, {&v, 1}));
        ASSERT_EQ(0, memcmp(got.data(), &shadow[off], len)) << "op " << i;
      }
    }
    ASSERT_TRUE(q.flush());
  }
  expect_clean(path);
  auto img = open_backend(path, Format::Qcow2, {.read_only = true});
  ASSERT_TRUE(img) << img.error().to_string();
  std::vector<uint8_t> got(size);
  iovec v{got.data(), size};
  ASSERT_TRUE((*img)->readv(0, {&v, 1}));
  for (uint64_t i = 0; i < size; i += 512)
    ASSERT_EQ(0, memcmp(&got[i], &shadow[i], 512)) << "sector at " << i;
}

INSTANTIATE_TEST_SUITE_P(
    Formats, Qcow2Matrix,
    ::testing::Values(Config{9, 3, 4, qcow2::Compression::Zlib}, Config{9, 3, 0, qcow2::Compression::Zstd},
                      Config{12, 2, 4, qcow2::Compression::Zlib}, Config{12, 3, 6, qcow2::Compression::Zstd},
                      Config{16, 3, 4, qcow2::Compression::Zlib}, Config{16, 3, 1, qcow2::Compression::Zlib},
                      Config{16, 2, 4, qcow2::Compression::Zlib}, Config{21, 3, 3, qcow2::Compression::Zstd},
                      Config{10, 3, 5, qcow2::Compression::Zlib}, Config{13, 3, 2, qcow2::Compression::Zstd}),
    [](const auto& info) { return name_of(info.param); });

TEST(Qcow2, RefcountTableGrowsForSmallClusters) {
  // 512-byte clusters with 64-bit refcounts: one refcount block covers 32 KiB, so filling 8 MiB
  // needs hundreds of blocks and a refcount table several times its initial size.
  TempDir dir;
  std::string path = dir.file("g.qcow2");
  qcow2::CreateOptions o{8u << 20, 9, 3, 6, qcow2::Compression::Zlib, "", ""};
  ASSERT_TRUE(qcow2::create(path, o));
  auto data = pattern(8u << 20, 7);
  {
    auto img = Qcow2Backend::open(path, {}, nullptr);
    ASSERT_TRUE(img);
    uint32_t before = (*img)->header().reftable_clusters;
    iovec v{data.data(), data.size()};
    ASSERT_TRUE((*img)->writev(0, {&v, 1}));
    ASSERT_TRUE((*img)->flush());
    EXPECT_GT((*img)->header().reftable_clusters, before);
  }
  expect_clean(path);
  auto img = open_backend(path, Format::Qcow2, {.read_only = true});
  ASSERT_TRUE(img);
  std::vector<uint8_t> got(data.size());
  iovec v{got.data(), got.size()};
  ASSERT_TRUE((*img)->readv(0, {&v, 1}));
  EXPECT_TRUE(got == data);
}

TEST(Qcow2, BackingChainReadsThroughAndCopiesOnWrite) {
  TempDir dir;
  std::string base = dir.file("base.raw"), mid = dir.file("mid.qcow2"), top = dir.file("top.qcow2");
  auto bdata = pattern(2u << 20, 1);
  ASSERT_TRUE(write_file(base, std::string(bdata.begin(), bdata.end())));
  ASSERT_TRUE(create_image({Format::Qcow2, mid, std::nullopt, "base.raw", Format::Raw, "cluster_size=4K"}));
  ASSERT_TRUE(create_image({Format::Qcow2, top, 3u << 20, "mid.qcow2", Format::Qcow2, ""}));
  {
    auto m = open_image(mid, Format::Qcow2, {});
    ASSERT_TRUE(m) << m.error().to_string();
    std::string s(1000, 'm');
    iovec v{s.data(), s.size()};
    ASSERT_TRUE((*m)->writev(5000, {&v, 1}));
  }
  auto t = open_image(top, Format::Qcow2, {});
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_EQ((*t)->size(), 3u << 20);
  std::string s(100, 't');
  iovec w{s.data(), s.size()};
  ASSERT_TRUE((*t)->writev(5100, {&w, 1}));
  std::vector<uint8_t> got(3u << 20);
  iovec r{got.data(), got.size()};
  ASSERT_TRUE((*t)->readv(0, {&r, 1}));
  auto want = bdata;
  want.resize(3u << 20, 0);
  memset(&want[5000], 'm', 1000);
  memset(&want[5100], 't', 100);
  EXPECT_TRUE(got == want);
  // Base untouched.
  auto b = read_file(base);
  ASSERT_TRUE(b);
  EXPECT_EQ(0, memcmp(b->data(), bdata.data(), bdata.size()));
}

TEST(Qcow2, BackingLoopIsAnError) {
  TempDir dir;
  std::string a = dir.file("a.qcow2"), b = dir.file("b.qcow2");
  ASSERT_TRUE(qcow2::create(a, {1u << 20, 16, 3, 4, qcow2::Compression::Zlib, "b.qcow2", "qcow2"}));
  ASSERT_TRUE(qcow2::create(b, {1u << 20, 16, 3, 4, qcow2::Compression::Zlib, "a.qcow2", "qcow2"}));
  auto img = open_image(a, Format::Qcow2, {.read_only = true});
  ASSERT_FALSE(img);
  EXPECT_EQ(img.error().errnum(), ELOOP);
}

TEST(Qcow2, CorruptBitForcesReadOnlyAndOverlapSetsIt) {
  TempDir dir;
  std::string path = dir.file("c.qcow2");
  ASSERT_TRUE(qcow2::create(path, {1u << 20, 16, 3, 4, qcow2::Compression::Zlib, "", ""}));
  {
    auto img = Qcow2Backend::open(path, {}, nullptr);
    ASSERT_TRUE(img);
    std::string s(512, 'x');
    iovec v{s.data(), s.size()};
    ASSERT_TRUE((*img)->writev(0, {&v, 1}));
  }
  // Point guest cluster 0 at the refcount table (cluster 1).
  auto fd = Fd::open(path, O_RDWR);
  ASSERT_TRUE(fd);
  uint8_t l1[8];
  ASSERT_TRUE(pread_exact(fd->get(), l1, 8, 3 * 65536));
  uint64_t l2 = qcow2::be64(l1) & qcow2::kOffsetMask;
  uint8_t e[8];
  qcow2::put_be64(e, 65536 | qcow2::kFlagCopied);
  ASSERT_TRUE(pwrite_all(fd->get(), e, 8, l2));
  {
    auto img = Qcow2Backend::open(path, {}, nullptr);
    ASSERT_TRUE(img);
    std::string s(512, 'y');
    iovec v{s.data(), s.size()};
    auto w = (*img)->writev(0, {&v, 1});
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().errnum(), EUCLEAN);
    EXPECT_NE(w.error().message().find("metadata"), std::string::npos);
    EXPECT_TRUE((*img)->read_only());
  }
  auto rw = Qcow2Backend::open(path, {}, nullptr);
  ASSERT_FALSE(rw);
  EXPECT_EQ(rw.error().errnum(), EROFS);
  EXPECT_TRUE(Qcow2Backend::open(path, {.read_only = true}, nullptr));
}

TEST(Qcow2, ResizeGrowsL1AndKeepsData) {
  TempDir dir;
  std::string path = dir.file("r.qcow2");
  ASSERT_TRUE(qcow2::create(path, {1u << 20, 9, 3, 4, qcow2::Compression::Zlib, "", ""}));
  auto data = pattern(1u << 20, 3);
  {
    auto img = Qcow2Backend::open(path, {}, nullptr);
    ASSERT_TRUE(img);
    iovec v{data.data(), data.size()};
    ASSERT_TRUE((*img)->writev(0, {&v, 1}));
    ASSERT_TRUE((*img)->resize(64u << 20));
    std::string s(512, 'e');
    iovec w{s.data(), s.size()};
    ASSERT_TRUE((*img)->writev((64u << 20) - 512, {&w, 1}));
  }
  expect_clean(path);
  auto img = open_backend(path, Format::Qcow2, {.read_only = true});
  ASSERT_TRUE(img);
  EXPECT_EQ((*img)->size(), 64u << 20);
  std::vector<uint8_t> got(1u << 20);
  iovec v{got.data(), got.size()};
  ASSERT_TRUE((*img)->readv(0, {&v, 1}));
  EXPECT_TRUE(got == data);
}

TEST(Qcow2, LeakIsReportedAndRepaired) {
  TempDir dir;
  std::string path = dir.file("l.qcow2");
  ASSERT_TRUE(qcow2::create(path, {1u << 20, 16, 3, 4, qcow2::Compression::Zlib, "", ""}));
  // Raise the refcount of a cluster inside the file that nobody references (cluster 10).
  auto fd = Fd::open(path, O_RDWR);
  ASSERT_TRUE(fd);
  ASSERT_EQ(ftruncate(fd->get(), 12 * 65536), 0);
  uint8_t one[2] = {0, 1};
  ASSERT_TRUE(pwrite_all(fd->get(), one, 2, 2 * 65536 + 10 * 2));
  auto rep = qcow2::check(path, qcow2::Repair::None);
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->leaks, 1u);
  EXPECT_EQ(rep->corruptions, 0u);
  rep = qcow2::check(path, qcow2::Repair::Leaks);
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->leaks_fixed, 1u);
  expect_clean(path);
}

TEST(ImgOps, ParseSize) {
  EXPECT_EQ(*parse_size("512"), 512u);
  EXPECT_EQ(*parse_size("64K"), 65536u);
  EXPECT_EQ(*parse_size("10G"), 10ull << 30);
  EXPECT_EQ(*parse_size("2T"), 2ull << 40);
  EXPECT_EQ(*parse_size("1024b"), 1024u);
  EXPECT_FALSE(parse_size(""));
  EXPECT_FALSE(parse_size("G"));
  EXPECT_FALSE(parse_size("10X"));
  EXPECT_FALSE(parse_size("10GG"));
  EXPECT_FALSE(parse_size("99999999999999999999"));
  EXPECT_FALSE(parse_size("16E"));
}

TEST(ImgOps, CreateOptions) {
  qcow2::CreateOptions o;
  ASSERT_TRUE(apply_create_options("cluster_size=4K,compat=0.10", o));
  EXPECT_EQ(o.cluster_bits, 12u);
  EXPECT_EQ(o.version, 2u);
  qcow2::CreateOptions z;
  ASSERT_TRUE(apply_create_options("compression_type=zstd,refcount_bits=64", z));
  EXPECT_EQ(z.compression, qcow2::Compression::Zstd);
  EXPECT_EQ(z.refcount_order, 6u);
  qcow2::CreateOptions bad;
  EXPECT_FALSE(apply_create_options("cluster_size=3000", bad));
  EXPECT_FALSE(apply_create_options("cluster_size=4M", bad));
  EXPECT_FALSE(apply_create_options("compat=0.10,compression_type=zstd", bad));
  EXPECT_FALSE(apply_create_options("refcount_bits=3", bad));
  EXPECT_FALSE(apply_create_options("nosuch=1", bad));
  EXPECT_FALSE(apply_create_options("cluster_size", bad));
}

}  // namespace
}  // namespace vessel::block

namespace vessel::block {
namespace {

TEST(Qcow2, ConcurrentWritersAndReadersOnDisjointRanges) {
  TempDir dir;
  std::string path = dir.file("t.qcow2");
  const uint64_t size = 8u << 20;
  ASSERT_TRUE(qcow2::create(path, {size, 12, 3, 4, qcow2::Compression::Zlib, "", ""}));
  auto img = Qcow2Backend::open(path, {}, nullptr);
  ASSERT_TRUE(img);
  auto& q = **img;
  const int kThreads = 4;
  const uint64_t slice = size / kThreads;
  std::vector<std::vector<uint8_t>> want(kThreads);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    want[t] = pattern(slice, 100 + t);
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      uint64_t base = t * slice;
      for (int i = 0; i < 300; ++i) {  // allocating writes, then overwrites in place, and reads
        uint64_t off = (rng() % (slice / 512)) * 512;
        uint64_t len = std::min<uint64_t>(slice - off, 512 * (1 + rng() % 64));
        iovec v{want[t].data() + off, len};
        if (!q.writev(base + off, {&v, 1})) failures++;
        std::vector<uint8_t> got(len);
        iovec r{got.data(), len};
        if (!q.readv(base + off, {&r, 1}) || memcmp(got.data(), want[t].data() + off, len) != 0) failures++;
        if (i % 50 == 0 && !q.flush()) failures++;
      }
      iovec all{want[t].data(), slice};  // finally the whole slice
      if (!q.writev(base, {&all, 1})) failures++;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(q.flush());
  img = Result<std::unique_ptr<Qcow2Backend>>();
  expect_clean(path);
  auto ro = open_backend(path, Format::Qcow2, {.read_only = true});
  ASSERT_TRUE(ro);
  for (int t = 0; t < kThreads; ++t) {
    std::vector<uint8_t> got(slice);
    iovec r{got.data(), slice};
    ASSERT_TRUE((*ro)->readv(t * slice, {&r, 1}));
    EXPECT_TRUE(got == want[t]) << "slice " << t;
  }
}

}  // namespace
}  // namespace vessel::block
