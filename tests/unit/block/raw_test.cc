#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "block/block_backend.h"
#include "block/raw.h"

namespace vessel::block {
namespace {

class TempFile {
 public:
  explicit TempFile(uint64_t size) {
    char tmpl[] = "/tmp/vessel-raw-XXXXXX";
    int fd = mkstemp(tmpl);
    path_ = tmpl;
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
    close(fd);
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(RawBackend, WriteReadRoundTripWithScatterGather) {
  TempFile f(1 << 20);
  auto b = open_backend(f.path(), Format::Raw, {});
  ASSERT_TRUE(b) << b.error().to_string();
  EXPECT_EQ((*b)->size(), 1u << 20);
  std::string a(1000, 'a'), c(3000, 'c');
  iovec w[2] = {{a.data(), a.size()}, {c.data(), c.size()}};
  ASSERT_TRUE((*b)->writev(4096, w));
  ASSERT_TRUE((*b)->flush());
  std::vector<char> out(4000);
  iovec r[1] = {{out.data(), out.size()}};
  ASSERT_TRUE((*b)->readv(4096, r));
  EXPECT_EQ(std::string(out.begin(), out.begin() + 1000), a);
  EXPECT_EQ(std::string(out.begin() + 1000, out.end()), c);
}

TEST(RawBackend, RejectsOutOfBoundsAndOverflow) {
  TempFile f(8192);
  auto b = open_backend(f.path(), Format::Raw, {});
  ASSERT_TRUE(b);
  char buf[512];
  iovec v[1] = {{buf, sizeof buf}};
  EXPECT_FALSE((*b)->readv(8192 - 100, v));
  EXPECT_FALSE((*b)->readv(UINT64_MAX - 10, v));
  EXPECT_FALSE((*b)->writev(8192, v));
  EXPECT_FALSE((*b)->discard(4096, UINT64_MAX, true));
  EXPECT_TRUE((*b)->readv(8192 - 512, v));
}

TEST(RawBackend, ReadOnlyRefusesWrites) {
  TempFile f(8192);
  auto b = open_backend(f.path(), Format::Raw, {.read_only = true});
  ASSERT_TRUE(b);
  EXPECT_TRUE((*b)->read_only());
  char buf[512] = {};
  iovec v[1] = {{buf, sizeof buf}};
  auto w = (*b)->writev(0, v);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().errnum(), EROFS);
  EXPECT_FALSE((*b)->discard(0, 512, false));
}

TEST(RawBackend, DiscardPunchesHoleAndReadsZeros) {
  TempFile f(1 << 20);
  auto b = open_backend(f.path(), Format::Raw, {});
  ASSERT_TRUE(b);
  std::vector<char> data(1 << 20, 'x');
  iovec v[1] = {{data.data(), data.size()}};
  ASSERT_TRUE((*b)->writev(0, v));
  ASSERT_TRUE((*b)->flush());
  struct stat before {};
  stat(f.path().c_str(), &before);
  ASSERT_TRUE((*b)->discard(65536, 512 * 1024, true));
  struct stat after {};
  stat(f.path().c_str(), &after);
  EXPECT_LT(after.st_blocks, before.st_blocks);
  ASSERT_TRUE((*b)->readv(0, v));
  for (size_t i = 0; i < data.size(); ++i) {
    char want = (i >= 65536 && i < 65536 + 512 * 1024) ? 0 : 'x';
    ASSERT_EQ(data[i], want) << "at " << i;
  }
}

TEST(RawBackend, MissingFileIsAnError) {
  auto b = open_backend("/nonexistent/vessel.img", Format::Raw, {});
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().errnum(), ENOENT);
}

}  // namespace
}  // namespace vessel::block
